/**
 * Background at every pixel from a per-bin background (sigma clipping):
 * linear interpolation in the pixel's radial position between bin
 * centres, as pyFAI's sparsify / peak-finder OpenCL kernels do
 * (`find_intense` in sparsify.cl):
 *
 *   pos = clamp((r − c₀)/δ, 0, n − 1),  i = ⌊pos⌋,
 *   v = avg[i]·(1 − (pos − i)) + avg[i+1]·(pos − i)   (i < n − 1),  avg[n − 1] otherwise
 *
 * (constant beyond the first and last bin centres). Pixels the integrator
 * never integrates (masked, or statically invalid: flat/dark/normalization
 * unusable) get NaN — pyFAI marks them with a NaN radius, so they are never
 * picked. Pixels outside a given radial range are clamped like pyFAI's.
 */
import type { Integrator } from './integrator.js';

/**
 * Interpolate the per-bin `avg` and `std` (length npt, e.g. a sigma clip's
 * `average`/`std`) at each pixel of the integrator's image into `outAvg` and
 * `outStd` (length = image size). No allocation.
 */
export function interpolateBackground(integrator: Integrator, avg: ArrayLike<number>, std: ArrayLike<number>, outAvg: Float32Array, outStd: Float32Array): void {
  if (integrator.ndim !== 1) throw new Error('interpolateBackground needs a 1D integrator');
  const centres = integrator.radialAxis.centres;
  const n = centres.length;
  if (avg.length !== n || std.length !== n) throw new RangeError(`interpolateBackground: ${avg.length} averages and ${std.length} deviations for ${n} bins`);
  const size = integrator.size;
  if (outAvg.length !== size || outStd.length !== size) throw new RangeError(`interpolateBackground: outputs must have ${size} elements`);
  const r = integrator.positions;
  const usable = integrator.corrections.usable;
  const c0 = centres[0];
  const inv = n > 1 ? 1 / (centres[1] - c0) : 0;
  const last = n - 1;
  for (let k = 0; k < size; k++) {
    if (!usable[k]) {
      outAvg[k] = NaN;
      outStd[k] = NaN;
      continue;
    }
    let pos = (r[k] - c0) * inv;
    if (!(pos > 0)) pos = 0;
    else if (pos > last) pos = last;
    const i = pos | 0;
    if (i < last) {
      const d = pos - i;
      outAvg[k] = avg[i] * (1 - d) + avg[i + 1] * d;
      outStd[k] = std[i] * (1 - d) + std[i + 1] * d;
    } else {
      outAvg[k] = avg[last];
      outStd[k] = std[last];
    }
  }
}
