/**
 * Filtered back-projection of one slice: filter every projection row of its
 * sinogram (FFT, in place), weight it by its angle's quadrature weight, and
 * back-project onto an n × n grid. One `SliceReconstructor` per thread keeps
 * its FFT tables and scratch.
 */
import { RowFilter, nextPow2 } from './fft.js';
import { filterResponse, type FilterName } from './filters.js';
import { angleWeights, anglesOf, backprojectSlice, type Angles } from './backproject.js';
import { WasmBackprojector } from './backproject-wasm.js';

export interface ReconGeometry {
  /** detector columns of a sinogram row */
  cols: number;
  /** elements between sinogram rows (≥ cols + 1: element `cols` is a zero pad) */
  stride: number;
  /** projection angles in degrees */
  angles: number[];
  /** rotation axis column */
  center: number;
  filter: FilterName;
  /** output grid n × n (voxel = detector pixel), default cols */
  n?: number;
  /** back-projection kernel: WebAssembly SIMD (default, when available), scalar WebAssembly (bit-identical to JS), or the JS loop */
  kernel?: 'simd' | 'scalar' | 'js';
}

export class SliceReconstructor {
  private readonly filter: RowFilter;
  private readonly weights: Float64Array;
  private readonly trig: Angles;
  readonly n: number;
  private readonly wasm: WasmBackprojector | null;

  constructor(readonly g: ReconGeometry) {
    if (g.stride < g.cols + 1) throw new RangeError(`sinogram stride ${g.stride} must be ≥ cols + 1 = ${g.cols + 1}`);
    this.filter = new RowFilter(g.cols, filterResponse(g.filter, nextPow2(2 * g.cols)));
    this.weights = angleWeights(g.angles);
    this.trig = anglesOf(g.angles);
    this.n = g.n ?? g.cols;
    this.wasm = g.kernel === 'js' ? null : WasmBackprojector.create(g.angles.length, g.stride, this.n, g.kernel !== 'scalar');
  }

  /** Filter and weight the rows of one slice's sinogram in place (rows k · stride, k < angles.length). */
  filterRows(sino: Float32Array, offset = 0): void {
    const { cols, stride } = this.g;
    const m = this.g.angles.length;
    this.filter.rows(sino, offset, m, stride);
    for (let k = 0; k < m; k++) {
      const w = this.weights[k], o = offset + k * stride;
      for (let c = 0; c < cols; c++) sino[o + c] *= w;
      sino[o + cols] = 0;
    }
  }

  /** Which back-projection runs: WebAssembly SIMD, scalar WebAssembly or the JS loop. */
  get kernel(): 'simd' | 'scalar' | 'js' {
    return this.wasm ? this.wasm.mode : 'js';
  }

  /** Back-project filtered rows into `out` (n × n, overwritten). */
  backproject(sino: Float32Array, offset: number, out: Float32Array): void {
    const { cols, stride, center } = this.g;
    const rows = sino.subarray(offset, offset + this.g.angles.length * stride);
    if (this.wasm) {
      this.wasm.q.set(rows);
      this.wasm.run(this.trig, center, cols);
      out.set(this.wasm.out);
      return;
    }
    out.fill(0);
    backprojectSlice(rows, stride, cols, this.trig, center, this.n, out);
  }

  /** Filter in place, then back-project: the slice's attenuation per pixel. */
  slice(sino: Float32Array, offset: number, out: Float32Array): void {
    this.filterRows(sino, offset);
    this.backproject(sino, offset, out);
  }
}
