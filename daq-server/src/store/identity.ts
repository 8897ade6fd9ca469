/**
 * Scan identity defaults and validation, and the JSON size limit of info objects.
 *
 * Defaults: name 'scan', session 'default', proposal / sample / dataset / path ''.
 * `number`, when not given, is 1 + the highest number of any scan of the same session
 * (whatever its name, as in Bliss: scan numbers count per session). A given number is taken
 * as is (duplicates are allowed, and raise the session's counter when higher).
 */
import { DaqError, type FieldError } from '../protocol/errors.js';
import type { ScanIdentity } from '../protocol/index.js';

/** largest serialised info (scan or stream), in UTF-8 bytes: 1 MiB */
export const MAX_INFO_BYTES = 1024 * 1024;

export const IDENTITY_DEFAULTS: Omit<ScanIdentity, 'number'> = {
  name: 'scan',
  session: 'default',
  proposal: '',
  sample: '',
  dataset: '',
  path: '',
};

const STRING_FIELDS = ['name', 'session', 'proposal', 'sample', 'dataset', 'path'] as const;
const NON_EMPTY = new Set(['name', 'session']);

/** Check identity fields; returns the identity with defaults (number left undefined when not given). */
export function checkIdentity(input: unknown): Omit<ScanIdentity, 'number'> & { number?: number } {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new DaqError('ParameterError', 'identity: must be an object', [{ field: 'identity', message: 'must be an object' }]);
  }
  const given = input as Record<string, unknown>;
  const fields: FieldError[] = [];
  const out: Record<string, unknown> = { ...IDENTITY_DEFAULTS };
  for (const key of Object.keys(given)) {
    const value = given[key];
    if (value === undefined) continue;
    if ((STRING_FIELDS as readonly string[]).includes(key)) {
      if (typeof value !== 'string') fields.push({ field: `identity.${key}`, message: 'must be a string' });
      else if (NON_EMPTY.has(key) && value === '') fields.push({ field: `identity.${key}`, message: 'must not be empty' });
      else out[key] = value;
    } else if (key === 'number') {
      if (!(Number.isSafeInteger(value) && (value as number) >= 0)) fields.push({ field: 'identity.number', message: 'must be an integer ≥ 0' });
      else out.number = value;
    } else {
      fields.push({ field: `identity.${key}`, message: `unknown identity field (known: ${[...STRING_FIELDS, 'number'].join(', ')})` });
    }
  }
  if (fields.length) throw new DaqError('ParameterError', `invalid scan identity: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
  return out as Omit<ScanIdentity, 'number'> & { number?: number };
}

/**
 * A JSON-normalised copy of an info object, or ParameterError naming `field` when it is not a
 * plain object, not JSON, or larger than MAX_INFO_BYTES serialised.
 */
export function checkInfo(info: unknown, field = 'info'): Record<string, unknown> {
  return checkInfoSized(info, field).value;
}

/** checkInfo, and the size of the info serialised (UTF-8 bytes of its JSON: what the memory budget counts). */
export function checkInfoSized(info: unknown, field = 'info'): { value: Record<string, unknown>; bytes: number } {
  if (info === undefined) return { value: {}, bytes: 2 };
  const fail = (message: string): never => {
    throw new DaqError('ParameterError', `${field}: ${message}`, [{ field, message }]);
  };
  if (info === null || typeof info !== 'object' || Array.isArray(info)) fail('must be a JSON object');
  let json: string;
  try {
    json = JSON.stringify(info);
  } catch (e) {
    return fail(`not JSON-serialisable (${e instanceof Error ? e.message : String(e)})`);
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_INFO_BYTES) fail(`${bytes} bytes serialised as JSON, more than the limit of ${MAX_INFO_BYTES} bytes (1 MiB)`);
  return { value: JSON.parse(json) as Record<string, unknown>, bytes };
}

/** Size of a JSON value serialised (UTF-8 bytes), 0 when it cannot be. */
export function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return 0;
  }
}
