/**
 * Bounds on JSON a client sends: nesting depth (a deeply nested value breaks
 * recursive JSON decoders, Python's json among them, in every client it is
 * broadcast to) and size. The walk is iterative, so no value can exhaust the stack here.
 */
import { DaqError, MAX_INFO_BYTES, MAX_JSON_DEPTH, type FieldError } from '../protocol/index.js';

/** True when `value` nests more than `max` levels (each object or array is one level). */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** The problem with a user JSON value kept by the server (stored or broadcast), or null. */
export function userJsonProblem(value: unknown, field: string, maxBytes: number | null = MAX_INFO_BYTES): FieldError | null {
  if (value === undefined) return null;
  if (deeperThan(value, MAX_JSON_DEPTH)) return { field, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
  if (maxBytes !== null) {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes > maxBytes) return { field, message: `is ${bytes} bytes as JSON; at most ${maxBytes} are kept` };
  }
  return null;
}

/** Throw a ParameterError naming every field whose user JSON is out of bounds. */
export function checkUserJson(fields: [field: string, value: unknown, maxBytes?: number | null][], context: string): void {
  const errors = fields.map(([f, v, max]) => userJsonProblem(v, f, max)).filter((e): e is FieldError => e !== null);
  if (errors.length) {
    throw new DaqError('ParameterError', `${context}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
}
