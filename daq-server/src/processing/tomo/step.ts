/**
 * The `tomo` step: flat/dark normalisation, −log and sinogram assembly per
 * frame (in the receiver thread, during the acquisition); after the last
 * frame, the centre of rotation (given, or from the 0°/180° pair) and
 * filtered back-projection on worker threads, publishing the volume slice
 * by slice (`volume`, item z = slice z) as soon as each slice is ready.
 *
 * What each frame is (dark, flat or projection at an angle) comes from the
 * detector's `tomo_scan` table — the simulator's scan layout online, the saved
 * NXtomo `image_key`/`rotation_angle` in a batch replay — or from the layout
 * parameters (see scan.ts).
 */
import { availableParallelism, totalmem } from 'node:os';
import type { TypedArray } from '../../protocol/index.js';
import type { FrameContext, ImageSpec, Step, StepBuild, StepEnvironment, StepFactory, StreamDecl } from '../types.js';
import { paramsSchema, withDefaults } from '../steps/common.js';
import { FILTERS, type FilterName } from './filters.js';
import { estimateCenter } from './cor.js';
import { reconstructVolume } from './reconstruct.js';
import { checkTomoFrames, IMAGE_KEY, resolveTomoFrames, TomoFrames } from './scan.js';

export interface TomoParams {
  filter: FilterName;
  center_of_rotation: number | null;
  cor_search: number | null;
  nb_darks: number | null;
  nb_flats: number | null;
  nb_projections: number | null;
  angle_range: number | null;
  slice_start: number;
  slice_stop: number | null;
  recon_threads: number;
  memory_limit: number | null;
}

const nullable = (type: string, description: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], default: null, description, ...extra });

export const TOMO_SCHEMA = paramsSchema('tomo', {
  filter: { enum: [...FILTERS], default: 'shepp-logan', description: 'Filter of the back-projection: ramp, shepp-logan (ramp × sinc) or hann (ramp × Hann window).' },
  center_of_rotation: nullable('number', 'Column of the rotation axis in pixels (pixel centres at integers); null: estimated from the 0°/180° projection pair.'),
  cor_search: nullable('number', 'Largest offset (pixels) of the axis from the centre column searched by the estimate; null: a quarter of the width.', { minimum: 1 }),
  nb_darks: nullable('integer', "Dark frames at the start of the scan; null: from the detector (its tomo_scan table: the simulator's layout, or the NXtomo image_key of a replayed scan).", { minimum: 0 }),
  nb_flats: nullable('integer', 'Flat fields after the darks; null: from the detector.', { minimum: 1 }),
  nb_projections: nullable('integer', 'Projections after the flats; null: from the detector.', { minimum: 2 }),
  angle_range: nullable('number', 'Rotation range in degrees covered by the projections, both ends included; null: from the detector.', { exclusiveMinimum: 0, maximum: 360 }),
  slice_start: { type: 'integer', minimum: 0, default: 0, description: 'First detector row reconstructed (volume slice 0).' },
  slice_stop: nullable('integer', 'Row after the last one reconstructed; null: all rows.', { minimum: 1 }),
  recon_threads: { type: 'integer', minimum: 0, maximum: 64, default: 0, description: 'Reconstruction threads; 0: one per CPU core.' },
  memory_limit: nullable('number', "Memory (MiB) the reconstruction may use: sinogram + volume + working buffers; null: the server's limit (half the machine memory), which a client can only lower. Larger scans are refused at prepare.", { exclusiveMinimum: 0 }),
});

const GiB = 1024 ** 3;
const fmt = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

/** Bytes the reconstruction holds: sinogram, volume (in the store), normalisation maps and per-thread slices. */
export function tomoMemory(rows: number, cols: number, slices: number, projections: number, threads: number): { sinogram: number; volume: number; working: number; total: number } {
  const sinogram = slices * projections * (cols + 1) * 4;
  const volume = slices * cols * cols * 4;
  const working = rows * cols * (8 + 8 + 4 + 4 + 4 + 4) + threads * (cols * cols * 4 + 64 * cols);
  return { sinogram, volume, working, total: sinogram + volume + working };
}

/** The server's ceiling on a reconstruction's memory: a client's `memory_limit` can only lower it. */
export const serverTomoLimit = (): number => totalmem() / 2;

/** The limit a reconstruction runs under, and what set it. */
function tomoLimit(p: TomoParams): { bytes: number; byServer: boolean } {
  const server = serverTomoLimit();
  const asked = p.memory_limit !== null ? p.memory_limit * 1024 ** 2 : Infinity;
  return asked < server ? { bytes: asked, byServer: false } : { bytes: server, byServer: true };
}

const threadsOf = (p: TomoParams): number => (p.recon_threads > 0 ? p.recon_threads : Math.max(1, Math.min(16, availableParallelism())));

function check(raw: Record<string, unknown>, input: ImageSpec, env: StepEnvironment): { field: string; message: string }[] {
  const p = withDefaults<TomoParams>(TOMO_SCHEMA, raw);
  const errors: { field: string; message: string }[] = [];
  if (input.shape.length !== 2) return [{ field: 'pipeline', message: `tomo needs 2D projections, got frames of shape [${input.shape.join(', ')}]` }];
  const [rows, cols] = input.shape;
  const { frames: layout, missing, errors: scanErrors } = resolveTomoFrames(p, env.detector);
  if (scanErrors.length) return scanErrors;
  if (!layout) {
    return missing.map((field) => ({
      field,
      message: 'is needed: the detector does not describe a tomography scan (no tomo_scan: use the sim-tomo-camera or scene "tomography", replay a master with NXtomo, or give the scan layout)',
    }));
  }
  errors.push(...checkTomoFrames(layout));
  const stop = p.slice_stop ?? rows;
  if (stop > rows) errors.push({ field: 'slice_stop', message: `${stop} is past the last detector row (${rows} rows)` });
  if (p.slice_start >= Math.min(stop, rows)) errors.push({ field: 'slice_start', message: `${p.slice_start} must be < slice_stop (${Math.min(stop, rows)})` });
  if (p.center_of_rotation !== null && (p.center_of_rotation < 0 || p.center_of_rotation > cols - 1)) {
    errors.push({ field: 'center_of_rotation', message: `${p.center_of_rotation} is outside the detector columns 0 … ${cols - 1}` });
  }
  if (errors.length) return errors;
  const slices = stop - p.slice_start;
  const m = tomoMemory(rows, cols, slices, layout.projections, threadsOf(p));
  const limit = tomoLimit(p);
  if (m.total > limit.bytes) {
    errors.push({
      field: 'memory_limit',
      message:
        `reconstructing ${slices} slices of ${cols} × ${cols} from ${layout.projections} projections of ${rows} × ${cols} needs ${fmt(m.total)} ` +
        `(sinogram ${fmt(m.sinogram)}, volume ${fmt(m.volume)}, buffers ${fmt(m.working)}), more than the limit of ${fmt(limit.bytes)}` +
        (!limit.byServer
          ? `: reconstruct fewer rows (slice_start/slice_stop) or raise memory_limit (up to the server's limit of ${fmt(serverTomoLimit())})`
          : ` (the server's limit, half the machine memory${p.memory_limit !== null ? `; memory_limit ${fmt(p.memory_limit * 1024 ** 2)} cannot raise it` : ''}): ` +
            'reconstruct fewer rows (slice_start/slice_stop)'),
    });
  }
  return errors;
}

class TomoStep implements Step {
  private readonly rows: number;
  private readonly cols: number;
  private readonly z0: number;
  private readonly slices: number;
  private readonly stride: number;
  private readonly darkSum: Float64Array;
  private readonly flatSum: Float64Array;
  private nDark = 0;
  private nFlat = 0;
  private dark: Float32Array | null = null;
  /** 1 / (flat − dark), 0 where the flat has no signal */
  private gainInv: Float32Array | null = null;
  private sino: Float32Array | null = null;
  private readonly received: Uint8Array;
  readonly angles: number[];
  /** projections kept whole for the centre estimate: 0° and the one at 0° + 180° */
  private readonly pair: [number, number] | null;
  private readonly pairImages: (Float32Array | null)[] = [null, null];

  constructor(
    private readonly p: TomoParams,
    input: ImageSpec,
    private readonly layout: TomoFrames,
  ) {
    [this.rows, this.cols] = input.shape;
    this.z0 = p.slice_start;
    this.slices = (p.slice_stop ?? this.rows) - this.z0;
    this.stride = this.cols + 1;
    this.darkSum = new Float64Array(this.rows * this.cols);
    this.flatSum = new Float64Array(this.rows * this.cols);
    this.received = new Uint8Array(layout.projections);
    this.angles = layout.angles;
    // the projection 180° after the first one, when the scan has it
    const k180 = this.angles.findIndex((a) => Math.abs(a - this.angles[0] - 180) < 1e-6);
    this.pair = k180 > 0 ? [0, k180] : null;
  }

  process(ctx: FrameContext): void {
    const i = ctx.index;
    const img = ctx.image;
    if (!ctx.valid) return;
    const kind = this.layout.kind(i);
    if (kind === IMAGE_KEY.dark) {
      add(this.darkSum, img);
      this.nDark++;
    } else if (kind === IMAGE_KEY.flat) {
      add(this.flatSum, img);
      this.nFlat++;
    } else if (kind === IMAGE_KEY.projection) {
      this.project(this.layout.projection[i], img);
    }
  }

  private normalisation(): void {
    const n = this.rows * this.cols;
    const dark = new Float32Array(n), gainInv = new Float32Array(n);
    const nd = this.nDark, nf = this.nFlat;
    for (let k = 0; k < n; k++) {
      const d = nd ? this.darkSum[k] / nd : 0;
      const f = nf ? this.flatSum[k] / nf - d : 0;
      dark[k] = d;
      gainInv[k] = f > 0 ? 1 / f : 0;
    }
    this.dark = dark;
    this.gainInv = gainInv;
  }

  /** Projection k: absorbance −log((raw − dark)/(flat − dark)) into each slice's sinogram row k. */
  private project(k: number, img: TypedArray): void {
    if (!this.gainInv) this.normalisation();
    if (!this.sino) this.sino = new Float32Array(new SharedArrayBuffer(this.slices * this.layout.projections * this.stride * 4));
    const dark = this.dark!, gainInv = this.gainInv!, sino = this.sino;
    const { cols, stride } = this;
    const perSlice = this.layout.projections * stride;
    const keep = this.pair && (k === this.pair[0] || k === this.pair[1]) ? new Float32Array(this.rows * cols) : null;
    const r0 = keep ? 0 : this.z0, r1 = keep ? this.rows : this.z0 + this.slices;
    for (let r = r0; r < r1; r++) {
      const inSlices = r >= this.z0 && r < this.z0 + this.slices;
      const o = r * cols;
      const so = (r - this.z0) * perSlice + k * stride;
      for (let c = 0; c < cols; c++) {
        const g = gainInv[o + c];
        let v = g > 0 ? (img[o + c] - dark[o + c]) * g : 1;
        if (v < 1e-6) v = 1e-6;
        const a = -Math.log(v);
        if (inSlices) sino[so + c] = a;
        if (keep) keep[o + c] = a;
      }
    }
    if (keep) this.pairImages[k === this.pair![0] ? 0 : 1] = keep;
    this.received[k] = 1;
  }

  /** The centre of rotation: given, or estimated from the 0°/180° pair. */
  center(): Record<string, unknown> & { center: number } {
    const mid = (this.cols - 1) / 2;
    if (this.p.center_of_rotation !== null) return { center: this.p.center_of_rotation, offset: this.p.center_of_rotation - mid, method: 'given' };
    const [a, b] = this.pairImages;
    if (!this.pair || !a || !b) {
      return { center: mid, offset: 0, method: 'centre column (no 0°/180° projection pair to estimate from)' };
    }
    const search = this.p.cor_search ?? this.cols / 4;
    const e = estimateCenter(a, b, this.rows, this.cols, search);
    return { center: e.center, offset: e.center - mid, method: 'cross-correlation of the 0° and mirrored 180° projections', quality: e.quality, projections: this.pair };
  }

  async drain(emit: (stream: string, item: TypedArray | Record<string, unknown>) => void): Promise<void> {
    const received: number[] = [];
    this.received.forEach((v, k) => v && received.push(k));
    const cor = this.center();
    emit('center_of_rotation', { ...cor, nb_projections: received.length, nb_darks: this.nDark, nb_flats: this.nFlat });
    if (!this.sino || received.length < 2) return;
    const { cols, stride, slices } = this;
    const nproj = this.layout.projections;
    const perSlice = nproj * stride;
    // the sinogram of the middle slice, before filtering
    const mid = Math.floor(slices / 2);
    const sg = new Float32Array(nproj * cols);
    for (let k = 0; k < nproj; k++) sg.set(this.sino.subarray(mid * perSlice + k * stride, mid * perSlice + k * stride + cols), k * cols);
    emit('sinogram', sg);
    // missing projections (dropped, invalid or not acquired) leave the scan: compact the rows that arrived
    const sino = this.sino;
    if (received.length < nproj) {
      for (let z = 0; z < slices; z++) {
        received.forEach((k, j) => sino.copyWithin(z * perSlice + j * stride, z * perSlice + k * stride, z * perSlice + k * stride + stride));
      }
    }
    const angles = received.map((k) => this.angles[k]);
    await reconstructVolume({ cols, stride, angles, center: cor.center, filter: this.p.filter }, sino, slices, perSlice, threadsOf(this.p), (_z, data) => emit('volume', data));
    this.sino = null;
  }
}

function add(sum: Float64Array, img: TypedArray): void {
  for (let k = 0; k < sum.length; k++) sum[k] += img[k];
}

export const tomoStep: StepFactory<TomoParams> = {
  name: 'tomo',
  description: 'Tomography: flat/dark normalisation, −log, sinograms, centre of rotation and filtered back-projection, volume published slice by slice.',
  schema: TOMO_SCHEMA,
  check: (p, input, env) => check(p as unknown as Record<string, unknown>, input, env),
  create(raw, input, env): StepBuild {
    const p = withDefaults<TomoParams>(TOMO_SCHEMA, raw as unknown as Record<string, unknown>);
    const { frames: layout } = resolveTomoFrames(p, env.detector);
    const step = new TomoStep(p, input, layout!);
    const [rows, cols] = input.shape;
    const stop = p.slice_stop ?? rows;
    const streams: StreamDecl[] = [
      {
        name: 'volume',
        kind: 'array',
        dtype: 'float32',
        shape: [cols, cols],
        cadence: 'end',
        info: {
          description: 'reconstructed volume, one item per slice z (detector row slice_start + z), attenuation per pixel',
          axes: ['z', 'y', 'x'],
          unit: '1/pixel',
          slice_start: p.slice_start,
          slice_stop: stop,
          filter: p.filter,
          coordinates: 'voxel (z, y, x) at x = ix − (nx − 1)/2, y = iy − (ny − 1)/2 (centred on the rotation axis), z = detector row slice_start + iz; voxel = detector pixel',
        },
      },
      {
        name: 'sinogram',
        kind: 'array',
        dtype: 'float32',
        shape: [layout!.projections, cols],
        cadence: 'end',
        info: { description: `sinogram (absorbance, before filtering) of the middle reconstructed slice (row ${p.slice_start + Math.floor((stop - p.slice_start) / 2)})`, axes: ['angle', 'x'], angles_deg: step.angles },
      },
      { name: 'center_of_rotation', kind: 'event', cadence: 'end', info: { description: 'centre of rotation used (column, pixels), how it was found, and what the reconstruction used' } },
    ];
    return { step, output: input, streams };
  },
};
