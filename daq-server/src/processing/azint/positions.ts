/**
 * Per-pixel positions for integration: the radial position of each pixel
 * centre in pyFAI's base unit of the chosen radial unit (2θ rad, q nm⁻¹,
 * r m), χ (rad), and the half-extents used by bounding-box splitting.
 *
 * Centres come straight from `PyFAIGeometry` (no duplicate formulas). The
 * half-extents ("delta" arrays) follow pyFAI's `Geometry.delta_array`:
 *
 *   delta = max over the 4 pixel corners of |corner − centre|
 *
 * where the corner positions are evaluated in the same unit, then stored
 * as float32 (pyFAI keeps its corner array in float32; we round the same
 * way so that bin edges and splitting coefficients match pyFAI's). For χ
 * the difference is taken the short way round: min(δ, 2π − δ).
 *
 * Corners are evaluated by a second `PyFAIGeometry` whose "pixels" are the
 * corner points: for a regular grid the (rows+1)·(cols+1) shared corners,
 * one corner row at a time (small memory); otherwise the 4 corners of
 * each pixel (centre ± half size), a block of pixels at a time.
 */
import { PyFAIGeometry, type PixelPositions } from '../../detectors/geometry/pyfai-geometry.js';

/** pyFAI's base quantity of a radial unit. */
export type RadialBase = 'tth' | 'q' | 'r';

const TWO_PI = 2 * Math.PI;

/** Centre positions in a base unit (the geometry's cached array: do not modify). */
export function centreArray(geometry: PyFAIGeometry, base: RadialBase | 'chi'): Float64Array {
  switch (base) {
    case 'tth':
      return geometry.tth();
    case 'q':
      return geometry.q();
    case 'r':
      return geometry.r();
    case 'chi':
      return geometry.chi();
  }
}

/** True when the pixels are the regular grid `gridPositions` makes (shared corners). */
function isRegularGrid(p: PixelPositions): p is PixelPositions & { shape: [number, number]; half1: number; half2: number } {
  if (!p.shape || typeof p.half1 !== 'number' || typeof p.half2 !== 'number') return false;
  const [rows, cols] = p.shape;
  if (rows * cols !== p.count || p.count === 0) return false;
  const px1 = 2 * p.half1, px2 = 2 * p.half2;
  const probes = [0, cols - 1, (rows - 1) * cols, p.count - 1, Math.floor(p.count / 2)];
  for (const k of probes) {
    const i = Math.floor(k / cols), j = k % cols;
    if (Math.abs(p.d1[k] - px1 * (i + 0.5)) > 1e-9 * px1 || Math.abs(p.d2[k] - px2 * (j + 0.5)) > 1e-9 * px2) return false;
  }
  return true;
}

function cornerValues(g: PyFAIGeometry, what: RadialBase | 'chi', out: Float32Array): void {
  const v = centreArray(g, what);
  for (let k = 0; k < out.length; k++) out[k] = v[k];
}

/**
 * Half-extents of every pixel in `what` (a radial base or χ), pyFAI's
 * `delta_array`, in the same base unit as the centres.
 */
export function deltaArray(geometry: PyFAIGeometry, what: RadialBase | 'chi'): Float64Array {
  const p = geometry.pixels;
  const centre = centreArray(geometry, what);
  const out = new Float64Array(p.count);
  const isChi = what === 'chi';
  const dev = (corner: number, c: number): number => {
    let d = Math.abs(corner - c);
    if (isChi && TWO_PI - d < d) d = TWO_PI - d;
    return d;
  };
  if (isRegularGrid(p)) {
    const [rows, cols] = p.shape;
    const px1 = 2 * p.half1, px2 = 2 * p.half2;
    const n = cols + 1;
    // corner rows i and i+1 of the (rows+1) × (cols+1) corner grid, as float32 like pyFAI's corner array
    let top = new Float32Array(n), bottom = new Float32Array(n);
    const row = (i: number, dst: Float32Array): void => {
      const d1 = new Float64Array(n).fill(px1 * i);
      const d2 = new Float64Array(n);
      for (let j = 0; j < n; j++) d2[j] = px2 * j;
      const g = new PyFAIGeometry(geometry.poni, { count: n, d1, d2, half1: 0, half2: 0, shape: [1, n] });
      cornerValues(g, what, dst);
    };
    row(0, top);
    for (let i = 0; i < rows; i++) {
      row(i + 1, bottom);
      const o = i * cols;
      for (let j = 0; j < cols; j++) {
        const c = centre[o + j];
        let m = dev(top[j], c);
        let d = dev(bottom[j], c);
        if (d > m) m = d;
        d = dev(bottom[j + 1], c);
        if (d > m) m = d;
        d = dev(top[j + 1], c);
        if (d > m) m = d;
        out[o + j] = m;
      }
      const t = top;
      top = bottom;
      bottom = t;
    }
    return out;
  }
  // arbitrary pixel centres: the 4 corners (centre ± half size) of each pixel, in blocks
  const BLOCK = 1 << 16;
  const h1s = typeof p.half1 === 'number' ? null : p.half1;
  const h2s = typeof p.half2 === 'number' ? null : p.half2;
  for (let start = 0; start < p.count; start += BLOCK) {
    const m = Math.min(BLOCK, p.count - start);
    const d1 = new Float64Array(4 * m), d2 = new Float64Array(4 * m);
    for (let q = 0; q < m; q++) {
      const k = start + q;
      const h1 = h1s ? h1s[k] : (p.half1 as number);
      const h2 = h2s ? h2s[k] : (p.half2 as number);
      // pyFAI's corner order: (i, j), (i+1, j), (i+1, j+1), (i, j+1)
      d1[4 * q] = p.d1[k] - h1; d2[4 * q] = p.d2[k] - h2;
      d1[4 * q + 1] = p.d1[k] + h1; d2[4 * q + 1] = p.d2[k] - h2;
      d1[4 * q + 2] = p.d1[k] + h1; d2[4 * q + 2] = p.d2[k] + h2;
      d1[4 * q + 3] = p.d1[k] - h1; d2[4 * q + 3] = p.d2[k] + h2;
    }
    const g = new PyFAIGeometry(geometry.poni, { count: 4 * m, d1, d2, half1: 0, half2: 0, shape: null });
    const corners = new Float32Array(4 * m);
    cornerValues(g, what, corners);
    for (let q = 0; q < m; q++) {
      const c = centre[start + q];
      let best = 0;
      for (let s = 0; s < 4; s++) {
        const d = dev(corners[4 * q + s], c);
        if (d > best) best = d;
      }
      out[start + q] = best;
    }
  }
  return out;
}
