/**
 * Accumulated images of the smx pipeline, one per receiver: `acc_corrected`
 * (sum of the corrected frames) and `acc_peaks` (found peaks added at their
 * nearest pixel). Each receiver sums its own frames; `partial()` hands out a
 * float32 snapshot and the server adds the receivers' snapshots element-wise
 * (`combine: 'sum'`, see `combineSum`).
 *
 * Sums are kept in float64 (adding a few counts to a float32 total of 10⁷
 * loses them); the snapshots are float32 like the declared streams. Frames
 * are first summed in a float32 block of at most BLOCK frames (exact for
 * integer counts below 2²⁴, float32 rounding of a few frames otherwise),
 * added to the float64 total when the block is full or a snapshot is taken:
 * half the memory traffic of a float64 sum per frame.
 */
import type { NumArray } from './background.js';
import type { PeakList } from './peaks.js';
import { WasmBlockSum } from './accumulate-wasm.js';

const BLOCK = 16;

export class SumImage {
  /** the float64 total (frames of the current block are added by flush(), partial()) */
  readonly data: Float64Array;
  /** frames added */
  frames = 0;
  private block: Float32Array | null = null;
  private inBlock = 0;
  /** the SIMD block sum (float32 frames), null when WebAssembly SIMD is not there */
  private readonly wasm: WasmBlockSum | null;

  constructor(readonly size: number) {
    this.wasm = WasmBlockSum.create(size);
    // with the SIMD kernels the float64 total lives in WebAssembly memory too
    this.data = this.wasm ? this.wasm.total.subarray(0, size) : new Float64Array(size);
    this.block = this.wasm ? this.wasm.block : null;
  }

  /** Add the current float32 block to the float64 total. */
  flush(): void {
    const b = this.block;
    if (b === null || this.inBlock === 0) return;
    if (this.wasm) {
      this.wasm.flush();
      this.inBlock = 0;
      return;
    }
    const d = this.data;
    for (let k = 0; k < d.length; k++) d[k] += b[k];
    b.fill(0);
    this.inBlock = 0;
  }

  /** Add a frame; pixels with valid = 0 or a non-finite value add nothing. */
  addImage(image: NumArray, valid: Uint8Array | null = null): void {
    if (image.length !== this.size) throw new RangeError(`accumulate: image of ${image.length} pixels, expected ${this.size}`);
    const d = (this.block ??= new Float32Array(this.size));
    if (this.wasm !== null && image instanceof Float32Array && (valid === null || valid.length === this.size)) {
      this.wasm.addImage(image, valid);
    } else if (valid === null) {
      for (let k = 0; k < d.length; k++) {
        const x = image[k];
        if (x - x === 0) d[k] += x;
      }
    } else {
      for (let k = 0; k < d.length; k++) {
        const x = image[k];
        if (valid[k] !== 0 && x - x === 0) d[k] += x;
      }
    }
    this.frames++;
    if (++this.inBlock === BLOCK) this.flush();
  }

  /**
   * Add a frame's peaks at their nearest pixel (round(y), round(x)), with
   * weight `intensity` (default) or 1 per peak (`count`).
   */
  addPeaks(peaks: PeakList, cols: number, weight: 'intensity' | 'count' = 'intensity'): void {
    const rows = this.size / cols;
    const d = this.data;
    for (let i = 0; i < peaks.n; i++) {
      const r = Math.round(peaks.y[i]), c = Math.round(peaks.x[i]);
      if (r < 0 || r >= rows || c < 0 || c >= cols) continue;
      d[r * cols + c] += weight === 'count' ? 1 : peaks.intensity[i];
    }
    this.frames++;
  }

  /** A float32 snapshot of the sum so far (a copy: the accumulator goes on). */
  partial(): Float32Array {
    this.flush();
    return Float32Array.from(this.data);
  }

  reset(): void {
    this.data.fill(0);
    this.block?.fill(0);
    this.inBlock = 0;
    this.frames = 0;
  }
}

/** Element-wise sum of receivers' partial images (what `combine: 'sum'` does). */
export function combineSum(parts: readonly NumArray[]): Float32Array {
  if (parts.length === 0) return new Float32Array(0);
  const n = parts[0].length;
  const acc = new Float64Array(n);
  for (const p of parts) {
    if (p.length !== n) throw new RangeError('combineSum: partial results differ in size');
    for (let k = 0; k < n; k++) acc[k] += p[k];
  }
  return Float32Array.from(acc);
}
