/**
 * Store streams as HDF5 content: array streams as one dataset of their items,
 * event streams as one column per field (numbers, booleans, strings; nested
 * values as JSON text). Used for the master's results and the sparse file.
 */
import type { TypedArray } from '../protocol/index.js';
import type { ArrayStream, EventStream } from '../store/types.js';
import type { H5Group } from './hdf5/index.js';
import { h5dtype } from './dtypes.js';

export type Column = { kind: 'int'; values: number[] } | { kind: 'float'; values: number[] } | { kind: 'bool'; values: number[] } | { kind: 'text'; values: string[] };

/** Columns of a list of events: one per field seen in any event (missing → 0 / NaN / ""). */
export function eventColumns(events: unknown[]): Map<string, Column> {
  const kinds = new Map<string, Column['kind']>();
  for (const e of events) {
    if (e === null || typeof e !== 'object') continue;
    for (const [k, v] of Object.entries(e as Record<string, unknown>)) {
      const prev = kinds.get(k);
      let kind: Column['kind'];
      if (typeof v === 'number') kind = Number.isInteger(v) && prev !== 'float' ? 'int' : 'float';
      else if (typeof v === 'boolean') kind = 'bool';
      else kind = 'text';
      if (prev && prev !== kind) kind = prev === 'text' || kind === 'text' ? 'text' : 'float';
      kinds.set(k, kind);
    }
  }
  const cols = new Map<string, Column>();
  for (const [k, kind] of kinds) {
    const values: (number | string)[] = [];
    for (const e of events) {
      const v = e !== null && typeof e === 'object' ? (e as Record<string, unknown>)[k] : undefined;
      if (kind === 'text') values.push(v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v, toPlain));
      else if (kind === 'bool') values.push(v ? 1 : 0);
      else values.push(typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : kind === 'int' ? 0 : NaN);
    }
    cols.set(k, { kind, values } as Column);
  }
  return cols;
}

/** typed arrays become lists in JSON text */
const toPlain = (_k: string, v: unknown): unknown => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v);

/** Write columns into a group: ints as int64, floats as float64, booleans as uint8, text as strings. */
export function writeColumns(g: H5Group, cols: Map<string, Column>, units?: Record<string, string>): void {
  for (const [name, c] of cols) {
    const attrs = units?.[name] ? { units: units[name] } : undefined;
    if (c.kind === 'text') g.dataset(name, c.values, { attrs });
    else if (c.kind === 'int') g.dataset(name, BigInt64Array.from(c.values, (v) => BigInt(v)), { dtype: 'i8', attrs });
    else if (c.kind === 'bool') g.dataset(name, Uint8Array.from(c.values), { dtype: 'u1', attrs });
    else g.dataset(name, Float64Array.from(c.values), { dtype: 'f8', attrs });
  }
}

/** All items of an array stream still in memory, back to back, and how many were trimmed before. */
export function arrayItems(s: ArrayStream, which: 'all' | 'last'): { data: TypedArray; count: number; trimmed: number } | null {
  if (s.length === 0) return null;
  const from = which === 'last' ? s.length - 1 : s.first;
  const { items } = s.slice(from);
  const T = items[0].constructor as new (n: number) => TypedArray;
  const per = items[0].length;
  const out = new T(per * items.length);
  items.forEach((it, k) => out.set(it as never, k * per));
  return { data: out, count: items.length, trimmed: which === 'last' ? 0 : s.first };
}

export function eventItems(s: EventStream): { events: unknown[]; trimmed: number } {
  return { events: s.length > s.first ? s.slice(s.first).items : [], trimmed: s.first };
}

/** One array stream as a dataset: [n, ...shape] for per-frame items, the item alone otherwise. */
export function writeArrayStream(g: H5Group, name: string, s: ArrayStream, perFrame: boolean, attrs: Record<string, string | number> = {}): boolean {
  const got = arrayItems(s, perFrame ? 'all' : 'last');
  if (!got) return false;
  const shape = perFrame ? [got.count, ...s.shape] : [...s.shape];
  g.dataset(name, got.data, { shape, dtype: h5dtype(s.dtype).code, attrs: { ...attrs, ...(got.trimmed ? { first_index: got.trimmed } : {}) } });
  return true;
}

/**
 * A per-frame table stream (items [rows, columns], `info.columns` naming the columns, e.g.
 * `roi_stats`: one row per ROI, columns sum … max) as an NXdata of 1-D columns, one dataset a
 * row and column (`roi0_sum` …), so viewers plot and label each statistic by name: the first
 * is the signal, the others `auxiliary_signals`, on the axis `index` (items in stream order).
 * Returns false (nothing written) for a stream without named columns or items.
 */
export function writeColumnsPlot(g: H5Group, s: ArrayStream, rowNames: string[]): boolean {
  const columns = Array.isArray(s.info.columns) ? (s.info.columns as unknown[]).map(String) : [];
  const got = arrayItems(s, 'all');
  if (!got || s.shape.length !== 2 || columns.length !== s.shape[1]) return false;
  const [rows, cols] = s.shape;
  const names: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = rowNames[r] ?? `row${r}`;
    for (let c = 0; c < cols; c++) {
      const name = `${row}_${columns[c]}`;
      const values = Float64Array.from({ length: got.count }, (_, k) => Number(got.data[(k * rows + r) * cols + c]));
      g.dataset(name, values, { dtype: 'f8', attrs: { long_name: `${columns[c]} of ${row}` } });
      names.push(name);
    }
  }
  writeIndexAxis(g, got.trimmed, got.count);
  g.attrs({ signal: names[0], auxiliary_signals: names.slice(1), axes: ['index'], index_indices: 0 });
  return true;
}

/**
 * The axis of a per-frame NXdata's first dimension: `index`, items in stream order (the first
 * `first` trimmed from memory before saving), labelled `index (frame)` by viewers (no long_name).
 */
export function writeIndexAxis(g: H5Group, first: number, count: number): void {
  g.dataset('index', Float64Array.from({ length: count }, (_, k) => first + k), { dtype: 'i8', attrs: { units: 'frame' } });
}

/** `writeIndexAxis` for the items of an array stream still in memory (what writeArrayStream saves). */
export function writeStreamIndexAxis(g: H5Group, s: ArrayStream): void {
  writeIndexAxis(g, s.first, s.length - s.first);
}
