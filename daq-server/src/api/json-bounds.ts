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

/**
 * True when JSON text nests more than `max` levels, found by scanning the text before parsing it: a
 * megabyte of brackets costs JSON.parse ~100 ms of the event loop, the scan ~1 ms. Brackets inside
 * strings do not count. (Text that is not JSON is left to JSON.parse to refuse.)
 */
export function textDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/** The request id at the start of a control message's text, when it is plainly there (for replies to messages not parsed). */
export function leadingId(text: string): number | string | null {
  const m = /^\s*\{\s*"id"\s*:\s*(-?\d+(?:\.\d+)?|"[^"\\]{1,128}")\s*[,}]/.exec(text.slice(0, 200));
  if (!m) return null;
  return m[1].startsWith('"') ? m[1].slice(1, -1) : Number(m[1]);
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
