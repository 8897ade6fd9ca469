/**
 * Jungfrau correction kernels: raw words → energy (keV) or photons, per
 * raw pixel or fused with module assembly into the image grid, in one pass.
 *
 *   value = (adc − P[g]) / G[g] · s,   s = 1 (keV) or 1 / E_photon (photons)
 *
 * is precomputed per raw pixel and gain stage as value = adc · a + b with
 * a = s / G[g], b = −P[g] · s / G[g] (float32; see correctionTables for the
 * layout), so the inner loop is a gather and a multiply-add, no division.
 * Pixels whose gain code is invalid (10) or that are saturated (0xC000 in
 * normal mode; ADC 0x3FFF in G2) get `invalidValue` and a flag; pixels
 * without a usable pedestal/gain for their stage (NaN, 0 gain) get
 * `invalidValue` and PixelFlag.UNCALIBRATED.
 *
 * Assembly (fused): a raw row is written straight into its assembled row;
 * chip-border double pixels (see jungfrau-layout.ts / assemblyMap) are split
 * — each assembled half gets value/2, the corner quadruple pixels value/4 —
 * the same as `assemble(..., split = true)`. Invalid values are not split.
 * Gap pixels get `gapValue` and PixelFlag.GAP (`correct` writes them every
 * call; `correctModules` leaves them to `fillGaps`).
 *
 * Two engines with the same results (up to float32 rounding of a · adc):
 *  - `wasm` (default where WebAssembly SIMD runs): the G0 loop is the SIMD
 *    function of wasm.ts on a copy of the raw frame in the corrector's own
 *    WebAssembly memory (which also holds the tables and a work image); the
 *    result is copied to `out`/`flags`. Non-G0 groups, borders, double rows
 *    and flags are finished in JavaScript.
 *  - `js`: the same loop in JavaScript, unrolled by four.
 * No allocation per frame (beyond a few subarray views in correctModules).
 */
import {
  JF_CHIP,
  JF_MODULE_COLS,
  JF_MODULE_ROWS,
  JF_MODULE_RAW_COLS,
  JF_MODULE_RAW_ROWS,
  JUNGFRAU_4M,
  assemblyMap,
  rawColSpan,
  rawRowSpan,
  type AssemblyMap,
  type JungfrauLayout,
} from '../../detectors/geometry/jungfrau-layout.js';
import { PixelFlag } from '../steps/common.js';
import type { GainMode } from './decode.js';
import { instantiateKernel, wasmRegions, type Span2d, type WasmRegions } from './wasm.js';

const MODULE_PIXELS = JF_MODULE_RAW_ROWS * JF_MODULE_RAW_COLS;

/**
 * Column layout of a raw module row, from rawColSpan: chip k (raw columns
 * 256k … 256k + 255) lands on 256 consecutive assembled columns starting at
 * CHIP_OUT[k]; its border pixels that are double (raw column 256k + 255 for
 * k < 3, 256k for k > 0) have their other half just outside that run
 * (at +1 after the last, −1 before the first).
 */
const CHIPS = JF_MODULE_RAW_COLS / JF_CHIP;
const CHIP_OUT = Int32Array.from({ length: CHIPS }, (_, k) => {
  const c = k * JF_CHIP;
  const [o, n] = rawColSpan(c);
  return n === 2 ? o + 1 : o;
});
/** raw column, its assembled column inside the chip run, and the partner half's column */
const BORDER: { c: number; o: number; partner: number }[] = [];
for (let k = 0; k < CHIPS; k++) {
  for (const w of [0, JF_CHIP - 1]) {
    const c = k * JF_CHIP + w;
    const [o, n] = rawColSpan(c);
    const inRun = CHIP_OUT[k] + w;
    if (n === 2) BORDER.push({ c, o: inRun, partner: inRun === o ? o + 1 : o });
    else if (o !== inRun) throw new Error('jungfrau correction: column layout does not match rawColSpan');
  }
}
/** output columns between consecutive chip runs (the other halves of the border pixels); the same between every pair of chips */
const CHIP_SKIP = CHIP_OUT[1] - CHIP_OUT[0] - JF_CHIP;
for (let k = 1; k < CHIPS; k++) if (CHIP_OUT[k] - CHIP_OUT[k - 1] - JF_CHIP !== CHIP_SKIP) throw new Error('jungfrau correction: uneven chip gaps');
const BORDER_O = Int32Array.from(BORDER, (b) => b.o);
const BORDER_P = Int32Array.from(BORDER, (b) => b.partner);
const ROW_START = Int32Array.from({ length: JF_MODULE_RAW_ROWS }, (_, r) => rawRowSpan(r)[0]);
const ROW_SIZE = Int32Array.from({ length: JF_MODULE_RAW_ROWS }, (_, r) => rawRowSpan(r)[1]);

/** Index of pixel t's `a` in a stage block of the tables (its `b` is 4 further): groups of four [a a a a b b b b]. */
const at = (t: number): number => ((t >> 2) << 3) + (t & 3);

/**
 * A raw pixel that is not in G0 (rare): G1, G2, saturated or invalid gain.
 * Writes out[o] and flags[o]; returns 1 when flagged.
 */
function slowPixel(w: number, ti: number, tab: Float32Array, n2: number, out: Float32Array, o: number, flags: Uint8Array, f: number, inv: number, sat0: boolean): number {
  const code = w >>> 14;
  const adc = w & 0x3fff;
  if (code === 1) {
    const j = n2 + at(ti);
    out[o] = (adc * tab[j] + tab[j + 4]) * f;
    flags[o] = 0;
    return 0;
  }
  if (code === 3) {
    if (adc === 0x3fff || (sat0 && adc === 0)) {
      out[o] = inv;
      flags[o] = PixelFlag.SATURATED;
      return 1;
    }
    const j = 2 * n2 + at(ti);
    out[o] = (adc * tab[j] + tab[j + 4]) * f;
    flags[o] = 0;
    return 0;
  }
  out[o] = inv;
  flags[o] = PixelFlag.INVALID_GAIN;
  return 1;
}

/** Any one raw pixel (G0 or not) into out[o] / flags[o]; returns 1 when flagged. */
function pixel(w: number, ti: number, tab: Float32Array, n2: number, out: Float32Array, o: number, flags: Uint8Array, f: number, inv: number, sat0: boolean): number {
  if (w < 0x4000) {
    const j = at(ti);
    out[o] = (w * tab[j] + tab[j + 4]) * f;
    flags[o] = 0;
    return 0;
  }
  return slowPixel(w, ti, tab, n2, out, o, flags, f, inv, sat0);
}

/**
 * Correct `n` consecutive raw pixels: raw[ri..], tables at pixel ti..
 * (ti a multiple of 4), into out[o..] with flags, values multiplied by f
 * (1, or 1/2, 1/4 for split pixels). Returns the number of flagged pixels.
 *
 * The hot loop. G0 pixels (the word is the ADC value) take a gather and a
 * multiply-add; four pixels per iteration, with one test that all four are
 * G0 (unrolling halves V8's per-access overhead on typed arrays passed as
 * arguments); a group with any other pixel goes through `pixel`.
 * Uncalibrated pixels (NaN tables) come out NaN with flag 0 here; callers
 * fix them from the precomputed list.
 */
function span(
  raw: Uint16Array,
  ri: number,
  ti: number,
  n: number,
  tab: Float32Array,
  n2: number,
  out: Float32Array,
  o: number,
  flags: Uint8Array,
  f: number,
  inv: number,
  sat0: boolean,
): number {
  let bad = 0;
  const n4 = n & ~3;
  let k = 0;
  for (; k < n4; k += 4) {
    const a = ri + k;
    const w0 = raw[a], w1 = raw[a + 1], w2 = raw[a + 2], w3 = raw[a + 3];
    const j = (ti + k) << 1; // = at(ti + k) for a multiple of 4
    const q = o + k;
    if ((w0 | w1 | w2 | w3) < 0x4000) {
      out[q] = (w0 * tab[j] + tab[j + 4]) * f;
      out[q + 1] = (w1 * tab[j + 1] + tab[j + 5]) * f;
      out[q + 2] = (w2 * tab[j + 2] + tab[j + 6]) * f;
      out[q + 3] = (w3 * tab[j + 3] + tab[j + 7]) * f;
      flags[q] = 0;
      flags[q + 1] = 0;
      flags[q + 2] = 0;
      flags[q + 3] = 0;
      continue;
    }
    // (a loop, not four inlined calls: keeps the hot loop small for V8)
    for (let m = 0; m < 4; m++) bad += pixel(raw[a + m], ti + k + m, tab, n2, out, q + m, flags, f, inv, sat0);
  }
  for (; k < n; k++) bad += pixel(raw[ri + k], ti + k, tab, n2, out, o + k, flags, f, inv, sat0);
  return bad;
}

/**
 * One raw module row into its assembled row at out[ob..ob+1030): four chip
 * runs of 256 pixels (one `span` each), then the double border pixels are
 * halved and copied to their partner column. rowFactor is 1/2 for the
 * double rows (the caller copies the row to the next one). Returns the
 * flagged raw pixels.
 */
function assembleRow(
  raw: Uint16Array,
  ri: number,
  ti: number,
  tab: Float32Array,
  n2: number,
  out: Float32Array,
  ob: number,
  flags: Uint8Array,
  rowFactor: number,
  inv: number,
  sat0: boolean,
): number {
  let bad = 0;
  for (let k = 0; k < CHIPS; k++) {
    const c = k * JF_CHIP;
    bad += span(raw, ri + c, ti + c, JF_CHIP, tab, n2, out, ob + CHIP_OUT[k], flags, rowFactor, inv, sat0);
  }
  fixBorders(out, flags, ob);
  return bad;
}

/** Double border columns of the assembled row at ob: halve valid values, copy value and flag to the partner column. */
function fixBorders(out: Float32Array, flags: Uint8Array, ob: number): void {
  for (let b = 0; b < BORDER_O.length; b++) {
    const o = ob + BORDER_O[b], p = ob + BORDER_P[b];
    const fl = flags[o];
    if (fl === 0) {
      const v = out[o] * 0.5;
      out[o] = v;
      out[p] = v;
    } else out[p] = out[o];
    flags[p] = fl;
  }
}

export interface CorrectorOptions {
  layout?: JungfrauLayout;
  /** [3, modules, 512, 1024] ADU, stage-major (g·N + p) */
  pedestal: ArrayLike<number>;
  /** [3, modules, 512, 1024] ADU/keV of the gain mode in use (G0..G2, or HG0..HG2) */
  gain: ArrayLike<number>;
  /** keV (default) or photons */
  output?: 'keV' | 'photons';
  /** photon energy in keV, for output = photons */
  photonEnergyKeV?: number;
  /** normal: 0xC000 is saturated too; high: only ADC 0x3FFF in G2 */
  gainMode?: GainMode;
  /** value of flagged pixels (default NaN) */
  invalidValue?: number;
  /** value of gap pixels in assembled images (default NaN) */
  gapValue?: number;
  /** kernel: `auto` (default: wasm where available), `wasm` (error if unavailable) or `js` */
  engine?: 'auto' | 'wasm' | 'js';
}

/**
 * The [a, b] tables of value = adc · a + b for every stage and raw pixel:
 * Float32Array of 3 · 2N, stage g at g · 2N; inside a stage, pixels in
 * groups of four, [a(4q) a(4q+1) a(4q+2) a(4q+3) b(4q) … b(4q+3)] at 8q
 * (so four pixels take two aligned 16-byte loads). Pixels with a
 * non-finite pedestal or a gain that is 0 / non-finite get NaN (flagged
 * UNCALIBRATED by the kernels). N must be a multiple of 4.
 */
export function correctionTables(pedestal: ArrayLike<number>, gain: ArrayLike<number>, scale: number, out?: Float32Array): Float32Array {
  const total = pedestal.length;
  if (gain.length !== total) throw new RangeError(`correctionTables: pedestal has ${total} values, gain ${gain.length}`);
  if (total % 12 !== 0) throw new RangeError(`correctionTables: ${total} values is not 3 stages of groups of 4 pixels`);
  const tab = out ?? new Float32Array(2 * total);
  if (tab.length !== 2 * total) throw new RangeError(`correctionTables: output must have ${2 * total} values`);
  const N = total / 3;
  for (let g = 0; g < 3; g++) {
    for (let p = 0; p < N; p++) {
      const q = g * N + p;
      const G = gain[q], P = pedestal[q];
      const a = scale / G;
      const j = 2 * g * N + at(p);
      if (Number.isFinite(a) && Number.isFinite(P) && G !== 0) {
        tab[j] = a;
        tab[j + 4] = -P * a;
      } else {
        tab[j] = NaN;
        tab[j + 4] = NaN;
      }
    }
  }
  return tab;
}

/** The WebAssembly side of a corrector: memory views and the kernel. */
interface WasmSide {
  regions: WasmRegions;
  span2d: Span2d;
  raw: Uint16Array;
  out: Float32Array;
  outRaw: Float32Array;
  flags: Uint8Array;
  flagsRaw: Uint8Array;
  pend: Int32Array;
  /** the work image's gaps hold gapValue / GAP (false after an unassembled pass used the same memory) */
  gaps: boolean;
  /** the banded full-frame pass: plan and scratch views */
  bands: Band[];
  bandOut: Float32Array;
  bandFlags: Uint8Array;
  bandRaw: Uint16Array;
}

/** Raw row ranges of a module with one output stride and factor: [first raw row, rows, factor]. */
const ROW_RANGES: [number, number, number][] = (() => {
  const out: [number, number, number][] = [];
  for (let r = 0; r < JF_MODULE_RAW_ROWS; ) {
    if (ROW_SIZE[r] === 2) {
      out.push([r, 1, 0.5]);
      r++;
      continue;
    }
    let e = r;
    while (e < JF_MODULE_RAW_ROWS && ROW_SIZE[e] === 1 && ROW_START[e] - ROW_START[r] === e - r) e++;
    out.push([r, e - r, 1]);
    r = e;
  }
  return out;
})();

/**
 * The banded full-frame pass (wasm engine): the image is done in bands of
 * ~BAND_ROWS image rows (64: ~0.8 MB of scratch, inside a 1 MiB L2; 16 and 32 measured slower) through a small scratch in the WebAssembly memory
 * (raw rows in, values and flags out) that stays in cache, and each band
 * is copied to the caller's arrays while still hot. Against correcting the
 * whole frame in the work image and copying it out afterwards, this halves
 * the memory traffic (no raw copy round trip, no 17 MiB work image written
 * back and read again). Band edges never split a double row.
 */
const BAND_ROWS = 64;

/** One kernel call of a band: raw word offset in the band's raw scratch, first table pixel, local output pixel, raw rows, factor. */
interface BandCall {
  raw: number;
  ti0: number;
  local: number;
  rows: number;
  f: number;
}

/** One band of the image: rows [y0, y0 + pixels / cols). Offsets are pixels (raw words) in the band scratch. */
interface Band {
  start: number;
  pixels: number;
  /** raw frame copies into the raw scratch: [source word, words, destination word] */
  copies: [number, number, number][];
  calls: BandCall[];
  /** local start of each assembled raw row (for fixBorders), and whether it is a double row */
  rowStarts: Int32Array;
  rowDouble: Uint8Array;
  /** gap runs inside the band: local [start, length] pairs */
  gaps: Int32Array;
}

function bandPlan(layout: JungfrauLayout, gapRuns: Int32Array): { bands: Band[]; maxPixels: number; maxRaw: number } {
  const [H, cols] = layout.imageShape;
  const forbidden = new Set<number>();
  for (const [or] of layout.moduleOrigins) {
    for (let r = 0; r < JF_MODULE_RAW_ROWS; r++) if (ROW_SIZE[r] === 2) forbidden.add(or + ROW_START[r] + 1);
  }
  const bands: Band[] = [];
  let maxPixels = 0, maxRaw = 0;
  for (let y0 = 0; y0 < H; ) {
    let y1 = Math.min(H, y0 + BAND_ROWS);
    while (y1 < H && forbidden.has(y1)) y1++;
    const band: Band = { start: y0 * cols, pixels: (y1 - y0) * cols, copies: [], calls: [], rowStarts: new Int32Array(0), rowDouble: new Uint8Array(0), gaps: new Int32Array(0) };
    const starts: number[] = [], dbl: number[] = [];
    let rawOff = 0;
    layout.moduleOrigins.forEach(([or, oc], m) => {
      // raw rows whose first image row is in the band (a double row's second row is then too)
      let ra = 0;
      while (ra < JF_MODULE_RAW_ROWS && or + ROW_START[ra] < y0) ra++;
      let rb = ra;
      while (rb < JF_MODULE_RAW_ROWS && or + ROW_START[rb] < y1) rb++;
      if (ra >= rb) return;
      band.copies.push([m * MODULE_PIXELS + ra * JF_MODULE_RAW_COLS, (rb - ra) * JF_MODULE_RAW_COLS, rawOff]);
      for (const [r0, nr, f] of ROW_RANGES) {
        const a = Math.max(r0, ra), b = Math.min(r0 + nr, rb);
        if (a >= b) continue;
        const local = (or + ROW_START[a] - y0) * cols + oc + CHIP_OUT[0];
        band.calls.push({ raw: rawOff + (a - ra) * JF_MODULE_RAW_COLS, ti0: m * MODULE_PIXELS + a * JF_MODULE_RAW_COLS, local, rows: b - a, f });
      }
      for (let r = ra; r < rb; r++) {
        starts.push((or + ROW_START[r] - y0) * cols + oc);
        dbl.push(ROW_SIZE[r] === 2 ? 1 : 0);
      }
      rawOff += (rb - ra) * JF_MODULE_RAW_COLS;
    });
    const gaps: number[] = [];
    const lo = y0 * cols, hi = y1 * cols;
    for (let k = 0; k < gapRuns.length; k += 2) {
      const s = Math.max(lo, gapRuns[k]), e = Math.min(hi, gapRuns[k] + gapRuns[k + 1]);
      if (s < e) gaps.push(s - lo, e - s);
    }
    band.rowStarts = Int32Array.from(starts);
    band.rowDouble = Uint8Array.from(dbl);
    band.gaps = Int32Array.from(gaps);
    bands.push(band);
    maxPixels = Math.max(maxPixels, band.pixels);
    maxRaw = Math.max(maxRaw, rawOff);
    y0 = y1;
  }
  return { bands, maxPixels, maxRaw };
}

export class JungfrauCorrector {
  readonly layout: JungfrauLayout;
  readonly map: AssemblyMap;
  /** raw pixels of a full frame (modules · 512 · 1024) */
  readonly rawSize: number;
  /** pixels of the assembled image */
  readonly imageSize: number;
  /** see correctionTables (in the WebAssembly memory with the wasm engine) */
  readonly tables: Float32Array;
  readonly invalidValue: number;
  readonly gapValue: number;
  readonly gainMode: GainMode;
  /** scale applied to keV: 1, or 1 / photon energy */
  readonly scale: number;
  /** the kernel in use */
  readonly engine: 'wasm' | 'js';
  /** raw pixels with no usable calibration in some stage (NaN tables): checked after each pass */
  readonly uncalibrated: Int32Array;
  private readonly n2: number;
  private readonly sat0: boolean;
  /** gap runs of the assembled image: [start, length] pairs */
  private readonly gapRuns: Int32Array;
  private scratchFlags: Uint8Array | null = null;
  private readonly wasm: WasmSide | null;
  private last: Uint8Array | null = null;

  constructor(opts: CorrectorOptions) {
    this.layout = opts.layout ?? JUNGFRAU_4M;
    this.map = assemblyMap(this.layout);
    this.rawSize = this.layout.nModules * MODULE_PIXELS;
    this.imageSize = this.map.rawIndex.length;
    if (opts.pedestal.length !== 3 * this.rawSize) {
      throw new RangeError(`pedestal has ${opts.pedestal.length} values, [3, ${this.layout.nModules}, 512, 1024] needs ${3 * this.rawSize}`);
    }
    if (opts.gain.length !== 3 * this.rawSize) {
      throw new RangeError(`gain has ${opts.gain.length} values, [3, ${this.layout.nModules}, 512, 1024] needs ${3 * this.rawSize}`);
    }
    const output = opts.output ?? 'keV';
    if (output === 'photons') {
      const e = opts.photonEnergyKeV;
      if (!(typeof e === 'number' && e > 0 && Number.isFinite(e))) throw new RangeError(`photons output needs a photon energy > 0 keV, got ${e}`);
      this.scale = 1 / e;
    } else this.scale = 1;
    this.gainMode = opts.gainMode ?? 'normal';
    this.sat0 = this.gainMode === 'normal';
    this.invalidValue = opts.invalidValue ?? NaN;
    this.gapValue = opts.gapValue ?? NaN;
    this.n2 = 2 * this.rawSize;
    const runs: number[] = [];
    const gm = this.map.gapMask;
    for (let k = 0; k < gm.length; ) {
      if (!gm[k]) {
        k++;
        continue;
      }
      const s = k;
      while (k < gm.length && gm[k]) k++;
      runs.push(s, k - s);
    }
    this.gapRuns = Int32Array.from(runs);

    const engine = opts.engine ?? 'auto';
    const plan = engine === 'js' ? null : bandPlan(this.layout, this.gapRuns);
    const regions = wasmRegions(this.rawSize, this.imageSize, plan?.maxPixels ?? 0, plan?.maxRaw ?? 0);
    const inst = engine === 'js' ? null : instantiateKernel(regions);
    if (engine === 'wasm' && !inst) throw new Error('the WebAssembly SIMD correction kernel is not available here');
    if (inst) {
      const b = inst.memory.buffer;
      const out = new Float32Array(b, regions.out, this.imageSize);
      const flags = new Uint8Array(b, regions.flags, this.imageSize);
      this.wasm = {
        regions,
        span2d: inst.span2d,
        raw: new Uint16Array(b, regions.raw, this.rawSize),
        out,
        outRaw: out.subarray(0, this.rawSize),
        flags,
        flagsRaw: flags.subarray(0, this.rawSize),
        pend: new Int32Array(b, regions.pend, 2 * (this.rawSize / 4 + 1)),
        gaps: false,
        bands: plan!.bands,
        bandOut: new Float32Array(b, regions.band, plan!.maxPixels),
        bandFlags: new Uint8Array(b, regions.bandFlags, plan!.maxPixels),
        bandRaw: new Uint16Array(b, regions.bandRaw, plan!.maxRaw),
      };
      this.tables = correctionTables(opts.pedestal, opts.gain, this.scale, new Float32Array(b, regions.tab, 6 * this.rawSize));
      this.engine = 'wasm';
    } else {
      this.wasm = null;
      this.tables = correctionTables(opts.pedestal, opts.gain, this.scale);
      this.engine = 'js';
    }

    const uncal: number[] = [];
    const tab = this.tables, N = this.rawSize;
    for (let p = 0; p < N; p++) {
      for (let g = 0; g < 3; g++) {
        const j = 2 * g * N + at(p);
        if (tab[j] !== tab[j]) {
          uncal.push(p);
          break;
        }
      }
    }
    this.uncalibrated = Int32Array.from(uncal);
  }

  /**
   * The flags of the last correct/correctRaw/correctModules call: the
   * `flags` given, else the corrector's own buffer (with the wasm engine,
   * a view of its WebAssembly memory: no copy, but never post or clone it —
   * that would copy the whole memory). Valid until the next call.
   */
  get lastFlags(): Uint8Array | null {
    return this.last;
  }

  private flagsFor(n: number, flags?: Uint8Array): Uint8Array {
    if (flags) {
      if (flags.length !== n) throw new RangeError(`flags has ${flags.length} elements, expected ${n}`);
      return flags;
    }
    if (!this.scratchFlags || this.scratchFlags.length !== n) this.scratchFlags = new Uint8Array(n);
    return this.scratchFlags;
  }

  /** Unassembled: raw [modules, 512, 1024] → out (same shape). Returns the number of flagged pixels. */
  correctRaw(raw: Uint16Array, out: Float32Array, flags?: Uint8Array): number {
    const n = this.rawSize;
    if (raw.length !== n || out.length !== n) throw new RangeError(`correctRaw: raw and out need ${n} elements, got ${raw.length} and ${out.length}`);
    const w = this.wasm;
    if (!w) {
      const fl = (this.last = this.flagsFor(n, flags));
      let bad = 0;
      for (let r = 0; r < n; r += JF_MODULE_RAW_COLS) bad += span(raw, r, r, JF_MODULE_RAW_COLS, this.tables, this.n2, out, r, fl, 1, this.invalidValue, this.sat0);
      return bad + this.fixUncalibrated(out, fl, false, null);
    }
    if (flags && flags.length !== n) throw new RangeError(`flags has ${flags.length} elements, expected ${n}`);
    w.raw.set(raw);
    w.gaps = false;
    const g = w.regions;
    let bad = this.kernel(g.raw, g.tab, g.out, g.flags, n / 4, 1, 1, 0, 0, 0, 1);
    bad += this.fixUncalibrated(w.outRaw, w.flagsRaw, false, null);
    out.set(w.outRaw);
    if (flags) flags.set(w.flagsRaw);
    this.last = flags ?? w.flagsRaw;
    return bad;
  }

  /** Fused correction and assembly of a full frame into the image (gaps included). Returns the number of flagged raw pixels. */
  correct(raw: Uint16Array, out: Float32Array, flags?: Uint8Array): number {
    if (raw.length !== this.rawSize) throw new RangeError(`correct: raw frame has ${raw.length} elements, expected ${this.rawSize}`);
    if (out.length !== this.imageSize) throw new RangeError(`correct: output has ${out.length} pixels, the image has ${this.imageSize}`);
    const w = this.wasm;
    let bad = 0;
    if (!w) {
      const fl = (this.last = this.flagsFor(this.imageSize, flags));
      this.fillGaps(out, fl);
      for (let m = 0; m < this.layout.nModules; m++) bad += this.module(raw, m * MODULE_PIXELS, m, out, fl);
      return bad + this.fixUncalibrated(out, fl, true, null);
    }
    if (flags && flags.length !== this.imageSize) throw new RangeError(`flags has ${flags.length} elements, expected ${this.imageSize}`);
    const fl = flags ?? w.flags;
    const { bandOut, bandFlags, bandRaw } = w;
    const gv = this.gapValue;
    for (const band of w.bands) {
      for (const [src, n, dst] of band.copies) bandRaw.set(raw.subarray(src, src + n), dst);
      const gaps = band.gaps;
      for (let k = 0; k < gaps.length; k += 2) {
        bandOut.fill(gv, gaps[k], gaps[k] + gaps[k + 1]);
        bandFlags.fill(PixelFlag.GAP, gaps[k], gaps[k] + gaps[k + 1]);
      }
      for (const c of band.calls) bad += this.bandKernel(c);
      const starts = band.rowStarts, dbl = band.rowDouble, cols = this.layout.imageShape[1];
      for (let r = 0; r < starts.length; r++) {
        const ob = starts[r];
        fixBorders(bandOut, bandFlags, ob);
        if (dbl[r]) {
          bandOut.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
          bandFlags.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
        }
      }
      out.set(bandOut.subarray(0, band.pixels), band.start);
      fl.set(bandFlags.subarray(0, band.pixels), band.start);
    }
    bad += this.fixUncalibrated(out, fl, true, null);
    this.last = fl;
    return bad;
  }

  /** One kernel call of the banded pass (scratch addresses), then the pending groups with the scalar code. */
  private bandKernel(c: BandCall): number {
    const w = this.wasm!;
    const g = w.regions;
    const cols = this.layout.imageShape[1];
    const np = w.span2d(g.bandRaw + 2 * c.raw, g.tab + 8 * c.ti0, g.band + 4 * c.local, g.bandFlags + c.local, JF_CHIP / 4, CHIPS, c.rows, 4 * cols, cols, CHIP_SKIP, c.f, g.pend, 0);
    if (np === 0) return 0;
    const pend = w.pend, braw = w.bandRaw, bout = w.bandOut, bflags = w.bandFlags, tabs = this.tables, n2 = this.n2, inv = this.invalidValue, sat0 = this.sat0, f = c.f;
    let bad = 0;
    for (let q = 0; q < np; q++) {
      const ri = (pend[2 * q] - g.bandRaw) >> 1;
      const ti = c.ti0 + ri - c.raw;
      const o = (pend[2 * q + 1] - g.band) >> 2;
      for (let m = 0; m < 4; m++) bad += pixel(braw[ri + m], ti + m, tabs, n2, bout, o + m, bflags, f, inv, sat0);
    }
    return bad;
  }

  /**
   * Correct some modules only (partial-frame topology: each receiver
   * corrects its modules straight into a shared image). `raw` is either a
   * full frame (module m at m · 512 · 1024) or the listed modules packed in
   * the order of `modules`. `out` is the assembled image (modules land at
   * their place; other pixels, gaps included, are not touched) or, with the
   * raw frame size, an unassembled frame. Returns the flagged raw pixels.
   */
  correctModules(raw: Uint16Array, out: Float32Array, modules: readonly number[], flags?: Uint8Array): number {
    const M = this.layout.nModules;
    for (const m of modules) if (!Number.isInteger(m) || m < 0 || m >= M) throw new RangeError(`correctModules: module ${m} is not in 0..${M - 1}`);
    const packed = raw.length === modules.length * MODULE_PIXELS && raw.length !== this.rawSize;
    if (!packed && raw.length !== this.rawSize) {
      throw new RangeError(`correctModules: raw has ${raw.length} elements: neither a full frame (${this.rawSize}) nor ${modules.length} packed modules`);
    }
    const assembled = out.length === this.imageSize;
    if (!assembled && out.length !== this.rawSize) throw new RangeError(`correctModules: output has ${out.length} elements: neither the image (${this.imageSize}) nor a raw frame (${this.rawSize})`);
    const fl = (this.last = this.flagsFor(out.length, flags));
    let bad = 0;
    const w = this.wasm;
    if (!w) {
      modules.forEach((m, slot) => {
        const ri = (packed ? slot : m) * MODULE_PIXELS;
        if (assembled) bad += this.module(raw, ri, m, out, fl);
        else {
          for (let r = 0; r < MODULE_PIXELS; r += JF_MODULE_RAW_COLS) {
            const t = m * MODULE_PIXELS + r;
            bad += span(raw, ri + r, t, JF_MODULE_RAW_COLS, this.tables, this.n2, out, t, fl, 1, this.invalidValue, this.sat0);
          }
        }
      });
      return bad + this.fixUncalibrated(out, fl, assembled, modules);
    }
    const g = w.regions;
    modules.forEach((m, slot) => {
      const ri = (packed ? slot : m) * MODULE_PIXELS;
      w.raw.set(raw.subarray(ri, ri + MODULE_PIXELS), m * MODULE_PIXELS);
      if (assembled) bad += this.moduleWasm(m);
      else {
        const p0 = m * MODULE_PIXELS;
        w.gaps = false;
        bad += this.kernel(g.raw + 2 * p0, g.tab + 8 * p0, g.out + 4 * p0, g.flags + p0, MODULE_PIXELS / 4, 1, 1, 0, 0, 0, 1);
      }
    });
    bad += this.fixUncalibrated(assembled ? w.out : w.outRaw, assembled ? w.flags : w.flagsRaw, assembled, modules);
    const cols = this.layout.imageShape[1];
    for (const m of modules) {
      if (!assembled) {
        const p0 = m * MODULE_PIXELS;
        out.set(w.out.subarray(p0, p0 + MODULE_PIXELS), p0);
        fl.set(w.flags.subarray(p0, p0 + MODULE_PIXELS), p0);
        continue;
      }
      const [or, oc] = this.layout.moduleOrigins[m];
      for (let r = 0; r < JF_MODULE_ROWS; r++) {
        const s = (or + r) * cols + oc;
        out.set(w.out.subarray(s, s + JF_MODULE_COLS), s);
        fl.set(w.flags.subarray(s, s + JF_MODULE_COLS), s);
      }
    }
    return bad;
  }

  /**
   * Run the SIMD kernel (byte addresses in the wasm memory), then redo the
   * pending groups (not all G0) with the scalar code. Returns the flagged pixels.
   */
  private kernel(raw: number, tab: number, out: number, flags: number, groups: number, chunks: number, rows: number, os: number, fs: number, skip: number, f: number): number {
    const w = this.wasm!;
    const g = w.regions;
    const np = w.span2d(raw, tab, out, flags, groups, chunks, rows, os, fs, skip, f, g.pend, 0);
    if (np === 0) return 0;
    const pend = w.pend, wraw = w.raw, wout = w.out, wflags = w.flags, tabs = this.tables, n2 = this.n2, inv = this.invalidValue, sat0 = this.sat0;
    let bad = 0;
    for (let q = 0; q < np; q++) {
      const ri = (pend[2 * q] - g.raw) >> 1;
      const o = (pend[2 * q + 1] - g.out) >> 2;
      for (let m = 0; m < 4; m++) bad += pixel(wraw[ri + m], ri + m, tabs, n2, wout, o + m, wflags, f, inv, sat0);
    }
    return bad;
  }

  /** Module m of the wasm raw frame into its place in the wasm work image. */
  private moduleWasm(m: number): number {
    const w = this.wasm!;
    const g = w.regions;
    const cols = this.layout.imageShape[1];
    const [or, oc] = this.layout.moduleOrigins[m];
    const p0 = m * MODULE_PIXELS;
    let bad = 0;
    for (const [r0, nr, f] of ROW_RANGES) {
      // whole rows: the 4 chips of a row are 4 chunks of 64 groups, 2 output columns apart
      const p = p0 + r0 * JF_MODULE_RAW_COLS;
      const o = (or + ROW_START[r0]) * cols + oc + CHIP_OUT[0];
      bad += this.kernel(g.raw + 2 * p, g.tab + 8 * p, g.out + 4 * o, g.flags + o, JF_CHIP / 4, CHIPS, nr, 4 * cols, cols, CHIP_SKIP, f);
    }
    const out = w.out, flags = w.flags;
    for (let r = 0; r < JF_MODULE_RAW_ROWS; r++) {
      const ob = (or + ROW_START[r]) * cols + oc;
      fixBorders(out, flags, ob);
      if (ROW_SIZE[r] === 2) {
        out.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
        flags.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
      }
    }
    return bad;
  }

  /**
   * Uncalibrated pixels came out NaN with flag 0: give them the invalid
   * value and the UNCALIBRATED flag (only where their stage had no
   * calibration, i.e. the value is NaN and nothing else flagged it).
   */
  private fixUncalibrated(out: Float32Array, flags: Uint8Array, assembled: boolean, modules: readonly number[] | null): number {
    const list = this.uncalibrated;
    if (list.length === 0) return 0;
    const map = this.map, cols = this.layout.imageShape[1], inv = this.invalidValue;
    let bad = 0;
    for (let q = 0; q < list.length; q++) {
      const p = list[q];
      if (modules && !modules.includes(Math.floor(p / MODULE_PIXELS))) continue;
      if (!assembled) {
        if (flags[p] === 0 && out[p] !== out[p]) {
          out[p] = inv;
          flags[p] = PixelFlag.UNCALIBRATED;
          bad++;
        }
        continue;
      }
      const first = map.imageIndex[p];
      if (flags[first] !== 0 || out[first] === out[first]) continue;
      bad++;
      for (let a = 0; a < map.rowSpan[p]; a++) {
        for (let b = 0; b < map.colSpan[p]; b++) {
          out[first + a * cols + b] = inv;
          flags[first + a * cols + b] = PixelFlag.UNCALIBRATED;
        }
      }
    }
    return bad;
  }

  /** Gap pixels of an assembled image: `gapValue`, flag GAP. */
  fillGaps(out: Float32Array, flags?: Uint8Array): void {
    const runs = this.gapRuns, g = this.gapValue;
    for (let k = 0; k < runs.length; k += 2) {
      out.fill(g, runs[k], runs[k] + runs[k + 1]);
      flags?.fill(PixelFlag.GAP, runs[k], runs[k] + runs[k + 1]);
    }
  }

  /** Module m (raw data at ri) into its place in the assembled image. */
  private module(raw: Uint16Array, ri: number, m: number, out: Float32Array, flags: Uint8Array): number {

    const cols = this.layout.imageShape[1];
    const [or, oc] = this.layout.moduleOrigins[m];
    const ti0 = m * MODULE_PIXELS;
    const tab = this.tables, n2 = this.n2, inv = this.invalidValue, sat0 = this.sat0;
    let bad = 0;
    for (let r = 0; r < JF_MODULE_RAW_ROWS; r++) {
      const ob = (or + ROW_START[r]) * cols + oc;
      const off = r * JF_MODULE_RAW_COLS;
      if (ROW_SIZE[r] === 1) {
        bad += assembleRow(raw, ri + off, ti0 + off, tab, n2, out, ob, flags, 1, inv, sat0);
      } else {
        bad += assembleRow(raw, ri + off, ti0 + off, tab, n2, out, ob, flags, 0.5, inv, sat0);
        out.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
        flags.copyWithin(ob + cols, ob, ob + JF_MODULE_COLS);
      }
    }
    return bad;
  }
}
