/**
 * Diffraction geometry on LiveImage: the beam centre and rings of constant q or 2θ drawn over the
 * detector, and q / 2θ / resolution under the cursor. The geometry is pyFAI's (PONI: metres and
 * radians, axis 1 = rows, axis 2 = columns), as a scan records it in
 * `info.detector_description.geometry`; the formulas are those of
 * daq-server/src/detectors/geometry/pyfai-geometry.ts (the unit tests check the two agree).
 * Detector coordinates here are continuous pixels: pixel (row i, column j) spans i…i+1, j…j+1.
 * Free of DOM (unit tested in Node).
 */
import { niceTicks } from './axes.js';

export interface Poni {
  dist: number;
  poni1: number;
  poni2: number;
  rot1: number;
  rot2: number;
  rot3: number;
  /** metres; 0 when unknown (no q, no resolution) */
  wavelength: number;
  pixel1: number;
  pixel2: number;
}

export type RingUnit = 'q' | '2theta';

/** The geometry a scan summary's info carries, or null when it has none (or not a usable one). */
export function poniOf(info: Record<string, unknown> | undefined): Poni | null {
  const desc = info?.detector_description as Record<string, unknown> | undefined;
  const g = desc?.geometry as Record<string, unknown> | undefined;
  if (!g) return null;
  const num = (k: string, fallback?: number) => (typeof g[k] === 'number' && Number.isFinite(g[k]) ? (g[k] as number) : fallback);
  const dist = num('dist');
  const pixel1 = num('pixel1');
  const pixel2 = num('pixel2');
  const poni1 = num('poni1');
  const poni2 = num('poni2');
  if (!dist || !pixel1 || !pixel2 || poni1 === undefined || poni2 === undefined || dist <= 0) return null;
  const wl = num('wavelength', typeof desc?.wavelength === 'number' ? (desc.wavelength as number) : 0)!;
  return { dist, poni1, poni2, pixel1, pixel2, rot1: num('rot1', 0)!, rot2: num('rot2', 0)!, rot3: num('rot3', 0)!, wavelength: wl > 0 ? wl : 0 };
}

/** The rotation matrix A of pyFAI's formulas: lab (t1, t2, t3) = A · (p1, p2, L). */
function matrix(g: Poni): number[][] {
  const c1 = Math.cos(g.rot1), s1 = Math.sin(g.rot1);
  const c2 = Math.cos(g.rot2), s2 = Math.sin(g.rot2);
  const c3 = Math.cos(g.rot3), s3 = Math.sin(g.rot3);
  return [
    [c2 * c3, c3 * s1 * s2 - c1 * s3, -(c1 * c3 * s2 + s1 * s3)],
    [c2 * s3, c1 * c3 + s1 * s2 * s3, -(-c3 * s1 + c1 * s2 * s3)],
    [s2, -c2 * s1, c1 * c2],
  ];
}

/** 2θ (rad) at detector point (x = column, y = row). */
export function tthAtPixel(g: Poni, x: number, y: number): number {
  const a = matrix(g);
  const p1 = y * g.pixel1 - g.poni1, p2 = x * g.pixel2 - g.poni2, L = g.dist;
  const t = a.map((r) => r[0] * p1 + r[1] * p2 + r[2] * L);
  return Math.atan2(Math.hypot(t[0], t[1]), t[2]);
}

/** q in nm⁻¹ of 2θ (rad) at λ (m). */
export const qOfTth = (tth: number, wavelength: number): number => ((4e-9 * Math.PI) / wavelength) * Math.sin(tth / 2);
/** 2θ (rad) of q (nm⁻¹); NaN beyond backscattering. */
export const tthOfQ = (q: number, wavelength: number): number => 2 * Math.asin((q * wavelength) / (4e-9 * Math.PI));
/** Resolution d = λ / (2 sin θ), in Å. */
export const dOfTth = (tth: number, wavelength: number): number => (wavelength * 1e10) / (2 * Math.sin(tth / 2));

/**
 * Where the ray at (2θ, χ) meets the detector plane, as detector (x, y); null when it does not
 * (the ray runs away from the detector). χ as pyFAI: atan2(t1, t2).
 */
export function pointAt(g: Poni, tth: number, chi: number): [number, number] | null {
  const a = matrix(g);
  const u = [Math.sin(tth) * Math.sin(chi), Math.sin(tth) * Math.cos(chi), Math.cos(tth)];
  // p1·A₁ + p2·A₂ − λ·u = −L·A₃ (A_k: columns of A), solved by Cramer's rule
  const col = (k: number) => [a[0][k], a[1][k], a[2][k]];
  const m = [col(0), col(1), u.map((v) => -v)];
  const rhs = col(2).map((v) => -v * g.dist);
  const det3 = (c0: number[], c1: number[], c2: number[]) =>
    c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c1[0] * (c0[1] * c2[2] - c0[2] * c2[1]) + c2[0] * (c0[1] * c1[2] - c0[2] * c1[1]);
  const d = det3(m[0], m[1], m[2]);
  if (Math.abs(d) < 1e-15) return null;
  const p1 = det3(rhs, m[1], m[2]) / d;
  const p2 = det3(m[0], rhs, m[2]) / d;
  const lambda = det3(m[0], m[1], rhs) / d;
  if (!(lambda > 0)) return null;
  return [(p2 + g.poni2) / g.pixel2, (p1 + g.poni1) / g.pixel1];
}

/** The direct beam's point on the detector (x, y), or null when it misses the detector plane. */
export const beamCentre = (g: Poni): [number, number] | null => pointAt(g, 0, 0);

/** A ring of constant 2θ as `n` detector points (x0, y0, x1, y1, …; NaN where the ray misses). */
export function ringPoints(g: Poni, tth: number, n = 180): Float64Array {
  const out = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    const p = pointAt(g, tth, (2 * Math.PI * k) / n - Math.PI);
    out[2 * k] = p ? p[0] : NaN;
    out[2 * k + 1] = p ? p[1] : NaN;
  }
  return out;
}

export interface Ring {
  /** in the ring unit: q in nm⁻¹ or 2θ in degrees */
  value: number;
  tth: number;
  /** resolution in Å (NaN without a wavelength) */
  d: number;
  label: string;
}

/**
 * Rings to draw on a rows × cols detector: nice values of q (nm⁻¹) or 2θ (°) between the smallest
 * and largest 2θ on the detector. q needs the wavelength: without it, 2θ rings.
 */
export function chooseRings(g: Poni, rows: number, cols: number, unit: RingUnit, target = 5): Ring[] {
  const corners = [[0, 0], [cols, 0], [0, rows], [cols, rows]].map(([x, y]) => tthAtPixel(g, x, y));
  const c = beamCentre(g);
  const inside = c !== null && c[0] >= 0 && c[0] <= cols && c[1] >= 0 && c[1] <= rows;
  const lo = inside ? 0 : Math.min(...corners);
  const hi = Math.max(...corners);
  const useQ = unit === 'q' && g.wavelength > 0;
  const toUnit = (tth: number) => (useQ ? qOfTth(tth, g.wavelength) : (tth * 180) / Math.PI);
  const fromUnit = (v: number) => (useQ ? tthOfQ(v, g.wavelength) : (v * Math.PI) / 180);
  return niceTicks(toUnit(lo), toUnit(hi), target)
    .filter((v) => v > 0)
    .map((value) => {
      const tth = fromUnit(value);
      const d = g.wavelength > 0 ? dOfTth(tth, g.wavelength) : NaN;
      const head = useQ ? `q ${+value.toPrecision(4)} nm⁻¹` : `2θ ${+value.toPrecision(4)}°`;
      return { value, tth, d, label: Number.isFinite(d) ? `${head} · ${d.toFixed(d < 10 ? 2 : 1)} Å` : head };
    })
    .filter((r) => Number.isFinite(r.tth));
}
