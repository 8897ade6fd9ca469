/**
 * Saving throughput: a real acquisition of Jungfrau 4M raw frames (serial
 * crystallography scene) saved by our writers, for each compression, with
 * one writer and one per core; MB/s of raw frame bytes from start to the
 * last frame on disk, frames dropped or left unsaved. In the same run,
 * bench/saving_ref.py writes the same frames with h5py + hdf5plugin (same
 * filter, one chunk per frame) as the reference.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { DaqService, selectPlugins } from '@daqlab/daq-server';
import { Recorder } from './record.js';

const DETECTOR = process.env.DAQLAB_BENCH_DETECTOR ?? 'sim-jungfrau-4m';
const FRAMES = Number(process.env.DAQLAB_BENCH_FRAMES ?? 400);
const RATE = Number(process.env.DAQLAB_BENCH_HZ ?? 200);
const FOLDER = process.env.DAQLAB_BENCH_DIR ?? tmpdir();

interface Row {
  compression: string;
  writers: number;
  frames_saved: number;
  dropped: number;
  acquired_hz: number;
  saved_mb_s: number;
  ratio: number;
  h5py_mb_s?: number;
}

async function run(compression: string, writers: number, dir: string): Promise<Row & { prefixPath: string; frameBytes: number }> {
  const service = new DaqService({ plugins: selectPlugins([DETECTOR]), memoryBudget: 8 * 1024 ** 3 });
  const ctl = service.detector(DETECTOR);
  const info = ctl.info();
  const frameBytes = info.shape.reduce((a, b) => a * b, 1) * (info.dtype === 'uint32' ? 4 : 2);
  const prefix = `bench_${compression}_${writers}`;
  const acq = await ctl.prepare({
    acquisition: { nb_frames: FRAMES, expo_time: 1 / RATE },
    detector: { scene: 'serial_crystallography', seed: 1, pool_size: 64 },
    saving: { enabled: true, base_path: dir, prefix, compression, nb_writers: writers, nb_frames_per_file: 100, file_exists_policy: 'overwrite', max_queued_frames: FRAMES },
  });
  const done = new Promise<void>((resolve) => acq.on('state', () => acq.finished && resolve()));
  const t0 = performance.now();
  ctl.start(acq.uuid);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const s = acq.status();
  service.shutdown();
  const saved = s.counters.nb_frames_saved;
  const onDisk = Number(execFileSync('du', ['-cb', ...[...Array(writers).keys()].map((r) => join(dir, `${prefix}_${r}_00000.h5`))]).toString().trim().split('\n').pop()!.split('\t')[0]);
  return {
    compression,
    writers,
    frames_saved: saved,
    dropped: s.counters.nb_frames_acquired - saved,
    acquired_hz: Math.round(s.counters.nb_frames_acquired / seconds),
    saved_mb_s: Math.round((saved * frameBytes) / seconds / 1e6),
    ratio: Number(((Math.min(saved, 100 * writers) * frameBytes) / onDisk).toFixed(2)),
    prefixPath: join(dir, `${prefix}_master.h5`),
    frameBytes,
  };
}

const dir = mkdtempSync(join(FOLDER, 'daqlab-bench-saving-'));
const rows: Row[] = [];
try {
  for (const compression of ['none', 'gzip', 'bslz4']) {
    for (const writers of [1, 2]) {
      const r = await run(compression, writers, dir);
      if (writers === 1) {
        // the reference: h5py + hdf5plugin writing the same frames (read back from our file) with the same filter
        const out = execFileSync(process.env.DAQLAB_PYTHON ?? '.venv/bin/python', [new URL('../saving_ref.py', import.meta.url).pathname, r.prefixPath, compression, join(dir, `ref_${compression}.h5`)]).toString();
        r.h5py_mb_s = Number(out.trim().split('\n').pop());
      }
      const { prefixPath: _p, frameBytes: _b, ...row } = r;
      rows.push(row);
      for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true }); // keep the folder small (it may be /dev/shm)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nSaving ${FRAMES} ${DETECTOR} frames acquired at ${RATE} Hz into ${FOLDER} (MB/s of raw frame bytes; ratio = raw / on disk; h5py: same frames, same filter, 1 thread)`);
console.table(rows);
const rec = new Recorder('saving');
for (const r of rows) {
  const ref = rows.find((x) => x.compression === r.compression && x.h5py_mb_s !== undefined);
  rec.figure(`${r.compression}.${r.writers}writer${r.writers > 1 ? 's' : ''}.mbps`, {
    label: `saving ${FRAMES} ${DETECTOR} frames at ${RATE} Hz, ${r.compression}, ${r.writers} writer(s): MB/s of raw bytes`,
    value: r.saved_mb_s,
    unit: 'MB/s',
    higherIsBetter: true,
    reference: ref ? { name: `h5py + hdf5plugin writing the same frames (${r.compression}, 1 thread)`, value: ref.h5py_mb_s! } : undefined,
    target: r.compression === 'bslz4' && r.writers === 2 ? 600 : undefined, // ≥ 600 MB/s while acquiring
  });
  if (r.compression !== 'none' && r.writers === 1) {
    rec.figure(`${r.compression}.compression_ratio`, { label: `${r.compression}: raw / on-disk bytes`, value: r.ratio, unit: 'x', higherIsBetter: true });
  }
}
const best = rows.filter((r) => r.compression === 'bslz4').sort((a, b) => b.saved_mb_s - a.saved_mb_s)[0];
console.log(`bslz4: ${best.saved_mb_s} MB/s with ${best.writers} writer(s), ${best.dropped} frames not saved → ${best.saved_mb_s >= 600 && best.dropped === 0 ? 'PASS' : 'FAIL'} (target ≥ 600 MB/s while acquiring, nothing dropped)`);
process.exit(0);
