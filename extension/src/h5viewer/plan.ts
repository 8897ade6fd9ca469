/**
 * How a dataset is shown: which dimensions are displayed (1 for a line, 2 for an image)
 * and which get a slider. Pure functions, unit tested in Node.
 */
import { lutBytes, normalize, percentileRange, type Colormap, type Scale } from '@daqlab/widgets/lib/src/colormap.js';

export type Mode = 'line' | 'image' | 'table' | 'scalar';

export interface Plan {
  mode: Mode;
  /** displayed dimensions, in order (line: [x]; image: [rows, cols]; table: [rows, cols?]) */
  displayed: number[];
  /** dimensions with a slider (all others) */
  sliders: number[];
  /** modes this dataset can be switched to */
  modes: Mode[];
}

const NUMERIC = /^(u?int(8|16|32|64)|float(16|32|64)|bool)$/;

export const isNumeric = (dtype: string | undefined): boolean => NUMERIC.test(dtype ?? '');

/** The images the viewer asks for are binned to at most this many pixels (1024²). */
export const MAX_IMAGE_PIXELS = 1024 * 1024;
/** Lines longer than this are binned too. */
export const MAX_LINE_POINTS = 65536;
/** The value table shows at most this many rows × columns. */
export const TABLE_ROWS = 200;
export const TABLE_COLS = 50;

/**
 * NeXus `interpretation` decides for N-D signals: `spectrum` → a line along the last
 * dimension, `image` (or none) → an image of the last two; `mode` overrides.
 */
export function planFor(shape: readonly number[] | null | undefined, dtype: string | undefined, interpretation?: string | null, mode?: Mode): Plan {
  const rank = shape?.length ?? 0;
  const all = (displayed: number[], m: Mode, modes: Mode[]): Plan => ({
    mode: m,
    displayed,
    sliders: Array.from({ length: rank }, (_, d) => d).filter((d) => !displayed.includes(d)),
    modes,
  });
  if (!shape || rank === 0) return all([], 'scalar', ['scalar']);
  if (!isNumeric(dtype)) return all(rank === 1 ? [0] : [rank - 2, rank - 1], 'table', ['table']);
  if (rank === 1) {
    const m = mode === 'table' ? 'table' : 'line';
    return all([0], m, ['line', 'table']);
  }
  const modes: Mode[] = ['image', 'line', 'table'];
  const chosen: Mode = mode && modes.includes(mode) ? mode : interpretation === 'spectrum' ? 'line' : 'image';
  return all(chosen === 'line' ? [rank - 1] : [rank - 2, rank - 1], chosen, modes);
}

/** The selection of the value table: at most TABLE_ROWS × TABLE_COLS of the displayed dims. */
export function tableSelect(shape: readonly number[], plan: Plan, indices: readonly number[]): string {
  return shape
    .map((n, d) => {
      const k = plan.displayed.indexOf(d);
      if (k < 0) return String(Math.min(Math.max(indices[d] ?? 0, 0), n - 1));
      const limit = plan.displayed.length === 1 || k === 0 ? TABLE_ROWS : TABLE_COLS;
      return `0:${Math.min(n, limit)}`;
    })
    .join(',');
}

/** An axis label from a name and NeXus units: `radial (1/nm)`. */
export function axisLabel(name: string | null | undefined, units: string | null | undefined, fallback: string): string {
  const n = name || fallback;
  return units ? `${n} (${units})` : n;
}

export interface ImageStyle {
  colormap: Colormap;
  scale: Scale;
  reverse?: boolean;
  /** fixed range; auto (1st–99.5th percentile) when absent */
  range?: [number, number];
}

/** Values ≥ this are detector gap/dummy pixels for the auto range (uint32 2^32−1 and near it once binned). */
export function gapThreshold(sourceDtype: string): number {
  return sourceDtype === 'uint32' ? 2 ** 31 : Infinity;
}

/**
 * Map an image through a colour table into RGBA bytes (`out`, 4 per pixel). One pass over
 * a typed array, a 256-entry table, no allocation per pixel.
 */
export function colorize(data: ArrayLike<number>, out: Uint8ClampedArray, style: ImageStyle, ignoreAbove = Infinity): [number, number] {
  const [vmin, vmax] = style.range ?? percentileRange(data, 1, 99.5, ignoreAbove);
  const lut = lutBytes(style.colormap, style.reverse);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const o = i * 4;
    if (!Number.isFinite(v)) {
      out[o] = out[o + 1] = out[o + 2] = 0;
      out[o + 3] = 0; // NaN: transparent
      continue;
    }
    const j = Math.round(normalize(v, vmin, vmax, style.scale) * 255) * 4;
    out[o] = lut[j];
    out[o + 1] = lut[j + 1];
    out[o + 2] = lut[j + 2];
    out[o + 3] = 255;
  }
  return [vmin, vmax];
}
