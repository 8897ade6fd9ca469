/**
 * Names of the per-frame values (`ctx.vars`) the serial-crystallography steps
 * read and write. This is the contract between the azimuthal-integration /
 * sigma-clipping step (writer of the background) and the smx steps
 * (sparsify, peakfinder, accumulate_corrected): both sides import these
 * constants instead of spelling the strings.
 *
 * Every per-pixel array has the length rows·cols of the 2D image the step
 * receives (row-major, same order as `ctx.image`). "Normalised units" are
 * pyFAI's: signal / norm, i.e. what `integrate1d` returns as intensity.
 */

/**
 * Float32Array, per pixel: the factor pyFAI divides the signal by —
 * normalization_factor · flat · polarization · solid angle (· absorption).
 * Written by the integration step (or the mask/correction step). Optional for
 * the smx steps: when absent every pixel's norm is 1.
 */
export const VAR_NORM = 'norm';

/**
 * Uint8Array, per pixel: 1 = usable pixel, 0 = masked, gap, dummy, non-finite,
 * or with norm ≤ 0. Written by the mask step. Optional for the smx steps: when
 * absent a pixel is valid when its value is finite and differs from the
 * image's dummy; the first smx step that needs it then sets it here (the
 * array is that step's scratch: valid for this frame only).
 */
export const VAR_VALID = 'valid';

/**
 * Float32Array, per pixel: the background ⟨I/norm⟩ at the pixel, in
 * normalised units, linearly interpolated at the pixel's radius from the
 * sigma-clipped per-bin average (pyFAI's `sparsify.cl` / `peakfinder.cl`
 * scheme, see `interpolateBackground`). NaN where the pixel has no background
 * (masked, outside the radial range): such pixels are never picked.
 */
export const VAR_BACKGROUND_PIXEL_AVG = 'background_pixel_avg';

/**
 * Float32Array, per pixel: the background's standard deviation at the pixel,
 * normalised units, interpolated like `background_pixel_avg`. The error model
 * (poisson, azimuthal, hybrid) is already folded in; the smx steps add the
 * `noise` parameter quadratically themselves.
 */
export const VAR_BACKGROUND_PIXEL_STD = 'background_pixel_std';

/** Float32Array, per radial bin: sigma-clipped background average (normalised units). Stored in each sparse frame. */
export const VAR_BACKGROUND_AVG = 'background_avg';

/** Float32Array, per radial bin: standard deviation of the clipped background (normalised units). Stored in each sparse frame. */
export const VAR_BACKGROUND_STD = 'background_std';

/** Float32Array, per radial bin: bin centres (equally spaced) in the integration's radial unit. */
export const VAR_RADIAL = 'radial';

/**
 * Float32Array, per pixel, optional: the pixel centre's radial position in the
 * unit of `radial` (pyFAI's `radius2d`), NaN where masked. When the per-pixel
 * background arrays are absent but `background_avg`, `background_std`,
 * `radial` and this are present, the smx steps interpolate the background
 * themselves and set `background_pixel_avg`/`_std` for the next steps (the
 * arrays are that step's scratch: valid for this frame only).
 */
export const VAR_RADIUS_PIXEL = 'radius_pixel';

/**
 * true, optional: the per-bin background (with `radial` and `radius_pixel`)
 * is enough; the smx steps then evaluate the interpolated background only at
 * the pixels they test (same values) and do not set the per-pixel arrays
 * `background_pixel_avg` / `_std`. Set by the sigma-clipping step.
 */
export const VAR_BACKGROUND_ON_DEMAND = 'background_on_demand';

/** Written by the smx steps in on-demand mode: the frame's candidate pixels (ondemand.ts CandidateList), shared by the next steps. */
export const VAR_CANDIDATES = 'smx_candidates';

/** Written by `peakfinder`: this frame's PeakList (see peaks.ts), for later steps. */
export const VAR_PEAKS = 'peaks';

/** Written by `peakfinder`: boolean, nb_peaks ≥ min_nb_peaks on a valid frame. */
export const VAR_IS_HIT = 'is_hit';

/** All names, for listing. */
export const SMX_VARS = {
  norm: VAR_NORM,
  valid: VAR_VALID,
  background_pixel_avg: VAR_BACKGROUND_PIXEL_AVG,
  background_pixel_std: VAR_BACKGROUND_PIXEL_STD,
  background_avg: VAR_BACKGROUND_AVG,
  background_std: VAR_BACKGROUND_STD,
  radial: VAR_RADIAL,
  radius_pixel: VAR_RADIUS_PIXEL,
  background_on_demand: VAR_BACKGROUND_ON_DEMAND,
  candidates: VAR_CANDIDATES,
  peaks: VAR_PEAKS,
  is_hit: VAR_IS_HIT,
} as const;
