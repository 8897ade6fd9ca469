/** Typed extraction of request fields: a wrong field is a ParameterError that names it. */
import { DaqError } from '../protocol/index.js';
import { checkFrameStatsParam } from '../protocol/frame-stats.js';

type Fields = Record<string, unknown>;

function bad(field: string, message: string): DaqError {
  return new DaqError('ParameterError', `${field}: ${message}`, [{ field, message }]);
}

const PREVIEW_CHARS = 120;
const PREVIEW_DEPTH = 4;

/**
 * A short rendering of a client's value for an error message: bounded in length and depth, so a
 * megabyte string or JSON nested 100,000 deep is named in a line (JSON.stringify would echo it whole,
 * or overflow the stack), and Infinity reads as Infinity, not null.
 */
export function preview(value: unknown, max = PREVIEW_CHARS): string {
  let left = max;
  const leaf = (s: string): string => {
    left -= s.length;
    return s;
  };
  const render = (v: unknown, depth: number): string => {
    if (left <= 0) return '…';
    if (v === null || typeof v === 'boolean' || typeof v === 'number') return leaf(String(v));
    if (typeof v === 'string') return leaf(JSON.stringify(v.length > left ? `${v.slice(0, left)}…` : v));
    if (typeof v !== 'object') return leaf(typeof v);
    const entries: [string | null, unknown][] = Array.isArray(v) ? v.map((x) => [null, x]) : Object.entries(v);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) return leaf(open + close);
    if (depth >= PREVIEW_DEPTH) return leaf(`${open}…${close}`);
    const parts: string[] = [];
    for (const [key, x] of entries) {
      if (left <= 0) {
        parts.push('…');
        break;
      }
      parts.push(key === null ? render(x, depth + 1) : `${leaf(JSON.stringify(key.slice(0, left)))}:${render(x, depth + 1)}`);
    }
    return open + parts.join(',') + close;
  };
  const text = render(value, 0);
  return text.length > max + 2 ? `${text.slice(0, max)}…` : text;
}

const describe = (v: unknown): string => (v === undefined ? 'missing' : `got ${preview(v)}`);

export function str(req: Fields, field: string): string;
export function str(req: Fields, field: string, fallback: string | null): string | null;
export function str(req: Fields, field: string, fallback?: string | null): string | null {
  const v = req[field];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v.length === 0) throw bad(field, `must be a non-empty string, ${describe(v)}`);
  return v;
}

export function int(req: Fields, field: string): number;
export function int(req: Fields, field: string, fallback: number | null, min?: number): number | null;
export function int(req: Fields, field: string, fallback?: number | null, min = Number.NEGATIVE_INFINITY): number | null {
  const v = req[field];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(field, `must be an integer, ${describe(v)}`);
  if (v < min) throw bad(field, `must be ≥ ${min}, got ${v}`);
  return v;
}

export function num(req: Fields, field: string, fallback: number | null, min = 0): number | null {
  const v = req[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(field, `must be a number, ${describe(v)}`);
  if (v < min) throw bad(field, `must be ≥ ${min}, got ${v}`);
  return v;
}

export function bool(req: Fields, field: string, fallback: boolean): boolean {
  const v = req[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw bad(field, `must be true or false, ${describe(v)}`);
  return v;
}

export function oneOf<T extends string>(req: Fields, field: string, allowed: readonly T[], fallback: T): T {
  const v = req[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw bad(field, `must be one of ${allowed.join(', ')}, ${describe(v)}`);
  return v as T;
}

export function roi(req: Fields, field = 'roi'): [number, number, number, number] | null {
  const v = req[field];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isSafeInteger(x))) {
    throw bad(field, `must be [row0, col0, rows, cols] (4 integers), ${describe(v)}`);
  }
  return v as [number, number, number, number];
}

/** `frame_stats`: two percentiles [lo, hi] (frame-stats.ts), or null when not asked. */
export function frameStatsParam(req: Fields, field = 'frame_stats'): [number, number] | null {
  const { value, error } = checkFrameStatsParam(req[field]);
  if (error) throw bad(field, error);
  return value;
}

export function object(req: Fields, field: string): Record<string, unknown> | undefined {
  const v = req[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, `must be an object, ${describe(v)}`);
  return v as Record<string, unknown>;
}
