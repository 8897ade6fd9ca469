/**
 * LIMA2's `saving_fai` channel: the integrated curves of a Fai acquisition as their own file series
 * `{filename_prefix}_0_{file:05d}.h5`, dataset `{entry}/{instrument}/{detector}/data` [frames, npt]
 * float32 (the layout the client's frame lookup reads, lima2/client/_utils.py hdf5_get_frame with
 * FrameType.VECTOR). Written from the scan's `intensity` stream once the scan is closed (daqlab's
 * own master file has the curves too, under process/results and integrate1d), one file per turn of
 * the event loop.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { H5Writer } from '../../saving/hdf5/index.js';
import { withDeadline } from '../../files/index.js';
import type { ArrayStream, Scan } from '../../store/types.js';

export interface FaiSaving {
  base_path: string;
  filename_prefix: string;
  start_number: number;
  nb_frames_per_file: number;
  file_exists_policy: 'abort' | 'overwrite';
  nx_entry_name: string;
  nx_instrument_name: string;
  nx_detector_name: string;
}

export const faiFileName = (p: FaiSaving, file: number): string => join(p.base_path, `${p.filename_prefix}_0_${String(p.start_number + file).padStart(5, '0')}.h5`);

/** The first file of the series when it exists and the policy forbids overwriting it (checked at prepare, with a deadline). */
export async function faiFileClash(p: FaiSaving): Promise<string | null> {
  if (p.file_exists_policy !== 'abort') return null;
  const first = faiFileName(p, 0);
  try {
    await withDeadline(() => lstat(first), 'checking the saving_fai files');
    return first;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Where curve `idx` lies: file and index in it. */
export const faiPlace = (p: FaiSaving, idx: number): { path: string; index: number } => ({
  path: faiFileName(p, Math.floor(idx / p.nb_frames_per_file)),
  index: idx % p.nb_frames_per_file,
});

/** Write the series; curves no longer in memory (memory budget) are NaN. Resolves to the number of curves written. */
export async function writeFaiFiles(scan: Scan, p: FaiSaving): Promise<number> {
  const s = scan.streams.get('intensity') as ArrayStream | undefined;
  if (!s || s.kind !== 'array' || s.length === 0) return 0;
  const npt = s.shape[0];
  const n = s.length;
  for (let file = 0; file * p.nb_frames_per_file < n; file++) {
    const from = file * p.nb_frames_per_file;
    const to = Math.min(n, from + p.nb_frames_per_file);
    const data = new Float32Array((to - from) * npt).fill(NaN);
    const have = Math.max(from, s.first);
    if (have < to) {
      const got = s.slice(have, to);
      got.items.forEach((item, k) => data.set(item as Float32Array, (have - from + k) * npt));
    }
    const f = H5Writer.create(faiFileName(p, file), { overwrite: p.file_exists_policy === 'overwrite' });
    try {
      const entry = f.root.group(p.nx_entry_name, { NX_class: 'NXentry', scan: scan.key });
      const det = entry.group(p.nx_instrument_name, { NX_class: 'NXinstrument' }).group(p.nx_detector_name, { NX_class: 'NXdetector' });
      det.dataset('data', data, { shape: [to - from, npt], dtype: 'f4', attrs: { interpretation: 'spectrum', long_name: 'azimuthally averaged intensity' } });
    } finally {
      f.close();
    }
    await new Promise((r) => setImmediate(r));
  }
  return n;
}
