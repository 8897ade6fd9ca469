/**
 * `{prefix}_sparse.h5`: what serial crystallography keeps, in the layouts
 * the community reads. Sparse frames follow pyFAI's sparse format (what
 * `save_sparse` / sparsify-Bragg write, what `fabio.sparseimage` reads):
 * /entry_0000/sparse_frames with frame_ptr, index, intensity, background_avg,
 * background_std (alias `errors`), radius, `mask` (each pixel's radial
 * position, NaN where masked: background_avg is interpolated on it),
 * `normalization` (raw = normalised · normalization) and `dummy`; the entry's
 * @pyFAI_sparse_frames names the group and sparsify/configuration is an
 * NXnote (JSON with the sparsify parameters). Peaks follow the
 * CXI convention CrystFEL reads (nPeaks, peakXPosRaw, peakYPosRaw,
 * peakTotalIntensity, peakSNR as frames × max peaks), also reachable at
 * /entry_1/result_1 where CrystFEL looks by default.
 */
import { basename } from 'node:path';
import type { ArrayStream, EventStream, Scan } from '../store/types.js';
import { H5Writer } from './hdf5/index.js';
import { arrayItems, eventItems } from './tables.js';
import { VERSION } from '../version.js';

interface SparseEvent {
  frame_idx: number;
  index: number[];
  intensity: number[];
  background_avg: number[];
  background_std: number[];
}

interface PeakEvent {
  frame_idx: number;
  x: number;
  y: number;
  intensity: number;
  sigma: number;
  snr: number;
}

/** Whether the scan has anything for the sparse file. */
export const hasSparse = (scan: Scan): boolean => scan.streams.has('sparse_frame') || scan.streams.has('peaks');

/** Write the sparse file `path` into `writeTo` (a fresh temporary next to it; default `path`, created exclusively). */
export function writeSparse(path: string, scan: Scan, frameShape: number[] | null, writeTo = path): void {
  const f = H5Writer.create(writeTo);
  try {
    f.root.attrs({ NX_class: 'NXroot', default: 'entry_0000', creator: `daqlab ${VERSION}`, file_name: basename(path) });
    const entry = f.root.group('entry_0000', { NX_class: 'NXentry', default: 'sparse_frames' });
    entry.dataset('title', `sparse frames and peaks of ${scan.key}`);
    const proc = entry.group('sparsify', { NX_class: 'NXprocess' });
    proc.dataset('program', 'daqlab');
    proc.dataset('version', VERSION);
    proc.dataset('date', new Date().toISOString());
    const info = scan.info as Record<string, unknown>;
    const processing = (info.processing ?? {}) as Record<string, unknown>;
    const config = proc.group('configuration', { NX_class: 'NXnote' });
    config.dataset('type', 'text/json');
    config.dataset('data', JSON.stringify({ sparsify: stepParams(processing, 'sparsify'), processing }, null, 1));

    if (scan.streams.has('sparse_frame')) {
      const { events } = eventItems(scan.stream('sparse_frame') as EventStream);
      const ev = events as SparseEvent[];
      const n = ev.length;
      const ptr = new BigInt64Array(n + 1);
      let total = 0;
      ev.forEach((e, k) => {
        total += e.index.length;
        ptr[k + 1] = BigInt(total);
      });
      const index = new Uint32Array(total);
      const intensity = new Float32Array(total);
      let o = 0;
      for (const e of ev) {
        index.set(e.index, o);
        intensity.set(e.intensity, o);
        o += e.index.length;
      }
      const nb = ev.reduce((m, e) => Math.max(m, e.background_avg.length), 0);
      const avg = new Float32Array(n * nb).fill(NaN);
      const std = new Float32Array(n * nb).fill(NaN);
      ev.forEach((e, k) => {
        avg.set(e.background_avg, k * nb);
        std.set(e.background_std, k * nb);
      });
      const g = entry.group('sparse_frames', { NX_class: 'NXdata', signal: 'intensity', ...(frameShape ? { frame_shape: frameShape } : {}) });
      entry.attrs({ pyFAI_sparse_frames: '/entry_0000/sparse_frames' });
      g.dataset('frame_ptr', ptr, { dtype: 'i8', attrs: { long_name: 'start of each frame in index/intensity (cumulated counts, leading 0)' } });
      g.dataset('index', index, { dtype: 'u4', attrs: { long_name: 'flat pixel index (row·cols + col)' } });
      g.dataset('intensity', intensity, { dtype: 'f4' });
      g.dataset('frame_index', Float64Array.from(ev, (e) => e.frame_idx), { dtype: 'i8' });
      if (nb) {
        g.dataset('background_avg', avg, { shape: [n, nb], dtype: 'f4', attrs: { interpretation: 'spectrum', long_name: 'Average value of background' } });
        g.dataset('background_std', std, { shape: [n, nb], dtype: 'f4', attrs: { interpretation: 'spectrum', long_name: 'Standard deviation of background' } });
        g.softLink('errors', '/entry_0000/sparse_frames/background_std');
      }
      const dummy = (info.detector as { dummy?: number | null } | undefined)?.dummy;
      g.dataset('dummy', [typeof dummy === 'number' ? dummy : NaN], { shape: [], dtype: 'f4', attrs: { long_name: 'value of masked pixels in densified frames' } });
      const unit = scan.streams.has('background_radial') ? String(scan.stream('background_radial').info.unit ?? '') : '';
      const last = (name: string): { data: ArrayLike<number>; shape: number[] } | null => {
        if (!scan.streams.has(name)) return null;
        const st = scan.stream(name) as ArrayStream;
        const got = arrayItems(st, 'last');
        return got ? { data: got.data as Float32Array, shape: [...st.shape] } : null;
      };
      const r = last('background_radial');
      if (r) g.dataset('radius', r.data as Float32Array, { dtype: 'f4', attrs: { units: unit, unit, interpretation: 'spectrum' } });
      const mask = last('background_pixel_radius');
      if (mask) g.dataset('mask', mask.data as Float32Array, { shape: mask.shape, dtype: 'f4', attrs: { unit, interpretation: 'image', long_name: 'radial position of each pixel, NaN where masked' } });
      const norm = last('background_normalization');
      if (norm) g.dataset('normalization', norm.data as Float32Array, { shape: norm.shape, dtype: 'f4', attrs: { interpretation: 'image' } });
    }

    if (scan.streams.has('peaks') && scan.streams.has('peak_counter')) {
      const counters = eventItems(scan.stream('peak_counter') as EventStream).events as { frame_idx: number; nb_peaks: number; is_hit: boolean }[];
      const peaks = eventItems(scan.stream('peaks') as EventStream).events as PeakEvent[];
      const row = new Map<number, number>();
      counters.forEach((c, k) => row.set(c.frame_idx, k));
      const perFrame = new Int32Array(counters.length);
      for (const p of peaks) {
        const k = row.get(p.frame_idx);
        if (k !== undefined) perFrame[k]++;
      }
      const n = counters.length;
      const maxp = Math.max(1, ...perFrame);
      const cols = { x: new Float32Array(n * maxp), y: new Float32Array(n * maxp), intensity: new Float32Array(n * maxp), snr: new Float32Array(n * maxp) };
      const fill = new Int32Array(n);
      for (const p of peaks) {
        const k = row.get(p.frame_idx);
        if (k === undefined) continue;
        const at = k * maxp + fill[k]++;
        cols.x[at] = p.x;
        cols.y[at] = p.y;
        cols.intensity[at] = p.intensity;
        cols.snr[at] = p.snr;
      }
      const g = entry.group('peaks', { NX_class: 'NXdata', signal: 'nPeaks' });
      g.dataset('nPeaks', perFrame, { dtype: 'i4', attrs: { long_name: 'peaks listed for each frame' } });
      g.dataset('peakXPosRaw', cols.x, { shape: [n, maxp], dtype: 'f4', attrs: { long_name: 'centroid column, pixel centres at integer coordinates' } });
      g.dataset('peakYPosRaw', cols.y, { shape: [n, maxp], dtype: 'f4' });
      g.dataset('peakTotalIntensity', cols.intensity, { shape: [n, maxp], dtype: 'f4' });
      g.dataset('peakSNR', cols.snr, { shape: [n, maxp], dtype: 'f4' });
      g.dataset('frame_index', Float64Array.from(counters, (c) => c.frame_idx), { dtype: 'i8' });
      g.dataset('is_hit', Uint8Array.from(counters, (c) => (c.is_hit ? 1 : 0)), { dtype: 'u1' });
      g.dataset('nb_peaks_found', Float64Array.from(counters, (c) => c.nb_peaks), { dtype: 'i8' });
      const cxi = f.root.group('entry_1', { NX_class: 'NXentry' }).group('result_1', { NX_class: 'NXcollection' });
      for (const name of ['nPeaks', 'peakXPosRaw', 'peakYPosRaw', 'peakTotalIntensity', 'peakSNR']) cxi.softLink(name, `/entry_0000/peaks/${name}`);
    }
  } finally {
    f.close();
  }
}

/** Parameters of the first step named `name` in the processing description (empty when none). */
function stepParams(processing: Record<string, unknown>, name: string): Record<string, unknown> {
  const steps = Array.isArray(processing.steps) ? (processing.steps as { name?: unknown; params?: unknown }[]) : [];
  const step = steps.find((x) => x && x.name === name);
  return (step?.params ?? {}) as Record<string, unknown>;
}
