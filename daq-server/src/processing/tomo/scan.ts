/**
 * What each frame of a tomography scan is: the per-frame NXtomo `image_key`
 * (0 projection, 1 flat field, 2 dark field, anything else ignored) and
 * `rotation_angle` (degrees), indexed by acquisition frame.
 *
 * One definition for every source, so online processing, saving and a batch
 * replay see the same scan: a detector that knows its scan publishes the
 * table as `tomo_scan` in its description (the tomography simulator from its
 * scan layout, the replay detector from the saved master's NXtomo, a real
 * detector from its motor positions), or the `tomo` parameters give the
 * regular layout (darks, flats, then evenly spaced projections).
 */

/** The detector-independent metadata: `describe().tomo_scan`. */
export interface TomoScanTable {
  image_key: number[];
  /** degrees */
  rotation_angle: number[];
  /** where the table comes from (for people) */
  source?: string;
}

/** The regular layout of the `tomo` parameters: darks, flats, then projections from 0° to `range` (both included). */
export interface TomoLayoutParams {
  nb_darks: number | null;
  nb_flats: number | null;
  nb_projections: number | null;
  angle_range: number | null;
}

export const IMAGE_KEY = { projection: 0, flat: 1, dark: 2 } as const;

/** The resolved scan: per frame, its role and (for projections) its ordinal and angle. */
export class TomoFrames {
  readonly darks: number;
  readonly flats: number;
  /** per frame: projection ordinal, or −1 */
  readonly projection: Int32Array;
  /** angles (degrees) of the projections, in order */
  readonly angles: number[];

  constructor(
    /** per frame image_key */
    readonly imageKey: Int8Array,
    /** per frame, degrees */
    readonly rotationAngle: Float64Array,
    /** 'parameters' or the detector's table source */
    readonly source: string,
  ) {
    let darks = 0, flats = 0;
    this.projection = new Int32Array(imageKey.length).fill(-1);
    this.angles = [];
    for (let i = 0; i < imageKey.length; i++) {
      if (imageKey[i] === IMAGE_KEY.dark) darks++;
      else if (imageKey[i] === IMAGE_KEY.flat) flats++;
      else if (imageKey[i] === IMAGE_KEY.projection) {
        this.projection[i] = this.angles.length;
        this.angles.push(rotationAngle[i]);
      }
    }
    this.darks = darks;
    this.flats = flats;
  }

  get length(): number {
    return this.imageKey.length;
  }

  get projections(): number {
    return this.angles.length;
  }

  /** 2 dark, 1 flat, 0 projection, −1 ignored (other keys, frames past the table) */
  kind(i: number): number {
    if (i < 0 || i >= this.imageKey.length) return -1;
    const k = this.imageKey[i];
    return k === 0 || k === 1 || k === 2 ? k : -1;
  }

  /** Index of the first projection, or the table length. */
  firstProjection(): number {
    const i = this.projection.findIndex((k) => k >= 0);
    return i < 0 ? this.imageKey.length : i;
  }

  /** The regular layout: `darks` darks, `flats` flats, then projections k · range / (n − 1). */
  static regular(darks: number, flats: number, projections: number, range: number, source = 'parameters'): TomoFrames {
    const n = darks + flats + projections;
    const keys = new Int8Array(n), angles = new Float64Array(n);
    keys.fill(IMAGE_KEY.dark, 0, darks).fill(IMAGE_KEY.flat, darks, darks + flats).fill(IMAGE_KEY.projection, darks + flats);
    // the online formula of every simulator and NXtomo writer before: saved angles replay bit for bit
    for (let k = 0; k < projections; k++) angles[darks + flats + k] = projections > 1 ? (k * range) / (projections - 1) : 0;
    return new TomoFrames(keys, angles, source);
  }
}

export interface Problem {
  field: string;
  message: string;
}

/** The detector's `tomo_scan`, checked: null when it has none. */
export function detectorTable(description: Record<string, unknown>): { frames: TomoFrames | null; errors: Problem[] } {
  const t = description.tomo_scan as Partial<TomoScanTable> | undefined;
  if (t === undefined || t === null) return { frames: null, errors: [] };
  const where = `the detector's tomo_scan${typeof t.source === 'string' ? ` (${t.source})` : ''}`;
  const keys = t.image_key, angles = t.rotation_angle;
  if (!Array.isArray(keys) || !keys.every((k) => Number.isInteger(k))) return { frames: null, errors: [{ field: 'tomo_scan.image_key', message: `${where}: must be a list of integers (0 projection, 1 flat, 2 dark)` }] };
  if (!Array.isArray(angles) || !angles.every((a) => typeof a === 'number' && Number.isFinite(a))) {
    return { frames: null, errors: [{ field: 'tomo_scan.rotation_angle', message: `${where}: must be a list of finite angles in degrees` }] };
  }
  if (angles.length !== keys.length) {
    return { frames: null, errors: [{ field: 'tomo_scan.rotation_angle', message: `${where}: has ${angles.length} angles for ${keys.length} image keys` }] };
  }
  return { frames: new TomoFrames(Int8Array.from(keys, (k) => (k >= 0 && k <= 2 ? k : -1)), Float64Array.from(angles), typeof t.source === 'string' ? t.source : 'detector'), errors: [] };
}

/**
 * The scan of a `tomo` run: the layout parameters when any is given (missing
 * ones from the detector's table: counts of its keys, the span of its
 * projection angles), else the detector's table. `missing` lists the layout
 * parameters nothing provides.
 */
export function resolveTomoFrames(p: TomoLayoutParams, description: Record<string, unknown>): { frames: TomoFrames | null; missing: string[]; errors: Problem[] } {
  const { frames: table, errors } = detectorTable(description);
  if (errors.length) return { frames: null, missing: [], errors };
  const given = p.nb_darks !== null || p.nb_flats !== null || p.nb_projections !== null || p.angle_range !== null;
  if (table && !given) return { frames: table, missing: [], errors: [] };
  const span = table && table.projections ? Math.max(...table.angles) - Math.min(...table.angles) : null;
  const darks = p.nb_darks ?? table?.darks ?? null, flats = p.nb_flats ?? table?.flats ?? null;
  const projections = p.nb_projections ?? (table ? table.projections : null), range = p.angle_range ?? span;
  const missing = (
    [
      ['nb_darks', darks],
      ['nb_flats', flats],
      ['nb_projections', projections],
      ['angle_range', range],
    ] as const
  )
    .filter(([, v]) => v === null)
    .map(([k]) => k);
  if (missing.length) return { frames: null, missing, errors: [] };
  return { frames: TomoFrames.regular(darks!, flats!, projections!, range!), missing: [], errors: [] };
}

/** Scan checks of the pipeline: it normalises projections as they arrive, so every dark and flat comes first. */
export function checkTomoFrames(f: TomoFrames): Problem[] {
  const errors: Problem[] = [];
  const from = f.source === 'parameters' ? '' : ` (image_key of ${f.source})`;
  if (f.flats < 1) errors.push({ field: 'nb_flats', message: `the scan${from} has no flat field: at least 1 is needed to normalise the projections` });
  if (f.projections < 2) errors.push({ field: 'nb_projections', message: `at least 2 projections are needed, the scan${from} has ${f.projections}` });
  const first = f.firstProjection();
  for (let i = first + 1; i < f.length; i++) {
    const k = f.kind(i);
    if (k === IMAGE_KEY.dark || k === IMAGE_KEY.flat) {
      errors.push({
        field: 'tomo_scan.image_key',
        message: `frame ${i} is a ${k === IMAGE_KEY.dark ? 'dark' : 'flat'} field after the first projection (frame ${first})${from}: the tomo pipeline normalises projections as they arrive, so darks and flats must come before them`,
      });
      break;
    }
  }
  return errors;
}
