/**
 * Pure helpers of the Volume3D view, free of DOM and WebGL so they are unit
 * tested in Node: level-of-detail sizes, float16 packing of the 3D texture,
 * the opacity ramp and step correction (the shader in volume-shader.ts uses the
 * same formulas), and value ↔ normalised-texture conversions.
 */

/** (z, y, x) */
export type Vec3i = [number, number, number];

/**
 * Per-axis block sizes of the level of detail: each side at most `maxSize`
 * voxels and the whole at most `maxBytes` (`itemSize` bytes a voxel); the
 * longest LOD side shrinks first. Same rule as `lod_factors` in
 * kernel-bridge/daqlab/volume.py.
 */
export function lodFactors(shape: Vec3i, maxSize = 256, maxBytes = 64 * 2 ** 20, itemSize = 2): Vec3i {
  const f = shape.map((n) => Math.max(1, Math.ceil(n / Math.max(1, maxSize)))) as Vec3i;
  const sizes = () => shape.map((n, i) => Math.ceil(n / f[i]));
  for (;;) {
    const s = sizes();
    if (s[0] * s[1] * s[2] * itemSize <= maxBytes) return f;
    const a = s.indexOf(Math.max(...s));
    f[a]++;
  }
}

/**
 * LOD layout of a server stream of 2D slices: the server sum-bins both image
 * axes by one factor (and drops the remainder), and the view takes every
 * `every`-th slice along z.
 */
export function streamLod(shape: Vec3i, maxSize = 256, maxBytes = 64 * 2 ** 20): { every: number; binning: number; lodShape: Vec3i } {
  const f = lodFactors(shape, maxSize, maxBytes);
  const binning = Math.max(f[1], f[2]);
  const every = f[0];
  return {
    every,
    binning,
    lodShape: [Math.ceil(shape[0] / every), Math.max(1, Math.floor(shape[1] / binning)), Math.max(1, Math.floor(shape[2] / binning))],
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number (round to nearest even; overflow → ±Inf, NaN kept). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000; // subnormal half: shift the implicit 1 in
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
  return h;
}

/** The number a binary16 bit pattern holds. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** (v − lo)/(hi − lo) as float16 bits into `out` at `offset`; NaN → −1 (missing: below any threshold). */
export function packNormalised(src: ArrayLike<number>, lo: number, hi: number, out: Uint16Array, offset = 0, scale = 1): void {
  const inv = 1 / (hi > lo ? hi - lo : 1);
  const minus1 = toHalf(-1);
  for (let i = 0; i < src.length; i++) {
    const v = src[i] * scale;
    out[offset + i] = v === v ? toHalf((v - lo) * inv) : minus1;
  }
}

/** Finite [min, max] of values (scaled), merged into `acc`. */
export function extendRange(src: ArrayLike<number>, acc: [number, number], scale = 1): [number, number] {
  let [lo, hi] = acc;
  for (let i = 0; i < src.length; i++) {
    const v = src[i] * scale;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Value → position in the normalised texture space of a LOD whose data range is [lo, hi]. */
export function toTexture(v: number, lo: number, hi: number): number {
  return (v - lo) / (hi > lo ? hi - lo : 1);
}

/**
 * Opacity of one sample in composite mode: a linear ramp from 0 at vmin to
 * `opacity` at vmax (t is the sample normalised to [vmin, vmax]).
 */
export function rampOpacity(t: number, opacity: number): number {
  return opacity * Math.min(Math.max(t, 0), 1);
}

/**
 * Opacity per ray step: `alpha` is defined per LOD voxel; a step of
 * `stepRatio` voxels must absorb as much as `stepRatio` voxels would:
 * 1 − (1 − α)^stepRatio (so the picture does not depend on the sampling rate).
 */
export function correctOpacity(alpha: number, stepRatio: number): number {
  return 1 - Math.pow(1 - Math.min(Math.max(alpha, 0), 1), stepRatio);
}

/** Front-to-back compositing of samples (value normalised to [vmin, vmax]); returns the accumulated alpha. */
export function compositeAlpha(samples: ArrayLike<number>, opacity: number, stepRatio: number): number {
  let a = 0;
  for (let i = 0; i < samples.length && a < 0.99; i++) {
    const s = correctOpacity(rampOpacity(samples[i], opacity), stepRatio);
    a += (1 - a) * s;
  }
  return a;
}

/**
 * Where voxel (row, col) of a slice lands on a canvas when the 2D slice view
 * fits a rows × cols image (pixel aspect `aspect` = row size / col size) into
 * width × height, centred: the screen pixel of the voxel's centre.
 */
export function sliceToScreen(row: number, col: number, rows: number, cols: number, width: number, height: number, aspect = 1): { x: number; y: number; scale: number } {
  const h = rows * aspect;
  const scale = Math.min(width / cols, height / h);
  const x0 = (width - cols * scale) / 2;
  const y0 = (height - h * scale) / 2;
  return { x: x0 + (col + 0.5) * scale, y: y0 + (row + 0.5) * aspect * scale, scale };
}

/** Number of elements a shape holds. */
export const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
