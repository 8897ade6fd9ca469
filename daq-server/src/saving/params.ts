/**
 * The `saving` section of prepare, after LIMA2: where and how the frames of a
 * scan are written (one file series per writer, a master with a virtual
 * dataset), validated as a whole with the rest of the run. Checks that touch
 * the file system (folder inside the data roots, writable, files already
 * there) run at prepare too, asynchronously and with deadlines (files/), so a
 * run never starts with saving that cannot work and no client-named path can
 * stall the server.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FieldError } from '../protocol/index.js';
import type { JsonSchema } from '../detectors/plugin.js';
import { confine, makeFolder, withDeadline } from '../files/index.js';

export const COMPRESSIONS = ['none', 'gzip', 'bslz4'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface SavingParams {
  enabled: boolean;
  base_path: string;
  /** file name prefix; null: `{scan name}_{scan number:04d}` */
  prefix: string | null;
  start_number: number;
  nb_frames_per_file: number;
  compression: Compression;
  compression_level: number;
  file_exists_policy: 'abort' | 'overwrite';
  /** writer threads (each its own file series); null: one per processing receiver */
  nb_writers: number | null;
  /** frames waiting for a writer before the acquisition stops with an error; null: 1 GiB worth */
  max_queued_frames: number | null;
  /** seconds between flushes (what is flushed survives a killed server) */
  flush_interval: number;
  nx_entry_name: string;
  nx_instrument_name: string;
  nx_detector_name: string;
  /** write the dense `frame` stream */
  save_frames: boolean;
  /** write the sparse frames and peaks (smx) into `{prefix}_sparse.h5` */
  save_sparse: boolean;
}

const NAME = '^[A-Za-z0-9_][A-Za-z0-9_.-]*$';

export const SAVING_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Saving to HDF5/NeXus: per-writer frame files, a master file with a virtual dataset, sparse and peak files.',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: false, description: 'Write the scan to HDF5/NeXus files.' },
    base_path: { type: 'string', maxLength: 4096, default: '', description: 'Absolute folder the files go to, under one of the server\'s data roots (created when missing).' },
    prefix: {
      type: ['string', 'null'],
      pattern: NAME,
      maxLength: 200,
      default: null,
      description: 'File name prefix: files are {prefix}_master.h5 and {prefix}_{rank}_{file:05d}.h5; null: {scan name}_{scan number:04d}.',
    },
    start_number: { type: 'integer', minimum: 0, maximum: 99999, default: 0, description: 'Number of the first data file of each writer.' },
    nb_frames_per_file: { type: 'integer', minimum: 1, maximum: 1000000, default: 100, description: 'Frames per data file.' },
    compression: { enum: [...COMPRESSIONS], default: 'bslz4', description: 'Chunk compression: none, gzip (deflate) or bslz4 (bitshuffle-LZ4, HDF5 filter 32008).' },
    compression_level: { type: 'integer', minimum: 1, maximum: 9, default: 1, description: 'gzip level.' },
    file_exists_policy: { enum: ['abort', 'overwrite'], default: 'abort', description: 'What to do when a file to be written exists.' },
    nb_writers: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 16,
      default: null,
      description: 'Writer threads, each with its own file series; null: one per processing receiver.',
    },
    max_queued_frames: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 1000000,
      default: null,
      description: 'Frames that may wait for a writer; beyond it the acquisition stops with an error saying how many frames were saved. null: 1 GiB worth of frames.',
    },
    flush_interval: { type: 'number', minimum: 0.05, maximum: 3600, default: 1, description: 'Seconds between flushes of the files (what was flushed survives a crash).' },
    nx_entry_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'entry', description: 'NeXus NXentry group name.' },
    nx_instrument_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'instrument', description: 'NeXus NXinstrument group name.' },
    nx_detector_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'detector', description: 'NeXus NXdetector group name.' },
    save_frames: { type: 'boolean', default: true, description: 'Write the dense frames (the `frame` stream).' },
    save_sparse: { type: 'boolean', default: true, description: 'Write sparse frames and peaks into {prefix}_sparse.h5 when the pipeline produces them.' },
  },
};

export const dataFileName = (prefix: string, rank: number, file: number): string => `${prefix}_${rank}_${String(file).padStart(5, '0')}.h5`;
export const masterFileName = (prefix: string): string => `${prefix}_master.h5`;
export const sparseFileName = (prefix: string): string => `${prefix}_sparse.h5`;

/** The prefix when none is given: scan name and number, reduced to file-name characters. */
export function defaultPrefix(scanName: string | undefined, scanNumber: number): string {
  const base = (scanName ?? 'scan').replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]+/, '') || 'scan';
  return `${base}_${String(scanNumber).padStart(4, '0')}`;
}

/**
 * Checks a schema cannot make: the folder (confined to the data roots,
 * created when missing, writable), the files that would be overwritten.
 * Returns the problems and, when there are none, the folder's real path.
 */
export async function checkSavingTarget(
  p: SavingParams,
  prefix: string,
  nbWriters: number,
  roots: readonly string[],
): Promise<{ errors: FieldError[]; folder: string | null }> {
  if (!p.enabled) return { errors: [], folder: null };
  const fail = (field: string, message: string) => ({ errors: [{ field, message }], folder: null });
  if (!p.base_path) return fail('saving.base_path', 'is required when saving is enabled');
  let folder: string;
  try {
    folder = await confine(p.base_path, roots);
    await makeFolder(folder);
  } catch (err) {
    const m = (err as Error).message;
    return fail('saving.base_path', (err as Error).name === 'PathError' ? m : `cannot write into ${p.base_path}: ${m}`);
  }
  if (p.file_exists_policy === 'abort') {
    const candidates = [masterFileName(prefix), sparseFileName(prefix)];
    for (let r = 0; r < nbWriters; r++) candidates.push(dataFileName(prefix, r, p.start_number));
    let existing: string[];
    try {
      const found = await Promise.all(
        candidates.map((f) =>
          withDeadline(() => lstat(join(folder, f)), `checking ${f}`).then(
            () => true,
            (err: unknown) => {
              if ((err as Error).name === 'FsTimeoutError') throw err;
              return false;
            },
          ),
        ),
      );
      existing = candidates.filter((_, k) => found[k]);
    } catch (err) {
      return fail('saving.base_path', `${p.base_path}: ${(err as Error).message}`);
    }
    if (existing.length) {
      return fail(
        'saving.file_exists_policy',
        `abort: ${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${p.base_path} (choose another prefix or file_exists_policy "overwrite")`,
      );
    }
  }
  return { errors: [], folder };
}
