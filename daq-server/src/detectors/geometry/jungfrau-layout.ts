/**
 * PSI Jungfrau module layout and the raw → assembled pixel mapping.
 *
 * A module is read out as 512 × 1024 raw pixels: 2 × 4 chips of 256 × 256.
 * Pixels on the chip borders inside a module are larger on the sensor:
 * the raw rows 255 and 256, and the raw columns 255|256, 511|512, 767|768
 * are double size (150 µm), the four pixels at chip corners where both
 * apply are quadruple size. Assembled, each double pixel becomes two
 * 75 µm pixels (each receiving half of the raw value), so a module is
 * 514 × 1030 assembled pixels:
 *
 *   raw row r    → assembled row  r (r < 255), 255–256 (r = 255), 257–258 (r = 256), r + 2 (r > 256)
 *   raw col c    → chip k = c >> 8, assembled col c + 2k, double at c % 256 = 255 (k < 3, takes c+2k and c+2k+1)
 *                  and at c % 256 = 0 (k > 0, takes c+2k−1 and c+2k)
 *
 * Modules are placed on a grid of `moduleGrid` [rows, cols] with gaps of
 * `gap` [rows, cols] assembled pixels between them; module m sits at grid
 * position (⌊m / cols⌋, m mod cols), all in the same orientation (no
 * flips). The Jungfrau 4M is 4 × 2 modules with gaps of 36 rows and 8
 * columns: 2164 × 2068 assembled pixels. Raw frames are
 * [modules, 512, 1024], row-major, module m at offset m·512·1024.
 */
import type { PixelPositions } from './pyfai-geometry.js';

export const JF_MODULE_RAW_ROWS = 512;
export const JF_MODULE_RAW_COLS = 1024;
export const JF_CHIP = 256;
export const JF_MODULE_ROWS = 514;
export const JF_MODULE_COLS = 1030;

export interface JungfrauLayout {
  readonly name: string;
  readonly nModules: number;
  /** modules per column and per row of the module grid: [rows, cols] */
  readonly moduleGrid: [number, number];
  /** gaps between modules in assembled pixels: [rows, cols] */
  readonly gap: [number, number];
  /** raw frame shape [modules, 512, 1024] */
  readonly rawShape: [number, number, number];
  /** assembled image shape [rows, cols] */
  readonly imageShape: [number, number];
  /** top-left assembled pixel [row, col] of each module */
  readonly moduleOrigins: ReadonlyArray<readonly [number, number]>;
}

export function makeJungfrauLayout(name: string, moduleGrid: [number, number], gap: [number, number]): JungfrauLayout {
  const [gr, gc] = moduleGrid;
  const origins: [number, number][] = [];
  for (let m = 0; m < gr * gc; m++) {
    origins.push([Math.floor(m / gc) * (JF_MODULE_ROWS + gap[0]), (m % gc) * (JF_MODULE_COLS + gap[1])]);
  }
  return {
    name,
    nModules: gr * gc,
    moduleGrid: [gr, gc],
    gap: [gap[0], gap[1]],
    rawShape: [gr * gc, JF_MODULE_RAW_ROWS, JF_MODULE_RAW_COLS],
    imageShape: [gr * JF_MODULE_ROWS + (gr - 1) * gap[0], gc * JF_MODULE_COLS + (gc - 1) * gap[1]],
    moduleOrigins: origins,
  };
}

/** Jungfrau 4M: 8 modules, 4 rows × 2 columns, gaps 36 rows / 8 columns → 2164 × 2068. */
export const JUNGFRAU_4M: JungfrauLayout = makeJungfrauLayout('Jungfrau 4M', [4, 2], [36, 8]);

/** First assembled row (within the module) of raw row r, and how many assembled rows it covers. */
export function rawRowSpan(r: number): [start: number, size: number] {
  if (r < 255) return [r, 1];
  if (r === 255) return [255, 2];
  if (r === 256) return [257, 2];
  return [r + 2, 1];
}

/** First assembled column (within the module) of raw column c, and how many assembled columns it covers. */
export function rawColSpan(c: number): [start: number, size: number] {
  const k = c >> 8;
  const w = c & 255;
  if (w === 255 && k < 3) return [c + 2 * k, 2];
  if (w === 0 && k > 0) return [c + 2 * k - 1, 2];
  return [c + 2 * k, 1];
}

/** Pixel lookup tables between raw frames and the assembled image (computed once per layout). */
export interface AssemblyMap {
  layout: JungfrauLayout;
  /** per assembled pixel: flat raw index (m·512·1024 + r·1024 + c), or −1 in the gaps between modules */
  rawIndex: Int32Array;
  /** per assembled pixel: the share of its raw pixel's signal it receives (1, 1/2, 1/4; 0 in gaps) */
  weight: Float32Array;
  /** per raw pixel: first assembled flat index it covers */
  imageIndex: Int32Array;
  /** per raw pixel: number of assembled rows / cols it covers (1 or 2) */
  rowSpan: Uint8Array;
  colSpan: Uint8Array;
  /** per assembled pixel: 1 in the gaps between modules */
  gapMask: Uint8Array;
}

const maps = new WeakMap<JungfrauLayout, AssemblyMap>();

/** The (cached) raw ↔ assembled lookup tables of a layout. */
export function assemblyMap(layout: JungfrauLayout): AssemblyMap {
  const cached = maps.get(layout);
  if (cached) return cached;
  const [rows, cols] = layout.imageShape;
  const nImg = rows * cols;
  const nRaw = layout.nModules * JF_MODULE_RAW_ROWS * JF_MODULE_RAW_COLS;
  const rawIndex = new Int32Array(nImg).fill(-1);
  const weight = new Float32Array(nImg);
  const imageIndex = new Int32Array(nRaw);
  const rowSpan = new Uint8Array(nRaw);
  const colSpan = new Uint8Array(nRaw);
  const colStart = new Int32Array(JF_MODULE_RAW_COLS);
  const colSize = new Uint8Array(JF_MODULE_RAW_COLS);
  for (let c = 0; c < JF_MODULE_RAW_COLS; c++) [colStart[c], colSize[c]] = rawColSpan(c);
  for (let m = 0; m < layout.nModules; m++) {
    const [or, oc] = layout.moduleOrigins[m];
    for (let r = 0; r < JF_MODULE_RAW_ROWS; r++) {
      const [rs, rn] = rawRowSpan(r);
      const rawRow = (m * JF_MODULE_RAW_ROWS + r) * JF_MODULE_RAW_COLS;
      for (let c = 0; c < JF_MODULE_RAW_COLS; c++) {
        const raw = rawRow + c;
        const cs = colStart[c], cn = colSize[c];
        const first = (or + rs) * cols + oc + cs;
        imageIndex[raw] = first;
        rowSpan[raw] = rn;
        colSpan[raw] = cn;
        const w = 1 / (rn * cn);
        for (let a = 0; a < rn; a++) {
          for (let b = 0; b < cn; b++) {
            const img = first + a * cols + b;
            rawIndex[img] = raw;
            weight[img] = w;
          }
        }
      }
    }
  }
  const gapMask = new Uint8Array(nImg);
  for (let k = 0; k < nImg; k++) gapMask[k] = rawIndex[k] < 0 ? 1 : 0;
  const map: AssemblyMap = { layout, rawIndex, weight, imageIndex, rowSpan, colSpan, gapMask };
  maps.set(layout, map);
  return map;
}

/**
 * Assemble a raw frame (any numeric array of [modules, 512, 1024]) into
 * `out` (image shape). With `split` (default) a double pixel's value is
 * shared between its assembled pixels (value/2, corners value/4), which
 * conserves the total signal; without it the value is copied. Gap pixels
 * get `gapValue`.
 */
export function assemble(
  raw: ArrayLike<number>,
  out: Float32Array | Float64Array,
  map: AssemblyMap,
  gapValue = 0,
  split = true,
): void {
  const { rawIndex, weight } = map;
  if (out.length !== rawIndex.length) throw new RangeError(`assemble: output has ${out.length} pixels, image has ${rawIndex.length}`);
  for (let k = 0; k < rawIndex.length; k++) {
    const i = rawIndex[k];
    out[k] = i < 0 ? gapValue : split ? raw[i] * weight[k] : raw[i];
  }
}

/** Sum image-grid values into raw pixels (the inverse of `assemble` with splitting): out[raw] = Σ image values it covers. */
export function imageToRawSum(image: ArrayLike<number>, out: Float32Array | Float64Array, map: AssemblyMap): void {
  const { rawIndex } = map;
  out.fill(0);
  for (let k = 0; k < rawIndex.length; k++) {
    const i = rawIndex[k];
    if (i >= 0) out[i] += image[k];
  }
}

/**
 * Centres and half sizes of the raw pixels in metres from the assembled
 * image origin (for PyFAIGeometry on raw frames): a double pixel is
 * centred between its two assembled pixels and is twice as large.
 */
export function rawPixelPositions(layout: JungfrauLayout, pixel1: number, pixel2: number): PixelPositions {
  const map = assemblyMap(layout);
  const cols = layout.imageShape[1];
  const n = map.imageIndex.length;
  const d1 = new Float64Array(n), d2 = new Float64Array(n);
  const half1 = new Float64Array(n), half2 = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const first = map.imageIndex[k];
    const row = Math.floor(first / cols), col = first - row * cols;
    d1[k] = pixel1 * (row + map.rowSpan[k] / 2);
    d2[k] = pixel2 * (col + map.colSpan[k] / 2);
    half1[k] = (pixel1 * map.rowSpan[k]) / 2;
    half2[k] = (pixel2 * map.colSpan[k]) / 2;
  }
  return { count: n, d1, d2, half1, half2, shape: null };
}
