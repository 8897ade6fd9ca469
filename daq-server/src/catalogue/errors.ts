import { DaqError, type ErrorType } from '../protocol/index.js';

/** An error naming its field; the field's message is the sentence without the field (clients list the fields). */
export function err(type: ErrorType, message: string, field: string): DaqError {
  const prefix = `${field}: `;
  return new DaqError(type, message, [{ field, message: message.startsWith(prefix) ? message.slice(prefix.length) : message }]);
}
