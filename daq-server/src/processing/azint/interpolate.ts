/**
 * Background at every pixel of an integrator's image from a per-bin
 * background (sigma clipping): the integrator's radial positions fed to the
 * one interpolation daqlab has (`smx/background.ts`, linear between bin
 * centres and constant beyond them, as pyFAI's sparsify / peak-finder
 * kernels do). Pixels the integrator never integrates get NaN, so they are
 * never picked.
 */
import type { Integrator } from './integrator.js';
import { interpolateBackground as interpolateRadial } from '../smx/background.js';

/**
 * Interpolate the per-bin `avg` and `std` (length npt, e.g. a sigma clip's
 * `average`/`std`) at each pixel of the integrator's image into `outAvg` and
 * `outStd` (length = image size). No allocation after the first call.
 */
export function interpolateBackground(integrator: Integrator, avg: ArrayLike<number>, std: ArrayLike<number>, outAvg: Float32Array, outStd: Float32Array): void {
  if (integrator.ndim !== 1) throw new Error('interpolateBackground needs a 1D integrator');
  const n = integrator.radial.length;
  if (avg.length !== n || std.length !== n) throw new RangeError(`interpolateBackground: ${avg.length} averages and ${std.length} deviations for ${n} bins`);
  if (outAvg.length !== integrator.size || outStd.length !== integrator.size) {
    throw new RangeError(`interpolateBackground: outputs must have ${integrator.size} elements`);
  }
  interpolateRadial(integrator.pixelRadial(), integrator.radial, avg, std, outAvg, outStd);
}
