/**
 * Parallel-beam back-projection of one slice, pixel-driven with linear
 * interpolation: voxel (ix, iy) at x = ix − h, y = iy − h (h = (n − 1)/2,
 * the grid centred on the rotation axis) collects, from every filtered
 * projection row k, the value at detector column s = cor + x cos θ_k + y sin θ_k.
 * Along a row of voxels s grows linearly, so the inner loop is one add, a
 * truncation and a lerp; the columns that fall on the detector are found
 * before the loop, so it has no bounds test.
 */

export interface Angles {
  cos: Float64Array;
  sin: Float64Array;
}

export function anglesOf(deg: ArrayLike<number>): Angles {
  const n = deg.length;
  const out = { cos: new Float64Array(n), sin: new Float64Array(n) };
  for (let k = 0; k < n; k++) {
    const t = (deg[k] * Math.PI) / 180;
    out.cos[k] = Math.cos(t);
    out.sin[k] = Math.sin(t);
  }
  return out;
}

/**
 * Quadrature weights of FBP for (sorted or not) angles in degrees: each angle
 * gets half the gap to its neighbours (trapezoid rule), scaled so the weights
 * add up to π over the covered range (a 360° scan counts every line twice).
 */
export function angleWeights(deg: ArrayLike<number>): Float64Array {
  const n = deg.length;
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => deg[a] - deg[b]);
  const w = new Float64Array(n);
  if (n === 1) {
    w[0] = Math.PI;
    return w;
  }
  const range = deg[order[n - 1]] - deg[order[0]];
  // a scan over more than 180° sees every line range/180 times
  const scale = (Math.PI / 180) * (range > 180 ? 180 / range : 1);
  for (let j = 0; j < n; j++) {
    const lo = deg[order[Math.max(0, j - 1)]], hi = deg[order[Math.min(n - 1, j + 1)]];
    w[order[j]] = ((hi - lo) / 2) * scale;
  }
  return w;
}

/**
 * out[iy·n + ix] += Σ_k q_k(s) for slice grid n × n. `q` holds the filtered
 * (and weighted) rows with stride `stride` ≥ cols + 1; element `cols` of each
 * row must be 0 (the right neighbour of the last column).
 */
export function backprojectSlice(q: Float32Array, stride: number, cols: number, angles: Angles, cor: number, n: number, out: Float32Array): void {
  const h = (n - 1) / 2;
  const last = cols - 1;
  const band = bandRows(n);
  for (let y0 = 0; y0 < n; y0 += band) {
    const y1 = Math.min(n, y0 + band);
    for (let k = 0; k < angles.cos.length; k++) {
      const c = angles.cos[k], sn = angles.sin[k];
      const row = k * stride;
      for (let iy = y0; iy < y1; iy++) {
        const s0 = cor - h * c + (iy - h) * sn;
        // ix range with 0 ≤ s0 + ix·c ≤ last
        let lo = 0, hi = n - 1;
        if (Math.abs(c) < 1e-12) {
          if (s0 < 0 || s0 > last) continue;
        } else {
          const a = -s0 / c, b = (last - s0) / c;
          lo = Math.max(0, Math.ceil(Math.min(a, b)));
          hi = Math.min(n - 1, Math.floor(Math.max(a, b)));
        }
        const o = iy * n;
        let s = s0 + lo * c;
        for (let ix = lo; ix <= hi; ix++, s += c) {
          const i = s < 0 ? 0 : s | 0;
          const f = s - i;
          const v0 = q[row + i];
          out[o + ix] += v0 + f * (q[row + i + 1] - v0);
        }
      }
    }
  }
}

/**
 * Voxel rows per band: every angle is back-projected onto one band (~64 KiB of
 * the slice, which stays in cache) before the next band, instead of sweeping
 * the whole slice once per angle. Each voxel still sums the angles in order.
 */
export const bandRows = (n: number): number => Math.max(1, Math.floor(16384 / n));
