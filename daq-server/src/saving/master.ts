/**
 * The master file `{prefix}_master.h5`: one NeXus NXentry describing the
 * whole scan. Its detector `data` is a virtual dataset presenting every saved
 * frame in stream order whatever the writers and files; the scan's
 * parameters, the detector and its geometry, the sample, per-frame
 * quantities (`measurement`) and every processing result are here too, with
 * the `@default` chain ending on an NXdata plot so viewers show a picture.
 */
import { basename } from 'node:path';
import type { DetectorInfo } from '../detectors/plugin.js';
import type { ArrayStream, EventStream, Scan } from '../store/types.js';
import { H5Writer, type H5Group } from './hdf5/index.js';
import { h5dtype } from './dtypes.js';
import type { SavingParams } from './params.js';
import { eventColumns, eventItems, writeArrayStream, writeColumns, writeColumnsPlot, writeStreamIndexAxis } from './tables.js';
import { frameRuns, virtualSources, type FramePlace } from './vds.js';
import { VERSION } from '../version.js';
import { tomoLayout, writeNXtomo, writeVolumePlot } from './nxtomo.js';
import type { DType } from '../protocol/index.js';

export interface SavedFrames {
  dtype: DType;
  shape: number[];
  /** frames in the `frame` stream when saving ended */
  count: number;
  place: (seq: number) => FramePlace | null;
  fileName: (rank: number, file: number) => string;
  /** per stream index: acquisition frame index, seconds since start, validity */
  frameIdx: ArrayLike<number>;
  time: ArrayLike<number>;
  valid: ArrayLike<number>;
}

export interface MasterInput {
  /** the master's name (recorded in the file) */
  path: string;
  /** where to write it now (a temporary next to `path`, moved there after); default `path` */
  writeTo?: string;
  /**
   * written while the scan runs: the frames flushed so far and the scan's
   * description, without the result streams (those come with the final master)
   */
  partial?: boolean;
  params: SavingParams;
  scan: Scan;
  frames: SavedFrames | null;
  endReason: string;
  nbSaved: number;
  dataFiles: string[];
  sparseFile: string | null;
}

const json = (v: unknown): string => JSON.stringify(v ?? null, null, 1);

/** streams written elsewhere (frames: the VDS) or not results */
const NOT_RESULTS = new Set(['frame', 'background_pixel_radius', 'background_normalization']); // the per-pixel maps: in the sparse file

export function writeMaster(m: MasterInput): void {
  const { params: p, scan } = m;
  const info = scan.info as Record<string, unknown>;
  const det = (info.detector ?? {}) as Partial<DetectorInfo>;
  const desc = (info.detector_description ?? {}) as Record<string, unknown>;
  const acq = (info.acquisition ?? {}) as Record<string, unknown>;
  const processing = (info.processing ?? {}) as Record<string, unknown>;
  const pipeline = String(processing.pipeline ?? 'none');

  const f = H5Writer.create(m.writeTo ?? m.path);
  const partial = m.partial === true;
  try {
    const now = new Date().toISOString();
    f.root.attrs({ NX_class: 'NXroot', default: p.nx_entry_name, creator: `daqlab ${VERSION}`, file_name: basename(m.path), file_time: now });
    const entry = f.root.group(p.nx_entry_name, { NX_class: 'NXentry', default: 'data' });
    const id = scan.identity;
    entry.dataset('title', `${id.name ?? 'scan'} ${id.number ?? ''}`.trim());
    entry.dataset('start_time', String(info.start_time ?? scan.created.toISOString()));
    entry.dataset('end_time', String(info.end_time ?? now));
    entry.dataset('definition', 'NXxbase');
    entry.dataset('entry_identifier', scan.key);
    entry.dataset('program_name', 'daqlab', { attrs: { version: VERSION } });
    entry.dataset('end_reason', m.endReason);
    if (id.proposal) entry.dataset('experiment_identifier', String(id.proposal));
    if (id.session) entry.dataset('collection_identifier', String(id.session));

    const instrument = entry.group(p.nx_instrument_name, { NX_class: 'NXinstrument' });
    instrument.dataset('name', String(desc.simulator ? `daqlab simulator (${desc.simulator})` : det.name ?? 'detector'));
    const detector = instrument.group(p.nx_detector_name, { NX_class: 'NXdetector' });
    const detPath = `/${p.nx_entry_name}/${p.nx_instrument_name}/${p.nx_detector_name}`;
    writeDetector(detector, det, desc, acq, info);

    const plot = entry.group('data', { NX_class: 'NXdata', signal: 'data' });
    if (m.frames && m.frames.count > 0) {
      const fr = m.frames;
      const runs = frameRuns(fr.count, fr.place);
      detector.virtual('data', {
        dtype: h5dtype(fr.dtype).code,
        shape: [fr.count, ...fr.shape],
        fill: 0,
        sources: virtualSources(runs, fr.shape, `${detPath}/data`, fr.fileName),
        attrs: { interpretation: 'image', long_name: 'detector frames in acquisition order' },
      });
      const n = fr.count;
      detector.dataset('frame_index', Float64Array.from({ length: n }, (_, k) => fr.frameIdx[k]), { dtype: 'i8', attrs: { long_name: 'acquisition frame index of each saved frame' } });
      const measurement = entry.group('measurement', { NX_class: 'NXcollection' });
      measurement.dataset('frame_index', Float64Array.from({ length: n }, (_, k) => fr.frameIdx[k]), { dtype: 'i8' });
      measurement.dataset('timestamp', Float64Array.from({ length: n }, (_, k) => fr.time[k]), { dtype: 'f8', attrs: { units: 's', long_name: 'time the frame reached the server, since start' } });
      measurement.dataset('valid', Uint8Array.from({ length: n }, (_, k) => fr.valid[k]), { dtype: 'u1', attrs: { long_name: '0: incomplete frame (lost packets)' } });
      measurement.softLink('data', `${detPath}/data`);
      plot.softLink('data', `${detPath}/data`);
      plot.attrs({ interpretation: 'image', axes: ['.', 'y', 'x'], y_indices: 1, x_indices: 2 });
      writePixelAxes(plot, fr.shape);
      if (!partial) writeMeasurements(measurement, scan, `/${p.nx_entry_name}/process/results`);
    } else {
      const measurement = entry.group('measurement', { NX_class: 'NXcollection' });
      if (!partial) writeMeasurements(measurement, scan, `/${p.nx_entry_name}/process/results`);
    }

    const sample = entry.group('sample', { NX_class: 'NXsample' });
    sample.dataset('name', String(id.sample ?? ''));

    const process = entry.group('process', { NX_class: 'NXprocess' });
    process.dataset('program', 'daqlab');
    process.dataset('version', VERSION);
    process.dataset('date', now);
    process.dataset('pipeline', pipeline);
    const cfg = process.group('parameters', { NX_class: 'NXnote' });
    cfg.dataset('type', 'application/json');
    cfg.dataset('description', 'prepare parameters of the acquisition: acquisition, detector, processing, saving, scan');
    cfg.dataset('data', json({ acquisition: acq, detector: info.detector_config, processing, saving: info.saving, scan: identityOf(scan) }));
    const results = process.group('results', { NX_class: 'NXcollection' });
    if (!partial) writeResults(results, scan);
    if (!partial) writeFrameIndices(process, scan);
    const nbFilesNote = process.group('saving', { NX_class: 'NXnote' });
    nbFilesNote.dataset('type', 'application/json');
    nbFilesNote.dataset('data', json({ nb_frames_saved: m.nbSaved, data_files: m.dataFiles.map((x) => basename(x)), sparse_file: m.sparseFile ? basename(m.sparseFile) : null, complete: !partial }));

    const userInfo = Object.fromEntries(Object.entries(info).filter(([k]) => !KNOWN_INFO.has(k)));
    if (Object.keys(userInfo).length) {
      const note = entry.group('scan_info', { NX_class: 'NXnote' });
      note.dataset('type', 'application/json');
      note.dataset('data', json(userInfo));
    }

    if (info.source_scan) writeSourceLink(entry, info.source_scan as SourceScan);
    if (partial) return;

    const defaultPlot = writePlots(entry, scan, pipeline);
    if (defaultPlot && !(m.frames && m.frames.count > 0)) entry.attrs({ default: defaultPlot });
    const tomo = tomoLayout(info);
    if (tomo && m.frames && m.frames.count > 0) writeNXtomo(entry, tomo, m.frames, `${detPath}/data`);
    if (writeVolumePlot(entry, scan, `/${p.nx_entry_name}/process/results`)) entry.attrs({ default: 'reconstruction' });
    if (m.sparseFile) writeSparseLinks(entry, basename(m.sparseFile), m.scan);
  } finally {
    f.close();
  }
}

/** External links to the sparse file's datasets (links to datasets: every reader follows them). */
function writeSparseLinks(entry: H5Group, file: string, scan: Scan): void {
  const g = entry.group('sparse', { NX_class: 'NXcollection', file });
  if (scan.streams.has('sparse_frame')) {
    for (const n of ['frame_ptr', 'index', 'intensity', 'background_avg', 'background_std']) g.externalLink(n, file, `/entry_0000/sparse_frames/${n}`);
  }
  if (scan.streams.has('peaks') && scan.streams.has('peak_counter')) {
    for (const n of ['nPeaks', 'peakXPosRaw', 'peakYPosRaw', 'peakTotalIntensity', 'peakSNR']) g.externalLink(n, file, `/entry_0000/peaks/${n}`);
  }
}

/** A derived scan (a batch job's result) records the saved scan it was computed from. */
export interface SourceScan {
  /** absolute path of the source's master file */
  master: string;
  /** the source's scan key, when it has one */
  key: string | null;
  /** path of the source's NXentry in its master (default `/entry`) */
  entry?: string;
  [more: string]: unknown;
}

/** `entry/source_scan`: what the scan was derived from, and an external link to the source's entry. */
function writeSourceLink(entry: H5Group, src: SourceScan): void {
  const g = entry.group('source_scan', { NX_class: 'NXnote', description: 'this scan was computed from a saved scan', master: src.master });
  g.dataset('type', 'application/json');
  g.dataset('data', json(src));
  g.dataset('master', src.master);
  if (src.key) g.dataset('key', src.key);
  g.externalLink('entry', src.master, src.entry ?? '/entry');
}

const KNOWN_INFO = new Set(['source_scan', 'detector', 'detector_config', 'detector_description', 'acquisition', 'processing', 'saving', 'software', 'start_time', 'end_time', 'end_reason', 'counters', 'acquisition_uuid']);

function identityOf(scan: Scan): Record<string, unknown> {
  return { ...scan.identity, key: scan.key };
}

function writeDetector(g: H5Group, det: Partial<DetectorInfo>, desc: Record<string, unknown>, acq: Record<string, unknown>, info: Record<string, unknown>): void {
  g.dataset('description', String(det.model ?? det.name ?? 'detector'));
  g.dataset('type', 'pixel');
  g.dataset('layout', 'area');
  const sensor = (det.sensor ?? {}) as Record<string, unknown>;
  if (typeof sensor.material === 'string') g.dataset('sensor_material', sensor.material);
  if (typeof sensor.thickness === 'number') g.dataset('sensor_thickness', [sensor.thickness], { shape: [], dtype: 'f8', attrs: { units: 'm' } });
  if (det.pixel_size) {
    g.dataset('x_pixel_size', [det.pixel_size[1]], { shape: [], dtype: 'f8', attrs: { units: 'm' } });
    g.dataset('y_pixel_size', [det.pixel_size[0]], { shape: [], dtype: 'f8', attrs: { units: 'm' } });
  }
  const expo = Number(acq.expo_time ?? 0);
  g.dataset('count_time', [expo], { shape: [], dtype: 'f8', attrs: { units: 's' } });
  g.dataset('frame_time', [expo + Number(acq.latency_time ?? 0)], { shape: [], dtype: 'f8', attrs: { units: 's' } });
  if (det.dummy !== null && det.dummy !== undefined) g.dataset('dummy_value', [det.dummy], { shape: [], dtype: 'f8' });
  const geo = desc.geometry as Record<string, number> | undefined;
  if (geo && typeof geo.dist === 'number') {
    g.dataset('distance', [geo.dist], { shape: [], dtype: 'f8', attrs: { units: 'm' } });
    // the beam centre is where the direct beam meets the detector; with rotations pyFAI's PONI is not it, but it is what NXdetector asks for at zero tilt
    const cx = geo.poni2 / geo.pixel2 - 0.5;
    const cy = geo.poni1 / geo.pixel1 - 0.5;
    g.dataset('beam_center_x', [cx], { shape: [], dtype: 'f8', attrs: { units: 'pixel' } });
    g.dataset('beam_center_y', [cy], { shape: [], dtype: 'f8', attrs: { units: 'pixel' } });
    const pyfai = g.group('geometry', { NX_class: 'NXcollection', description: 'detector geometry as pyFAI defines it (PONI)' });
    for (const k of ['dist', 'poni1', 'poni2', 'rot1', 'rot2', 'rot3', 'wavelength', 'pixel1', 'pixel2'] as const) {
      if (typeof geo[k] === 'number') pyfai.dataset(k, [geo[k]], { shape: [], dtype: 'f8', attrs: { units: k.startsWith('rot') ? 'rad' : 'm' } });
    }
    if (typeof desc.poni === 'string') pyfai.dataset('poni', desc.poni as string, { attrs: { description: 'pyFAI .poni file text' } });
  }
  if (typeof desc.energy_kev === 'number') g.dataset('energy', [desc.energy_kev as number], { shape: [], dtype: 'f8', attrs: { units: 'keV' } });
  const params = g.group('params', { NX_class: 'NXnote' });
  params.dataset('type', 'application/json');
  params.dataset('data', json({ detector: det, config: info.detector_config, description: desc }));
  const calib = desc.calibration as unknown;
  if (calib !== undefined) {
    const c = g.group('calibration', { NX_class: 'NXnote' });
    c.dataset('type', 'application/json');
    c.dataset('data', json(calib));
  }
}

/** Every per-frame result (one row per frame: ROI statistics, peak counters, integrated curves …) linked under `measurement`. */
function writeMeasurements(measurement: H5Group, scan: Scan, resultsPath: string): void {
  for (const [name, s] of scan.streams) {
    if (NOT_RESULTS.has(name) || name === 'sparse_frame' || name === 'peaks' || s.length === 0) continue;
    if (String(s.info.cadence ?? 'frame') !== 'frame') continue;
    measurement.softLink(name, `${resultsPath}/${name}`);
  }
}

/** Every result stream: arrays as datasets, events as columns. */
function writeResults(results: H5Group, scan: Scan): void {
  for (const [name, s] of scan.streams) {
    if (NOT_RESULTS.has(name)) continue;
    const cadence = String(s.info.cadence ?? 'frame');
    if (s.kind === 'array') {
      const a = s as ArrayStream;
      const units: Record<string, string> = typeof s.info.unit === 'string' ? { units: s.info.unit as string } : {};
      // the names of a table's last dimension (roi_stats: sum, mean, std, min, max)
      const columns: Record<string, string> = Array.isArray(s.info.columns) ? { columns: (s.info.columns as unknown[]).map(String).join(',') } : {};
      writeArrayStream(results, name, a, cadence === 'frame' || cadence === 'end', { cadence, ...units, ...columns });
    } else {
      const { events, trimmed } = eventItems(s as EventStream);
      if (name === 'sparse_frame') continue; // in the sparse file
      const g = results.group(name, { NX_class: 'NXcollection', cadence, ...(trimmed ? { first_index: trimmed } : {}) });
      writeColumns(g, eventColumns(events));
    }
  }
}

/**
 * `process/frame_index/<stream>`: per row of a per-frame result, the acquisition frame it comes from
 * (after drops, row k is not frame k; the `frame` stream's are `measurement/frame_index`). Kept
 * beside the results, not among them, so readers do not take them for streams.
 */
function writeFrameIndices(process: H5Group, scan: Scan): void {
  let g: H5Group | null = null;
  for (const [name, s] of scan.streams) {
    if (NOT_RESULTS.has(name) || name === 'sparse_frame' || String(s.info.cadence ?? 'frame') !== 'frame' || s.length <= s.first) continue;
    const frames = s.slice(s.first).frames;
    if (!frames) continue;
    g ??= process.group('frame_index', { NX_class: 'NXcollection', description: 'acquisition frame index of each row of the per-frame results (-1: none)' });
    g.dataset(name, BigInt64Array.from(frames, (f) => BigInt(Number.isFinite(f) ? f : -1)), { dtype: 'i8', attrs: { ...(s.first ? { first_index: s.first } : {}) } });
  }
}

/** NXdata plots of the reduced results (azimuthal integration, XPCS); returns the name of the one to show first. */
function writePlots(entry: H5Group, scan: Scan, pipeline: string): string | null {
  const has = (n: string): boolean => scan.streams.has(n) && scan.stream(n).length > 0;
  let first: string | null = null;
  if (has('intensity') && has('radial')) {
    const radial = scan.stream('radial') as ArrayStream;
    const unit = String(radial.info.unit ?? '');
    const g = entry.group('integrate1d', { NX_class: 'NXdata', signal: 'intensity', axes: ['index', 'radial'], index_indices: 0, radial_indices: 1 });
    writeArrayStream(g, 'radial', radial, false, { units: unitOf(unit) }); // labelled `radial (1/nm)`
    const intensity = scan.stream('intensity') as ArrayStream;
    writeArrayStream(g, 'intensity', intensity, true, { long_name: 'azimuthally averaged intensity', interpretation: 'spectrum' });
    writeStreamIndexAxis(g, intensity);
    if (has('sigma')) writeArrayStream(g, 'intensity_errors', scan.stream('sigma') as ArrayStream, true);
    first ??= 'integrate1d';
  }
  if (has('cake') && has('radial') && has('azimuthal')) {
    const g = entry.group('integrate2d', { NX_class: 'NXdata', signal: 'cake', axes: ['index', 'azimuthal', 'radial'], index_indices: 0, azimuthal_indices: 1, radial_indices: 2 });
    const radial = scan.stream('radial') as ArrayStream;
    writeArrayStream(g, 'radial', radial, false, { units: unitOf(String(radial.info.unit ?? '')) });
    writeArrayStream(g, 'azimuthal', scan.stream('azimuthal') as ArrayStream, false, { units: 'deg' });
    const cake = scan.stream('cake') as ArrayStream;
    writeArrayStream(g, 'cake', cake, true, { interpretation: 'image' });
    writeStreamIndexAxis(g, cake);
    first ??= 'integrate2d';
  }
  if (has('g2') && has('tau')) {
    // rows are q rings: the axis is each ring's centre in its unit (the `q` stream); its index stays as q_ring
    const qStream = has('q') ? (scan.stream('q') as ArrayStream) : null;
    const qAxis = qStream ? 'q' : 'q_ring';
    const g = entry.group('xpcs', { NX_class: 'NXdata', signal: 'g2', axes: [qAxis, 'tau'], tau_indices: 1, [`${qAxis}_indices`]: 0, ...(qStream ? { q_ring_indices: 0 } : {}) });
    if (qStream) writeArrayStream(g, 'q', qStream, false, { units: unitOf(String(qStream.info.unit ?? '')) }); // labelled `q (1/nm)`
    const g2 = scan.stream('g2') as ArrayStream;
    const tauStream = scan.stream('tau') as ArrayStream;
    // lags are in frames; the frame period of the acquisition turns them into seconds
    const acq = ((scan.info as Record<string, unknown>).acquisition ?? {}) as Record<string, number>;
    const period = Number(acq.expo_time ?? 0) + Number(acq.latency_time ?? 0);
    const lags = tauStream.length ? (tauStream.get(tauStream.length - 1).data as Float64Array) : null;
    if (lags && period > 0) g.dataset('tau', Float64Array.from(lags, (t) => t * period), { dtype: 'f8', attrs: { units: 's', long_name: 'delay time' } });
    else writeArrayStream(g, 'tau', tauStream, false, { units: 'frames', long_name: 'delay (frames)' });
    writeArrayStream(g, 'tau_frames', tauStream, false, { units: 'frames', long_name: 'delay in frame periods' });
    writeArrayStream(g, 'g2', g2, false, { long_name: 'intensity autocorrelation g2(q, tau)', interpretation: 'spectrum' });
    g.dataset('q_ring', Float64Array.from({ length: g2.shape[0] }, (_, k) => k), { dtype: 'i8', attrs: { long_name: 'q ring index' } });
    first ??= 'xpcs';
  }
  if (has('roi_stats')) {
    const s = scan.stream('roi_stats') as ArrayStream;
    const rois = Array.isArray(s.info.rois) ? (s.info.rois as { name?: unknown }[]).map((r, k) => String(r.name ?? `roi${k}`)) : [];
    const g = entry.group('roi_stats', { NX_class: 'NXdata' });
    if (writeColumnsPlot(g, s, rois)) first ??= 'roi_stats';
  }
  if (pipeline === 'smx' && has('acc_corrected')) {
    const acc = scan.stream('acc_corrected') as ArrayStream;
    const g = entry.group('accumulated', { NX_class: 'NXdata', signal: 'acc_corrected', axes: ['y', 'x'], y_indices: 0, x_indices: 1 });
    writePixelAxes(g, acc.shape);
    writeArrayStream(g, 'acc_corrected', acc, false, { interpretation: 'image' });
    if (has('acc_peaks')) writeArrayStream(g, 'acc_peaks', scan.stream('acc_peaks') as ArrayStream, false, { interpretation: 'image' });
    first ??= 'accumulated';
  }
  return first;
}

/** The pixel axes of an image NXdata: `y` and `x`, pixel centres in pixels, of the last two dimensions of `shape`. */
function writePixelAxes(g: H5Group, shape: number[]): void {
  const [rows, cols] = shape.slice(-2);
  // no long_name: viewers label an axis `name (units)` only when it has none
  g.dataset('y', Float64Array.from({ length: rows }, (_, k) => k), { dtype: 'f8', attrs: { units: 'pixel' } });
  g.dataset('x', Float64Array.from({ length: cols }, (_, k) => k), { dtype: 'f8', attrs: { units: 'pixel' } });
}

/** NeXus units for our radial unit names. */
function unitOf(unit: string): string {
  switch (unit) {
    case '2th_deg':
      return 'deg';
    case 'q_nm^-1':
      return '1/nm';
    case 'q_A^-1':
      return '1/angstrom';
    case 'r_mm':
      return 'mm';
    default:
      return unit;
  }
}
