/** Typed errors: every failure a client sees has one of these types and says why. */

export const ERROR_TYPES = [
  /** one or more parameters are wrong; `fields` names each */
  'ParameterError',
  /** the operation is not allowed in the current state */
  'StateError',
  /** the index was there but has been trimmed from memory */
  'IndexNoMoreThereError',
  /** the index is not there yet (the stream is still growing) */
  'IndexNotYetThereError',
  /** the index will never be there (beyond the end of a sealed stream) */
  'IndexWontBeThereError',
  /** unknown detector, acquisition, scan, stream or subscription */
  'NotFoundError',
  /** the message itself is malformed (bad JSON, unknown op, too large) */
  'ProtocolError',
  /** missing or wrong token */
  'AuthError',
  /** a blocking call ran out of time */
  'TimeoutError',
  /** the detector or a receiver failed */
  'FaultError',
  /** no Slurm cluster is configured, or slurmctld cannot be reached (`configured` says which) */
  'SlurmUnavailable',
  /** a per-connection limit was reached (subscriptions, requests in flight); `limit` names it */
  'LimitError',
  /** a bug: reported, and the server keeps serving */
  'InternalError',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export interface FieldError {
  /** dotted path of the offending field, e.g. `acquisition.expo_time` */
  field: string;
  message: string;
}

export interface ErrorBody {
  type: ErrorType;
  message: string;
  fields?: FieldError[];
  [extra: string]: unknown;
}

/** An error carrying its wire type; thrown anywhere in the server, serialised by the API. */
export class DaqError extends Error {
  readonly type: ErrorType;
  readonly fields?: FieldError[];
  readonly extra: Record<string, unknown>;

  constructor(type: ErrorType, message: string, fields?: FieldError[], extra: Record<string, unknown> = {}) {
    super(message);
    this.name = type;
    this.type = type;
    this.fields = fields;
    this.extra = extra;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { ...this.extra, type: this.type, message: this.message };
    if (this.fields) body.fields = this.fields;
    return body;
  }
}

export const parameterError = (fields: FieldError[], context = 'invalid parameters'): DaqError =>
  new DaqError(
    'ParameterError',
    `${context}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
    fields,
  );

/** Convert anything thrown into a wire error body, without leaking stack traces. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof DaqError) return err.toBody();
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'InternalError', message };
}
