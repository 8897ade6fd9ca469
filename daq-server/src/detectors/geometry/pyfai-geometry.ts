/**
 * pyFAI detector geometry: scattering angle 2θ, azimuth χ, q, radius,
 * solid angle and polarization per pixel, with pyFAI's conventions
 * (metres, radians; axis 1 = slow/rows, axis 2 = fast/cols, axis 3 along
 * the beam):
 *
 *   p1 = d1 − poni1, p2 = d2 − poni2 (d = pixel centre from the detector origin, pixel1·(i+0.5) on a grid), L = dist
 *   t1 = p1·c2c3 + p2·(c3s1s2 − c1s3) − L·(c1c3s2 + s1s3)
 *   t2 = p1·c2s3 + p2·(c1c3 + s1s2s3) − L·(−c3s1 + c1s2s3)
 *   t3 = p1·s2 − p2·c2s1 + L·c1c2
 *   2θ = atan2(√(t1²+t2²), t3), χ = atan2(t1, t2), r = √(t1²+t2²)
 *   q [nm⁻¹] = 4π·10⁻⁹/λ · sin(2θ/2)
 *   solid angle (relative to the PONI pixel) = cos³α, cosα = L/√(L²+p1²+p2²)
 *   polarization P = ½·(1 + cos²2θ − f·cos(2(χ+offset))·(1 − cos²2θ))
 *
 * `PyFAIGeometry` computes each per-pixel array once (lazily) and caches it;
 * pixels are either a regular grid or arbitrary centres (raw Jungfrau with
 * its double-size chip-border pixels, see jungfrau-layout.ts).
 */
import type { PoniParameters } from './poni.js';

export type { PoniParameters } from './poni.js';

/** h·c in keV·m: λ[m] = HC_KEV_M / E[keV]. */
export const HC_KEV_M = 12.398419843320026e-10;

export const energyToWavelength = (energyKeV: number): number => HC_KEV_M / energyKeV;
export const wavelengthToEnergy = (wavelength: number): number => HC_KEV_M / wavelength;

/** Radial units as pyFAI names them, with their scale from the base quantity (2θ in rad, q in nm⁻¹, r in m). */
export const RADIAL_UNITS = {
  '2th_rad': { base: 'tth', scale: 1 },
  '2th_deg': { base: 'tth', scale: 180 / Math.PI },
  'q_nm^-1': { base: 'q', scale: 1 },
  'q_A^-1': { base: 'q', scale: 0.1 },
  r_m: { base: 'r', scale: 1 },
  r_mm: { base: 'r', scale: 1000 },
} as const;
export type RadialUnit = keyof typeof RADIAL_UNITS;

/** Pixel centres (and half extents) in metres from the detector origin (corner of pixel 0,0). */
export interface PixelPositions {
  count: number;
  /** centre along axis 1 (rows) of each pixel */
  d1: Float64Array;
  /** centre along axis 2 (cols) of each pixel */
  d2: Float64Array;
  /** half size along axis 1: one number for all pixels, or one per pixel */
  half1: number | Float64Array;
  half2: number | Float64Array;
  /** [rows, cols] when the pixels form a regular grid (row-major) */
  shape: [number, number] | null;
}

/** Pixel centres of a regular rows × cols grid: d1 = pixel1·(i+0.5), d2 = pixel2·(j+0.5). */
export function gridPositions(rows: number, cols: number, pixel1: number, pixel2: number): PixelPositions {
  const n = rows * cols;
  const d1 = new Float64Array(n);
  const d2 = new Float64Array(n);
  for (let i = 0; i < rows; i++) {
    const y = pixel1 * (i + 0.5);
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      d1[o + j] = y;
      d2[o + j] = pixel2 * (j + 0.5);
    }
  }
  return { count: n, d1, d2, half1: pixel1 / 2, half2: pixel2 / 2, shape: [rows, cols] };
}

/** Rotation coefficients of a geometry (the matrix of the formulas above). */
interface Rotation {
  a11: number; a12: number; a13: number;
  a21: number; a22: number; a23: number;
  a31: number; a32: number; a33: number;
}

function rotation(g: PoniParameters): Rotation {
  const c1 = Math.cos(g.rot1), s1 = Math.sin(g.rot1);
  const c2 = Math.cos(g.rot2), s2 = Math.sin(g.rot2);
  const c3 = Math.cos(g.rot3), s3 = Math.sin(g.rot3);
  return {
    a11: c2 * c3, a12: c3 * s1 * s2 - c1 * s3, a13: -(c1 * c3 * s2 + s1 * s3),
    a21: c2 * s3, a22: c1 * c3 + s1 * s2 * s3, a23: -(-c3 * s1 + c1 * s2 * s3),
    a31: s2, a32: -c2 * s1, a33: c1 * c2,
  };
}

/** Laboratory coordinates (t1, t2, t3) of a point at (d1, d2) metres from the detector origin. */
export function labPosition(g: PoniParameters, d1: number, d2: number): [number, number, number] {
  const r = rotation(g);
  const p1 = d1 - g.poni1, p2 = d2 - g.poni2, L = g.dist;
  return [r.a11 * p1 + r.a12 * p2 + r.a13 * L, r.a21 * p1 + r.a22 * p2 + r.a23 * L, r.a31 * p1 + r.a32 * p2 + r.a33 * L];
}

/** 2θ (rad) of the point (d1, d2) metres from the detector origin. */
export function tthAt(g: PoniParameters, d1: number, d2: number): number {
  const [t1, t2, t3] = labPosition(g, d1, d2);
  return Math.atan2(Math.sqrt(t1 * t1 + t2 * t2), t3);
}

/** χ (rad) of the point (d1, d2). */
export function chiAt(g: PoniParameters, d1: number, d2: number): number {
  const [t1, t2] = labPosition(g, d1, d2);
  return Math.atan2(t1, t2);
}

/** q in nm⁻¹ from 2θ (rad) and λ (m). */
export const qFromTth = (tth: number, wavelength: number): number => ((4e-9 * Math.PI) / wavelength) * Math.sin(tth / 2);

/** 2θ (rad) from q (nm⁻¹) and λ (m); NaN beyond backscattering. */
export const tthFromQ = (q: number, wavelength: number): number => 2 * Math.asin((q * wavelength) / (4e-9 * Math.PI));

/** Bragg's law: 2θ (rad) of a d-spacing (m) at λ (m); NaN when λ > 2d. */
export const braggTth = (d: number, wavelength: number): number => 2 * Math.asin(wavelength / (2 * d));

const TWO_PI = 2 * Math.PI;

/** Per-pixel pyFAI geometry, each array computed once on first use. */
export class PyFAIGeometry {
  readonly poni: PoniParameters;
  readonly pixels: PixelPositions;
  private tthCache: Float64Array | null = null;
  private chiCache: Float64Array | null = null;
  private rCache: Float64Array | null = null;
  private qCache: Float64Array | null = null;
  private saCache: Float64Array | null = null;
  private deltaCache: { tth: Float64Array; chi: Float64Array } | null = null;
  private polCache = new Map<string, Float64Array>();

  constructor(poni: PoniParameters, pixels: PixelPositions) {
    if (!(poni.dist > 0)) throw new RangeError(`geometry: dist must be > 0 (got ${poni.dist})`);
    this.poni = { ...poni };
    this.pixels = pixels;
  }

  /** Geometry of a regular detector of `shape` [rows, cols] with `pixelSize` [pixel1, pixel2] in metres. */
  static forDetector(poni: PoniParameters, shape: readonly [number, number] | readonly number[], pixelSize: readonly [number, number] | readonly number[]): PyFAIGeometry {
    return new PyFAIGeometry(poni, gridPositions(shape[0], shape[1], pixelSize[0], pixelSize[1]));
  }

  get count(): number {
    return this.pixels.count;
  }

  get wavelength(): number | null {
    return this.poni.wavelength;
  }

  private computeAngles(): void {
    const { d1, d2, count } = this.pixels;
    const g = this.poni;
    const R = rotation(g);
    const L = g.dist;
    const tth = new Float64Array(count);
    const chi = new Float64Array(count);
    const c1 = R.a13 * L, c2 = R.a23 * L, c3 = R.a33 * L;
    for (let k = 0; k < count; k++) {
      const p1 = d1[k] - g.poni1, p2 = d2[k] - g.poni2;
      const t1 = R.a11 * p1 + R.a12 * p2 + c1;
      const t2 = R.a21 * p1 + R.a22 * p2 + c2;
      const t3 = R.a31 * p1 + R.a32 * p2 + c3;
      tth[k] = Math.atan2(Math.sqrt(t1 * t1 + t2 * t2), t3);
      chi[k] = Math.atan2(t1, t2);
    }
    this.tthCache = tth;
    this.chiCache = chi;
  }

  /** 2θ per pixel centre, radians. */
  tth(): Float64Array {
    if (!this.tthCache) this.computeAngles();
    return this.tthCache!;
  }

  /** χ per pixel centre, radians in (−π, π]. */
  chi(): Float64Array {
    if (!this.chiCache) this.computeAngles();
    return this.chiCache!;
  }

  /** q per pixel centre, nm⁻¹ (needs the wavelength). */
  q(): Float64Array {
    if (!this.qCache) {
      const wl = this.poni.wavelength;
      if (!(wl !== null && wl > 0)) throw new RangeError('geometry: q needs a wavelength');
      const tth = this.tth();
      const f = (4e-9 * Math.PI) / wl;
      const q = new Float64Array(tth.length);
      for (let k = 0; k < q.length; k++) q[k] = f * Math.sin(tth[k] / 2);
      this.qCache = q;
    }
    return this.qCache;
  }

  /** r = √(t1²+t2²) per pixel centre, metres (distance from the beam in the plane normal to it). */
  r(): Float64Array {
    if (!this.rCache) {
      const { d1, d2, count } = this.pixels;
      const g = this.poni;
      const R = rotation(g);
      const L = g.dist;
      const out = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        const p1 = d1[k] - g.poni1, p2 = d2[k] - g.poni2;
        const t1 = R.a11 * p1 + R.a12 * p2 + R.a13 * L;
        const t2 = R.a21 * p1 + R.a22 * p2 + R.a23 * L;
        out[k] = Math.sqrt(t1 * t1 + t2 * t2);
      }
      this.rCache = out;
    }
    return this.rCache;
  }

  /** Radial position in a pyFAI unit (new array for scaled units; the cached one for 2th_rad, q_nm^-1, r_m). */
  radial(unit: RadialUnit): Float64Array {
    const u = RADIAL_UNITS[unit];
    const base = u.base === 'tth' ? this.tth() : u.base === 'q' ? this.q() : this.r();
    if (u.scale === 1) return base;
    const out = new Float64Array(base.length);
    for (let k = 0; k < out.length; k++) out[k] = base[k] * u.scale;
    return out;
  }

  /** Relative solid angle cos³α, 1 at the PONI. */
  solidAngle(): Float64Array {
    if (!this.saCache) {
      const { d1, d2, count } = this.pixels;
      const g = this.poni;
      const L2 = g.dist * g.dist;
      const out = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        const p1 = d1[k] - g.poni1, p2 = d2[k] - g.poni2;
        const c = g.dist / Math.sqrt(L2 + p1 * p1 + p2 * p2);
        out[k] = c * c * c;
      }
      this.saCache = out;
    }
    return this.saCache;
  }

  /** Polarization factor for polarization `factor` f ∈ [−1, 1] and `offset` (rad) of the polarization plane. */
  polarization(factor: number, offset = 0): Float64Array {
    const key = `${factor}/${offset}`;
    let out = this.polCache.get(key);
    if (!out) {
      const tth = this.tth(), chi = this.chi();
      out = new Float64Array(tth.length);
      for (let k = 0; k < out.length; k++) {
        const c = Math.cos(tth[k]);
        const c2 = c * c;
        out[k] = 0.5 * (1 + c2 - factor * Math.cos(2 * (chi[k] + offset)) * (1 - c2));
      }
      this.polCache.set(key, out);
    }
    return out;
  }

  /**
   * Half-width of each pixel in 2θ and in χ (rad): the largest deviation of
   * the four pixel corners from the centre value (for pyFAI-style bbox
   * pixel splitting). χ differences are taken modulo 2π.
   */
  deltas(): { tth: Float64Array; chi: Float64Array } {
    if (!this.deltaCache) {
      const { d1, d2, count, half1, half2 } = this.pixels;
      const g = this.poni;
      const R = rotation(g);
      const L = g.dist;
      const tth = this.tth(), chi = this.chi();
      const dt = new Float64Array(count);
      const dc = new Float64Array(count);
      const h1s = typeof half1 === 'number' ? null : half1;
      const h2s = typeof half2 === 'number' ? null : half2;
      for (let k = 0; k < count; k++) {
        const h1 = h1s ? h1s[k] : (half1 as number);
        const h2 = h2s ? h2s[k] : (half2 as number);
        let mt = 0, mc = 0;
        for (let c = 0; c < 4; c++) {
          const p1 = d1[k] + (c & 1 ? h1 : -h1) - g.poni1;
          const p2 = d2[k] + (c & 2 ? h2 : -h2) - g.poni2;
          const t1 = R.a11 * p1 + R.a12 * p2 + R.a13 * L;
          const t2 = R.a21 * p1 + R.a22 * p2 + R.a23 * L;
          const t3 = R.a31 * p1 + R.a32 * p2 + R.a33 * L;
          const a = Math.abs(Math.atan2(Math.sqrt(t1 * t1 + t2 * t2), t3) - tth[k]);
          if (a > mt) mt = a;
          let b = Math.abs(Math.atan2(t1, t2) - chi[k]);
          if (b > Math.PI) b = TWO_PI - b;
          if (b > mc) mc = b;
        }
        dt[k] = mt;
        dc[k] = mc;
      }
      this.deltaCache = { tth: dt, chi: dc };
    }
    return this.deltaCache;
  }

  /** Where the direct beam (2θ = 0) hits the detector plane, in metres from the origin [d1, d2]; null if it misses. */
  beamCentre(): [number, number] | null {
    // the beam direction is (0, 0, 1) in the lab; the detector point p (t-coords) satisfies t1 = t2 = 0
    const R = rotation(this.poni);
    const L = this.poni.dist;
    // solve [a11 a12; a21 a22] [p1 p2]ᵀ = −L [a13 a23]ᵀ
    const det = R.a11 * R.a22 - R.a12 * R.a21;
    if (Math.abs(det) < 1e-15) return null;
    const b1 = -L * R.a13, b2 = -L * R.a23;
    const p1 = (b1 * R.a22 - R.a12 * b2) / det;
    const p2 = (R.a11 * b2 - b1 * R.a21) / det;
    const t3 = R.a31 * p1 + R.a32 * p2 + R.a33 * L;
    if (!(t3 > 0)) return null;
    return [p1 + this.poni.poni1, p2 + this.poni.poni2];
  }
}
