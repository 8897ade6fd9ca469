/**
 * Tomography in the master file. The projections (with their darks and
 * flats) are described as an NXtomo subentry — per saved frame `image_key`
 * (0 projection, 1 flat, 2 dark) and `rotation_angle` (degrees), linking the
 * detector's virtual dataset — and the reconstructed volume (`volume`
 * stream, written under process/results) gets an NXdata with z/y/x axes in
 * pixel units, so NeXus readers find and plot it.
 */
import type { ArrayStream, Scan } from '../store/types.js';
import type { H5Group } from './hdf5/index.js';
import type { SavedFrames } from './master.js';
import { resolveTomoFrames, type TomoFrames } from '../processing/tomo/scan.js';

/**
 * What each frame of the scan is, when it is a tomography scan: the tomo
 * pipeline's layout parameters, else the detector's `tomo_scan` table — the
 * same resolution as the pipeline's (processing/tomo/scan.ts).
 */
export function tomoLayout(info: Record<string, unknown>): TomoFrames | null {
  const proc = (info.processing ?? {}) as Record<string, unknown>;
  const desc = (info.detector_description ?? {}) as Record<string, unknown>;
  const tomoPipeline = proc.pipeline === 'tomo';
  if (!tomoPipeline && desc.tomo_scan === undefined) return null;
  const num = (k: string): number | null => (tomoPipeline && typeof proc[k] === 'number' ? (proc[k] as number) : null);
  return resolveTomoFrames({ nb_darks: num('nb_darks'), nb_flats: num('nb_flats'), nb_projections: num('nb_projections'), angle_range: num('angle_range') }, desc).frames;
}

/** NXtomo image_key and rotation angle (degrees) of acquisition frame `i`; frames past the scan are 3 (invalid). */
export function imageKey(l: TomoFrames, i: number): [number, number] {
  const k = l.kind(i);
  return [k < 0 ? 3 : k, i < l.length ? l.rotationAngle[i] : 0];
}

/** The NXtomo subentry `tomo` of `entry`, over the frames saved in `detectorData`. */
export function writeNXtomo(entry: H5Group, layout: TomoFrames, frames: SavedFrames, detectorData: string): void {
  const n = frames.count;
  const keys = new Int32Array(n), angles = new Float64Array(n);
  for (let k = 0; k < n; k++) [keys[k], angles[k]] = imageKey(layout, frames.frameIdx[k]);
  const sub = entry.group('tomo', { NX_class: 'NXsubentry', default: 'data' });
  sub.dataset('definition', 'NXtomo');
  sub.dataset('title', 'projections, flats and darks of the tomography scan');
  const detector = sub.group('instrument', { NX_class: 'NXinstrument' }).group('detector', { NX_class: 'NXdetector' });
  detector.softLink('data', detectorData);
  detector.dataset('image_key', keys, { dtype: 'i4', attrs: { long_name: '0 projection, 1 flat field, 2 dark field, 3 invalid (past the scan)' } });
  const sample = sub.group('sample', { NX_class: 'NXsample' });
  sample.dataset('name', 'tomography sample');
  sample.dataset('rotation_angle', angles, { dtype: 'f8', attrs: { units: 'degree' } });
  const data = sub.group('data', { NX_class: 'NXdata', signal: 'data', axes: ['rotation_angle', '.', '.'], rotation_angle_indices: 0 });
  data.softLink('data', detectorData);
  data.softLink('rotation_angle', `${sub.name}/sample/rotation_angle`);
  data.softLink('image_key', `${sub.name}/instrument/detector/image_key`);
}

/** NXdata `reconstruction`: the volume [z, y, x] (linked from process/results) with pixel axes. Returns whether it was written. */
export function writeVolumePlot(entry: H5Group, scan: Scan, resultsPath: string): boolean {
  if (!scan.streams.has('volume')) return false;
  const v = scan.stream('volume') as ArrayStream;
  if (v.kind !== 'array' || v.length === 0) return false;
  const [ny, nx] = v.shape;
  const z0 = Number(v.info.slice_start ?? 0) + v.first;
  const g = entry.group('reconstruction', { NX_class: 'NXdata', signal: 'data', axes: ['z', 'y', 'x'], z_indices: 0, y_indices: 1, x_indices: 2 });
  g.softLink('data', `${resultsPath}/volume`);
  const centred = (n: number): Float64Array => Float64Array.from({ length: n }, (_, k) => k - (n - 1) / 2);
  g.dataset('z', Float64Array.from({ length: v.length - v.first }, (_, k) => z0 + k), { dtype: 'f8', attrs: { units: 'pixel', long_name: 'detector row' } });
  g.dataset('y', centred(ny), { dtype: 'f8', attrs: { units: 'pixel', long_name: 'along the beam at 0°, from the rotation axis' } });
  g.dataset('x', centred(nx), { dtype: 'f8', attrs: { units: 'pixel', long_name: 'across the beam at 0°, from the rotation axis' } });
  g.attrs({ title: 'reconstructed volume (filtered back-projection), attenuation per pixel' });
  return true;
}
