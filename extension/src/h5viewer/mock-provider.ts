/**
 * A DataProvider over an in-memory tree: the UI logic's tests run against it in Node.
 * It follows the server's rules (links, `@default` chains, selections, mean binning to
 * `maxPixels`) and counts the calls, so tests can check what the UI asked for.
 */
import { ProviderError, type DataProvider } from './provider.js';
import { binningFor, formatSelect, parseSelect, selectedShape, type SelItem } from './selection.js';
import type { Attr, Child, EntityMeta, NumArray, NxPlot, Slice, Values } from './types.js';

export type MockAttrs = Record<string, unknown>;
export interface MockGroup {
  kind: 'group';
  attrs?: MockAttrs;
  children: Record<string, MockNode>;
}
export interface MockDataset {
  kind: 'dataset';
  shape: number[];
  dtype: string;
  /** row-major values (numbers for numeric dtypes, anything for strings) */
  data: NumArray | unknown[];
  attrs?: MockAttrs;
}
export interface MockSoftLink {
  kind: 'soft';
  target: string;
}
export type MockNode = MockGroup | MockDataset | MockSoftLink;

export const group = (children: Record<string, MockNode>, attrs?: MockAttrs): MockGroup => ({ kind: 'group', children, attrs });
export const dataset = (shape: number[], dtype: string, data: NumArray | unknown[], attrs?: MockAttrs): MockDataset => ({ kind: 'dataset', shape, dtype, data, attrs });
export const soft = (target: string): MockSoftLink => ({ kind: 'soft', target });

const NUMERIC = new Set(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32']);

export class MockProvider implements DataProvider {
  readonly calls: string[] = [];

  constructor(
    private readonly root: MockGroup,
    readonly file = 'mock.h5',
  ) {}

  private lookup(path: string, depth = 0): MockGroup | MockDataset {
    if (!path.startsWith('/')) throw new ProviderError(`path: '${path}' must be absolute (start with /)`, 400, 'path');
    let node: MockNode = this.root;
    for (const name of path.split('/').filter(Boolean)) {
      if (node.kind !== 'group' || !(name in node.children)) throw new ProviderError(`path: ${path} does not exist in the file (or is a dangling link)`, 400, 'path');
      node = node.children[name];
      if (node.kind === 'soft') {
        if (depth > 8) throw new ProviderError(`path: ${path}: too many soft links`, 400, 'path');
        node = this.lookup(node.target, depth + 1);
      }
    }
    return node as MockGroup | MockDataset;
  }

  /** Attributes as the server lists them: arrays over 256 values summarised unless `full`. */
  private static attrList(attrs: MockAttrs | undefined, full = false): Attr[] {
    return Object.entries(attrs ?? {}).map(([name, value]) => {
      const a: Attr = { name, dtype: typeof value === 'string' ? 'string' : 'float64', shape: Array.isArray(value) ? [value.length] : [] };
      if (!full && Array.isArray(value) && value.length > 256) a.truncated = true;
      else a.value = value;
      return a;
    });
  }

  private describe(node: MockGroup | MockDataset): Omit<Child, 'name' | 'link'> {
    if (node.kind === 'group') {
      const d: Omit<Child, 'name' | 'link'> = { kind: 'group', nx_class: (node.attrs?.NX_class as string) ?? null };
      if (node.attrs?.default) d.default = String(node.attrs.default);
      return d;
    }
    return { kind: 'dataset', shape: node.shape, dtype: node.dtype };
  }

  async meta(path: string): Promise<EntityMeta> {
    this.calls.push(`meta ${path}`);
    const node = this.lookup(path);
    const name = path.split('/').filter(Boolean).pop() ?? '/';
    const m: EntityMeta = { path, name, ...this.describe(node), attrs: MockProvider.attrList(node.attrs) };
    if (node.kind === 'group') {
      m.children = Object.entries(node.children).map(([n, c]) => {
        if (c.kind === 'soft') {
          try {
            return { name: n, link: 'soft', target: c.target, ...this.describe(this.lookup(c.target)) };
          } catch {
            return { name: n, link: 'soft', target: c.target, kind: 'missing', error: 'the link target does not exist' };
          }
        }
        return { name: n, link: 'hard', ...this.describe(c) };
      });
    } else {
      m.ndim = node.shape.length;
    }
    return m;
  }

  async attrs(path: string): Promise<Attr[]> {
    this.calls.push(`attrs ${path}`);
    return MockProvider.attrList(this.lookup(path).attrs, true);
  }

  async nxDefault(path: string): Promise<NxPlot> {
    this.calls.push(`nxdefault ${path}`);
    let p = path;
    for (let hop = 0; hop < 16; hop++) {
      const node = this.lookup(p);
      if (node.kind !== 'group') return { path: null };
      if (node.attrs?.NX_class === 'NXdata') return this.nxdata(p, node);
      let next = node.attrs?.default as string | undefined;
      if (!next) {
        for (const want of ['NXentry', 'NXsubentry', 'NXdata']) {
          next = Object.keys(node.children).find((k) => {
            const c = node.children[k];
            return c.kind === 'group' && c.attrs?.NX_class === want;
          });
          if (next) break;
        }
      }
      if (!next) return { path: null };
      p = next.startsWith('/') ? next : `${p === '/' ? '' : p}/${next}`;
    }
    return { path: null };
  }

  private nxdata(path: string, g: MockGroup): NxPlot {
    const signal = String(g.attrs?.signal ?? '');
    const ds = this.lookup(`${path}/${signal}`);
    if (ds.kind !== 'dataset') throw new ProviderError(`path: ${path}: NXdata without a signal dataset`, 400, 'path');
    const names = (g.attrs?.axes as string[] | string | undefined) ?? [];
    const axes: NxPlot['axes'] = ds.shape.map(() => null);
    (Array.isArray(names) ? names : [names]).forEach((name, i) => {
      if (name === '.' || !(name in g.children)) return;
      const dim = g.attrs?.[`${name}_indices`] !== undefined ? Number(g.attrs[`${name}_indices`]) : i;
      const a = this.lookup(`${path}/${name}`) as MockDataset;
      axes[dim] = { name, path: `${path}/${name}`, shape: a.shape, units: (a.attrs?.units as string) ?? null, long_name: (a.attrs?.long_name as string) ?? null };
    });
    const errName = [`${signal}_errors`, 'errors'].find((e) => {
      const c = g.children[e];
      return c?.kind === 'dataset' && c.shape.join() === ds.shape.join();
    });
    return {
      path,
      signal: { name: signal, path: `${path}/${signal}`, shape: ds.shape, dtype: ds.dtype, units: (ds.attrs?.units as string) ?? null, long_name: (ds.attrs?.long_name as string) ?? null },
      axes,
      errors: errName ? `${path}/${errName}` : null,
      interpretation: ((ds.attrs?.interpretation ?? g.attrs?.interpretation) as string) ?? null,
      title: null,
    };
  }

  private dataset(path: string): MockDataset {
    const ds = this.lookup(path);
    if (ds.kind !== 'dataset') throw new ProviderError(`path: ${path} is a group, not a dataset`, 400, 'path');
    return ds;
  }

  /** The selected values, row-major, and the selection's shape. */
  private gather(ds: MockDataset, items: SelItem[]): { values: unknown[]; shape: number[] } {
    const shape = selectedShape(items);
    const strides = ds.shape.map((_, d) => ds.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const values: unknown[] = [];
    const walk = (dim: number, offset: number) => {
      if (dim === items.length) {
        values.push((ds.data as ArrayLike<unknown>)[offset]);
        return;
      }
      const it = items[dim];
      if (typeof it === 'number') walk(dim + 1, offset + it * strides[dim]);
      else for (let i = it.start; i < it.stop; i += it.step) walk(dim + 1, offset + i * strides[dim]);
    };
    walk(0, 0);
    return { values, shape };
  }

  async slice(path: string, select: string, maxPixels?: number): Promise<Slice> {
    this.calls.push(`slice ${path} ${select}${maxPixels ? ` ${maxPixels}` : ''}`);
    const ds = this.dataset(path);
    if (!NUMERIC.has(ds.dtype)) throw new ProviderError(`path: ${ds.dtype} data cannot be sent as a typed array: ask format=json`, 400, 'path');
    const items = parseSelect(select, ds.shape);
    const { values, shape } = this.gather(ds, items);
    const b = binningFor(shape, maxPixels);
    let out: NumArray;
    let outShape = shape;
    if (b === 1) {
      out = Float64Array.from(values as number[]);
    } else {
      ({ data: out, shape: outShape } = binMean(values as number[], shape, b));
    }
    return {
      header: {
        path,
        dtype: b === 1 ? 'float64' : 'float32',
        source_dtype: ds.dtype,
        shape: outShape,
        source_shape: ds.shape,
        select: formatSelect(items),
        selected_shape: shape,
        binning: b,
        method: b === 1 ? 'none' : 'mean',
        nbytes: out.byteLength,
      },
      data: out,
    };
  }

  async values(path: string, select?: string): Promise<Values> {
    this.calls.push(`values ${path}${select ? ` ${select}` : ''}`);
    const ds = this.dataset(path);
    if (ds.shape.length === 0) return { path, dtype: ds.dtype, shape: [], value: (ds.data as ArrayLike<unknown>)[0] };
    const { values, shape } = this.gather(ds, parseSelect(select, ds.shape));
    // nested lists, as the server's JSON
    const nest = (flat: unknown[], sh: number[]): unknown => {
      if (sh.length <= 1) return flat;
      const step = flat.length / sh[0];
      return Array.from({ length: sh[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), sh.slice(1)));
    };
    return { path, dtype: ds.dtype, shape, value: nest(values, shape) };
  }
}

/** Mean of b×…×b blocks, ragged edges averaging what is there (as reader.py's _bin_mean). */
export function binMean(values: ArrayLike<number>, shape: number[], b: number): { data: Float32Array; shape: number[] } {
  const outShape = shape.map((d) => Math.ceil(d / b));
  const n = outShape.reduce((a, c) => a * c, 1);
  const sums = new Float64Array(n);
  const counts = new Uint32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < values.length; k++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) o = o * outShape[d] + Math.floor(idx[d] / b);
    sums[o] += values[k];
    counts[o]++;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = sums[i] / Math.max(counts[i], 1);
  return { data, shape: outShape };
}
