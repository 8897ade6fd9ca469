/**
 * Colour mapping of detector images, kept free of DOM and WebGL so it is unit
 * tested in Node. The fragment shader in liveimage/renderer.ts implements `normalize`
 * with the same formulas; `lutBytes` builds the colormap texture.
 */
import { LUT_HEX } from './luts.js';

export const COLORMAPS = ['viridis', 'magma', 'inferno', 'gray'] as const;
export type Colormap = (typeof COLORMAPS)[number];

export const SCALES = ['linear', 'log', 'sqrt'] as const;
export type Scale = (typeof SCALES)[number];

/** Shader code of each scale (uniform int `scale`). */
export const SCALE_CODE: Record<Scale, number> = { linear: 0, log: 1, sqrt: 2 };

/** RGBA bytes of a 256-entry colour table (a 256×1 texture), optionally reversed. */
export function lutBytes(name: Colormap, reverse = false): Uint8Array {
  const out = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const j = reverse ? 255 - i : i;
    if (name === 'gray') {
      out.set([j, j, j, 255], i * 4);
    } else {
      const hex = LUT_HEX[name];
      for (let c = 0; c < 3; c++) out[i * 4 + c] = parseInt(hex.substr(j * 6 + c * 2, 2), 16);
      out[i * 4 + 3] = 255;
    }
  }
  return out;
}

/**
 * Map a value to [0, 1] between vmin and vmax. `log` and `sqrt` work on the
 * offset from vmin, so they need no positive vmin and stay monotonic.
 */
export function normalize(v: number, vmin: number, vmax: number, scale: Scale): number {
  const span = Math.max(vmax - vmin, 1e-12);
  const x = Math.min(Math.max(v - vmin, 0), span);
  switch (scale) {
    case 'log':
      return Math.log1p(x) / Math.log1p(span);
    case 'sqrt':
      return Math.sqrt(x / span);
    default:
      return x / span;
  }
}

/**
 * Auto range: the `lo`/`hi` percentiles of a sample of at most `maxSamples`
 * values. Values at or above `ignoreAbove` are left out: DECTRIS-style gap
 * pixels carry the type's largest value (2^32 − 1, and near it once binned),
 * which would otherwise swamp the top of the range.
 */
export function percentileRange(
  data: ArrayLike<number>,
  lo = 1,
  hi = 99.5,
  ignoreAbove = Infinity,
  maxSamples = 65536,
): [number, number] {
  const step = Math.max(1, Math.floor(data.length / maxSamples));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += step) {
    const v = data[i];
    if (Number.isFinite(v) && v < ignoreAbove) sample.push(v);
  }
  if (sample.length === 0) return [0, 1];
  const s = Float64Array.from(sample).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))))];
  let [a, b] = [at(lo), at(hi)];
  if (!(b > a)) b = a + 1; // a flat image still gets a usable range
  return [a, b];
}

/** Values at or above this are treated as gap/dummy pixels for a dtype (see percentileRange). */
export function dummyThreshold(dtype: string): number {
  return dtype === 'uint32' ? 2 ** 31 : Infinity;
}

/** Smallest binning factor that brings an image's larger side to at most `maxSize` pixels. */
export function fitBinning(rows: number, cols: number, maxSize: number): number {
  return Math.max(1, Math.ceil(Math.max(rows, cols) / Math.max(1, maxSize)));
}

/** Colour bar tick labels: compact numbers (counts can reach 1e9). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-2)) return v.toExponential(2);
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
