/**
 * Tomography scene: a 3D phantom made of ellipsoids, rotated about the
 * vertical axis, seen in parallel-beam transmission. Projections are exact
 * and cheap because the line integral of an ellipsoid is analytic (its
 * chord length); the camera then adds Poisson noise, offset and read noise.
 *
 * Scan layout (by frame index, the convention the `tomo` pipeline reads
 * from the detector description): `tomo_darks` darks (shutter closed), then
 * `tomo_flats` flats (sample out of the beam), then `tomo_projections`
 * projections at θ_k = k·tomo_angle_range/(tomo_projections − 1), both ends
 * included (so a 180° scan holds the 0°/180° pair). Frames past the scan
 * keep rotating. Each frame's truth carries NXtomo's `image_key`
 * (0 projection, 1 flat, 2 dark) and `rotation_angle` (degrees).
 *
 * Coordinates, in detector pixels: z = row − (rows − 1)/2 (along the axis),
 * x across the beam and y along it in the sample frame. The axis projects
 * onto column cor = (cols − 1)/2 + tomo_cor_offset. Sample point (x, y, z)
 * rotated by θ lands on column u = cor + x cos θ + y sin θ, so projection θ
 * is p(θ, u, z) = ∫ μ(u' cos θ − t sin θ, u' sin θ + t cos θ, z) dt with
 * u' = u − cor — the Radon convention the reconstruction inverts.
 * Phantom coordinates are in units of R = min(rows, cols)/2 pixels, and a
 * phantom value v is an attenuation μ = v · tomo_mu / R per pixel.
 */
import { hash2, frameKey, unit } from './random.js';
import type { SimConfig } from './config.js';
import type { FieldError } from '../../protocol/index.js';

/** One ellipsoid: value, semi-axes (a, b, c) and centre (x0, y0, z0) in units of R, rotation about z in degrees. */
export interface Ellipsoid {
  value: number;
  a: number;
  b: number;
  c: number;
  x0: number;
  y0: number;
  z0: number;
  phi: number;
}

/**
 * 3D Shepp–Logan (Kak & Slaney's ellipsoids with Toft's higher contrast),
 * tilts about the horizontal axes left out: x across, y along the beam at θ = 0.
 */
export const SHEPP_LOGAN_3D: Ellipsoid[] = [
  { value: 1.0, a: 0.69, b: 0.92, c: 0.81, x0: 0, y0: 0, z0: 0, phi: 0 },
  { value: -0.8, a: 0.6624, b: 0.874, c: 0.78, x0: 0, y0: -0.0184, z0: 0, phi: 0 },
  { value: -0.2, a: 0.11, b: 0.31, c: 0.22, x0: 0.22, y0: 0, z0: 0, phi: -18 },
  { value: -0.2, a: 0.16, b: 0.41, c: 0.28, x0: -0.22, y0: 0, z0: 0, phi: 18 },
  { value: 0.1, a: 0.21, b: 0.25, c: 0.41, x0: 0, y0: 0.35, z0: -0.15, phi: 0 },
  { value: 0.1, a: 0.046, b: 0.046, c: 0.05, x0: 0, y0: 0.1, z0: 0.25, phi: 0 },
  { value: 0.1, a: 0.046, b: 0.046, c: 0.05, x0: 0, y0: -0.1, z0: 0.25, phi: 0 },
  { value: 0.1, a: 0.046, b: 0.023, c: 0.05, x0: -0.08, y0: -0.605, z0: 0, phi: 0 },
  { value: 0.1, a: 0.023, b: 0.023, c: 0.02, x0: 0, y0: -0.606, z0: 0, phi: 0 },
  { value: 0.1, a: 0.023, b: 0.046, c: 0.02, x0: 0.06, y0: -0.605, z0: 0, phi: 0 },
];

/**
 * Porous sample: a matrix ellipsoid (value 1) with `n` spherical pores
 * (value −1, empty) and `n/4` dense inclusions (+1), at positions drawn from
 * the seed and kept apart, so each feature is a known, isolated sphere.
 */
export function porousPhantom(seed: number, n = 16): Ellipsoid[] {
  const out: Ellipsoid[] = [{ value: 1, a: 0.85, b: 0.85, c: 0.85, x0: 0, y0: 0, z0: 0, phi: 0 }];
  const key = frameKey(seed, 0x70, 0);
  const features: Ellipsoid[] = [];
  const total = n + Math.floor(n / 4);
  for (let attempt = 0; features.length < total && attempt < 10000; attempt++) {
    const h = hash2(attempt, key);
    const r = 0.05 + 0.07 * unit(hash2(1, h));
    const x0 = (unit(hash2(2, h)) * 2 - 1) * 0.7, y0 = (unit(hash2(3, h)) * 2 - 1) * 0.7, z0 = (unit(hash2(4, h)) * 2 - 1) * 0.7;
    if (Math.hypot(x0, y0, z0) + r > 0.78) continue;
    if (features.some((f) => Math.hypot(f.x0 - x0, f.y0 - y0, f.z0 - z0) < f.a + r + 0.04)) continue;
    const value = features.length < n ? -1 : 1;
    features.push({ value, a: r, b: r, c: r, x0: round4(x0), y0: round4(y0), z0: round4(z0), phi: 0 });
  }
  for (const f of features) f.a = f.b = f.c = round4(f.a);
  return [...out, ...features];
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

export interface TomoLayout {
  darks: number;
  flats: number;
  projections: number;
  /** degrees */
  angleRange: number;
  /** column of the rotation axis (pixel centres at integers) */
  cor: number;
}

export function tomoLayout(cfg: SimConfig, cols: number): TomoLayout {
  return {
    darks: cfg.tomo_darks,
    flats: cfg.tomo_flats,
    projections: cfg.tomo_projections,
    angleRange: cfg.tomo_angle_range,
    cor: (cols - 1) / 2 + cfg.tomo_cor_offset,
  };
}

/** NXtomo image_key and rotation angle (degrees) of frame `index`. */
export function frameKind(layout: TomoLayout, index: number): { image_key: 0 | 1 | 2; rotation_angle: number } {
  if (index < layout.darks) return { image_key: 2, rotation_angle: 0 };
  if (index < layout.darks + layout.flats) return { image_key: 1, rotation_angle: 0 };
  const k = index - layout.darks - layout.flats;
  return { image_key: 0, rotation_angle: (k * layout.angleRange) / (layout.projections - 1) };
}

/** Frames in the scan: darks + flats + projections. */
export const scanFrames = (l: TomoLayout): number => l.darks + l.flats + l.projections;

/** Cross-field checks of the tomography scene (the schema checks each field's range). */
export function checkTomoConfig(cfg: SimConfig, shape: number[]): FieldError[] {
  const errors: FieldError[] = [];
  if (cfg.scene !== 'tomography') return errors;
  const [rows, cols] = shape;
  const total = cfg.tomo_darks + cfg.tomo_flats + cfg.tomo_projections;
  if (cfg.pool_size !== 0 && cfg.pool_size < total) {
    errors.push({
      field: 'detector.pool_size',
      message: `the tomography scan has ${total} frames (${cfg.tomo_darks} darks + ${cfg.tomo_flats} flats + ${cfg.tomo_projections} projections); pool_size must be 0 (render live) or at least ${total}`,
    });
  }
  if (Math.abs(cfg.tomo_cor_offset) > cols / 4) {
    errors.push({ field: 'detector.tomo_cor_offset', message: `${cfg.tomo_cor_offset} px moves the axis more than a quarter of the ${cols}-pixel width off centre: the sample would leave the field of view` });
  }
  if (rows < 16 || cols < 16) errors.push({ field: 'detector', message: `tomography needs frames of at least 16 × 16 pixels, got ${rows} × ${cols}` });
  return errors;
}

/** Per-ellipsoid constants of the chord computation for one projection angle. */
interface Prepared {
  value: number;
  /** p' = u·A + z·B + C (ellipsoid frame, unit sphere), D = direction of the ray in that frame */
  A: [number, number, number];
  B: [number, number, number];
  C: [number, number, number];
  D: [number, number, number];
  /** D·D */
  dd: number;
  /** rows (z in pixels) the ellipsoid covers */
  zmin: number;
  zmax: number;
}

/**
 * The phantom at a given size: exact line integrals (projections) and point
 * samples (the reference volume). Units: pixels in, attenuation per pixel out.
 */
export class Phantom {
  readonly R: number;
  constructor(
    readonly ellipsoids: Ellipsoid[],
    readonly rows: number,
    readonly cols: number,
    /** attenuation of a phantom value 1, per R */
    readonly mu: number,
  ) {
    this.R = Math.min(rows, cols) / 2;
  }

  private prepare(thetaDeg: number): Prepared[] {
    const th = (thetaDeg * Math.PI) / 180;
    const ct = Math.cos(th), st = Math.sin(th);
    const R = this.R;
    return this.ellipsoids.map((e) => {
      const ph = (e.phi * Math.PI) / 180;
      const cp = Math.cos(ph), sp = Math.sin(ph);
      const a = e.a * R, b = e.b * R, c = e.c * R;
      // M = S⁻¹ Rzᵀ: world (sample frame) → unit sphere
      const M = (v: [number, number, number]): [number, number, number] => [
        (cp * v[0] + sp * v[1]) / a,
        (-sp * v[0] + cp * v[1]) / b,
        v[2] / c,
      ];
      const A = M([ct, st, 0]);
      const B = M([0, 0, 1]);
      const m = M([e.x0 * R, e.y0 * R, e.z0 * R]);
      const D = M([-st, ct, 0]);
      return {
        value: e.value,
        A,
        B,
        C: [-m[0], -m[1], -m[2]],
        D,
        dd: D[0] * D[0] + D[1] * D[1] + D[2] * D[2],
        zmin: e.z0 * R - c,
        zmax: e.z0 * R + c,
      };
    });
  }

  /**
   * Line integrals ∫μ dt (dimensionless absorbance) at angle θ (degrees) for
   * the axis at column `cor`, into out[(row − first)·cols + col] for rows
   * first ≤ row < last (default: all).
   */
  project(thetaDeg: number, cor: number, out: Float32Array | Float64Array, first = 0, last = this.rows): void {
    const { rows, cols } = this;
    const zc = (rows - 1) / 2;
    const scale = this.mu / this.R;
    out.fill(0, 0, (last - first) * cols);
    for (const e of this.prepare(thetaDeg)) {
      const r0 = Math.max(first, Math.floor(e.zmin + zc)), r1 = Math.min(last - 1, Math.ceil(e.zmax + zc));
      const [Ax, Ay, Az] = e.A, [Dx, Dy, Dz] = e.D;
      const dd = e.dd, w = (2 * e.value * scale) / dd;
      for (let r = r0; r <= r1; r++) {
        const z = r - zc;
        // p'(u) = u·A + P0; b(u) = p'·D; q(u) = p'·p' − 1; chord = 2·sqrt(b² − dd·q)/dd
        const P0x = z * e.B[0] + e.C[0], P0y = z * e.B[1] + e.C[1], P0z = z * e.B[2] + e.C[2];
        const o = (r - first) * cols;
        for (let col = 0; col < cols; col++) {
          const u = col - cor;
          const px = u * Ax + P0x, py = u * Ay + P0y, pz = u * Az + P0z;
          const b = px * Dx + py * Dy + pz * Dz;
          const disc = b * b - dd * (px * px + py * py + pz * pz - 1);
          if (disc > 0) out[o + col] += w * Math.sqrt(disc);
        }
      }
    }
  }

  /** μ (per pixel) at voxel centres of slice z (row index), on the reconstruction grid nx = ny = cols, centred on the axis. */
  slice(row: number, out: Float32Array): void {
    const n = this.cols, R = this.R;
    const z = row - (this.rows - 1) / 2;
    const h = (n - 1) / 2;
    out.fill(0);
    for (const e of this.ellipsoids) {
      const ph = (e.phi * Math.PI) / 180;
      const cp = Math.cos(ph), sp = Math.sin(ph);
      const dz = (z - e.z0 * R) / (e.c * R);
      const rest = 1 - dz * dz;
      if (rest <= 0) continue;
      const v = (e.value * this.mu) / R;
      for (let iy = 0; iy < n; iy++) {
        const y = iy - h - e.y0 * R;
        for (let ix = 0; ix < n; ix++) {
          const x = ix - h - e.x0 * R;
          const xr = (cp * x + sp * y) / (e.a * R), yr = (-sp * x + cp * y) / (e.b * R);
          if (xr * xr + yr * yr <= rest) out[iy * n + ix] += v;
        }
      }
    }
  }
}

/** Flat-field beam profile (photons per pixel per frame): a broad bump, so flat-field normalisation matters. */
export function beamProfile(rows: number, cols: number, mean: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const y = (r - (rows - 1) / 2) / (0.6 * rows);
    for (let c = 0; c < cols; c++) {
      const x = (c - (cols - 1) / 2) / (0.6 * cols);
      out[r * cols + c] = mean * (0.8 + 0.2 * Math.exp(-(x * x + y * y)));
    }
  }
}
