/**
 * Units and ranges as pyFAI uses them for integration.
 *
 * Positions are handled internally in pyFAI's base units (2θ in rad, q in
 * nm⁻¹, r in m, χ in rad) and scaled only for output, exactly as pyFAI's
 * `unit.scale` does. The radial units are the geometry module's
 * `RADIAL_UNITS`; this file adds what integration needs on top: parsing,
 * pyFAI's float32 upper-bound nudge, and pyFAI's azimuth-range convention.
 */
import { RADIAL_UNITS, type RadialUnit } from '../../detectors/geometry/pyfai-geometry.js';

export { RADIAL_UNITS, type RadialUnit };

/** The radial unit names daqlab accepts, as pyFAI spells them. */
export const RADIAL_UNIT_NAMES = Object.keys(RADIAL_UNITS) as RadialUnit[];

export const isRadialUnit = (u: unknown): u is RadialUnit => typeof u === 'string' && Object.hasOwn(RADIAL_UNITS, u);

/** 1 + float32 machine epsilon (1 + 2⁻²³), pyFAI's `EPS32`. */
export const EPS32 = 1 + 2 ** -23;

/**
 * pyFAI's `calc_upper_bound`: the exclusive upper edge of the last bin, the
 * largest position nudged up by one float32 ulp (relative), so that the
 * largest position still falls inside the last bin.
 */
export const upperBound = (maxIn: number): number => (maxIn > 0 ? maxIn * EPS32 : maxIn / EPS32);

/** Degrees per radian (pyFAI's `chi_deg` scale). */
export const DEG = 180 / Math.PI;

/**
 * pyFAI's `deg2rad(dd, disc=True)`: an angle in degrees to radians in
 * [−π, π[ (the χ discontinuity at π, pyFAI's default).
 */
export function deg2radDisc(deg: number): number {
  let rp = (deg / 180) % 2; // JS % keeps the sign: bring it to [0, 2[ like Python's %
  if (rp < 0) rp += 2;
  if (rp >= 1) rp -= 2;
  return rp * Math.PI;
}

/**
 * pyFAI's `normalize_azimuth_range`: a χ range in degrees to radians, both
 * ends mapped to [−π, π[, and the upper end moved up by 2π when it is not
 * above the lower end (so (−180, 180) → (−π, π), (90, −90) → (π/2, 3π/2)).
 * χ of pixels is in ]−π, π], so a range reaching past π selects only part
 * of what it names (pyFAI warns "partial"; so does the step's check).
 */
export function normalizeAzimuthRange(range: readonly [number, number]): [number, number] {
  const lo = deg2radDisc(range[0]);
  let hi = deg2radDisc(range[1]);
  if (hi <= lo) hi += 2 * Math.PI;
  return [lo, hi];
}
