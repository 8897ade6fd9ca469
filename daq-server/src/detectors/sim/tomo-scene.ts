/**
 * The `tomography` scene: per frame, the expected photons of a dark (none),
 * a flat (the beam profile) or a projection (beam × exp(−∫μ)) of the
 * phantom at that frame's angle. See tomo.ts for the geometry.
 */
import type { Scene, SceneContext } from './scenes.js';
import { Phantom, SHEPP_LOGAN_3D, beamProfile, frameKind, porousPhantom, scanFrames, tomoLayout, type TomoLayout } from './tomo.js';

export class TomographyScene implements Scene {
  readonly name = 'tomography' as const;
  readonly hasTruth = true;
  readonly layout: TomoLayout;
  readonly phantom: Phantom;
  private beam: Float32Array | null = null;
  private absorbance: Float64Array | null = null;

  constructor(private readonly ctx: SceneContext) {
    const [rows, cols] = ctx.spec.imageShape;
    this.layout = tomoLayout(ctx.cfg, cols);
    const ellipsoids = ctx.cfg.tomo_phantom === 'porous' ? porousPhantom(ctx.cfg.seed) : SHEPP_LOGAN_3D;
    this.phantom = new Phantom(ellipsoids, rows, cols, ctx.cfg.tomo_mu);
  }

  private beamMap(): Float32Array {
    if (!this.beam) {
      const [rows, cols] = this.ctx.spec.imageShape;
      this.beam = new Float32Array(rows * cols);
      beamProfile(rows, cols, this.ctx.cfg.flat_mean, this.beam);
    }
    return this.beam;
  }

  /** Mean flat (for viewers that ask for a static expectation). */
  base(): Float32Array {
    return this.beamMap();
  }

  dynamic(slot: number, out: Float32Array): Record<string, unknown> {
    const kind = frameKind(this.layout, slot);
    const beam = this.beamMap();
    if (kind.image_key === 2) out.fill(0);
    else if (kind.image_key === 1) out.set(beam);
    else {
      const p = (this.absorbance ??= new Float64Array(out.length));
      this.phantom.project(kind.rotation_angle, this.layout.cor, p);
      for (let k = 0; k < out.length; k++) out[k] = beam[k] * Math.exp(-p[k]);
    }
    return kind;
  }

  /** The scan as the tomo pipeline reads it from any detector: per frame image_key and rotation_angle (processing/tomo/scan.ts). */
  detectorMetadata(): Record<string, unknown> {
    const n = scanFrames(this.layout);
    const image_key: number[] = new Array(n), rotation_angle: number[] = new Array(n);
    for (let i = 0; i < n; i++) ({ image_key: image_key[i], rotation_angle: rotation_angle[i] } = frameKind(this.layout, i));
    return { tomo_scan: { image_key, rotation_angle, source: 'the simulated scan layout' } };
  }

  describe(): Record<string, unknown> {
    const l = this.layout;
    const c = this.ctx.cfg;
    return {
      model:
        'parallel-beam transmission of an ellipsoid phantom rotating about the vertical axis: ' +
        'photons = beam · exp(−∫μ dt), μ = value · tomo_mu / R per pixel, R = min(rows, cols)/2; camera noise on top',
      tomo: {
        nb_darks: l.darks,
        nb_flats: l.flats,
        nb_projections: l.projections,
        nb_frames: scanFrames(l),
        angle_range_deg: l.angleRange,
        angles: 'θ_k = k · angle_range / (nb_projections − 1), k = 0 … nb_projections − 1 (both ends included)',
        frame_order: 'darks (image_key 2), then flats (1), then projections (0)',
        center_of_rotation: l.cor,
        cor_offset: c.tomo_cor_offset,
        phantom: c.tomo_phantom,
        mu: c.tomo_mu,
        radius_px: this.phantom.R,
        ellipsoids: this.phantom.ellipsoids,
        coordinates:
          'pixels; z = row − (rows − 1)/2; volume voxel (iz, iy, ix) at x = ix − (cols − 1)/2, y = iy − (cols − 1)/2; ' +
          'ellipsoid centre and semi-axes in units of radius_px, phi: rotation about z in degrees',
        flat: 'beam profile flat_mean · (0.8 + 0.2 · exp(−(x² + y²))), x, y = offsets from the centre / (0.6 · size)',
      },
      truth: 'per frame: image_key (0 projection, 1 flat, 2 dark) and rotation_angle (degrees)',
    };
  }
}
