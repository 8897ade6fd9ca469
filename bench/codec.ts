/**
 * bitshuffle + LZ4 (HDF5 filter 32008) and deflate chunk codecs, one thread:
 * MB/s of raw frame bytes for compress and decompress per frame type
 * (daq-server/test/fixtures/codec-frames.ts), beside a plain copy of the
 * same bytes and, in the same run, h5py + hdf5plugin writing/reading the same
 * frames (one frame per chunk) to a file in /dev/shm. Then two worker
 * threads compressing Jungfrau frames at once (the saving path's target).
 *
 *   node bench/dist/codec.js [--seconds 1] [--python /path/to/python] [--no-python]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type * as CodecModule from '../daq-server/dist/src/saving/codec/index.js';
import type * as FramesModule from '../daq-server/dist/test/fixtures/codec-frames.js';
import { Recorder, slug } from './record.js';

// bench/dist/codec.js → daq-server/dist/ (the type imports above resolve from bench/)
const DIST = new URL('../../daq-server/dist/', import.meta.url);
const codec = (await import(new URL('src/saving/codec/index.js', DIST).href)) as typeof CodecModule;
const frames = (await import(new URL('test/fixtures/codec-frames.js', DIST).href)) as typeof FramesModule;

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const SECONDS = Number(opt('seconds') ?? 1);

/** MB/s (1e6 bytes) of `bytes` per call of fn, run for about `seconds`. */
function rate(bytes: number, fn: () => void, seconds = SECONDS): number {
  for (let i = 0; i < 3; i++) fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    fn();
    n++;
  }
  return (bytes * n) / ((performance.now() - t0) * 1000);
}

if (!isMainThread) {
  // worker: compress the Jungfrau frame for workerData.seconds, report bytes
  const f = frames.jungfrauFrame(workerData.seed as number);
  const out = new Uint8Array(codec.bslz4MaxCompressedSize(f.bytes.length, 2));
  for (let i = 0; i < 5; i++) codec.bslz4Compress(f.bytes, 2, out);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < (workerData.seconds as number) * 1000) {
    codec.bslz4Compress(f.bytes, 2, out);
    n++;
  }
  parentPort!.postMessage({ bytes: n * f.bytes.length, ms: performance.now() - t0 });
} else {
  const all = frames.allFrames();
  const engine = codec.defaultCodec().engine;
  console.log(`bslz4 codec (${engine} bitshuffle kernels, JS LZ4), one thread, MB/s of raw bytes, ${SECONDS} s per figure`);
  const rows: Record<string, string | number>[] = [];
  for (const f of all) {
    const es = frames.elemSizeOf(f);
    const src = f.bytes;
    const out = new Uint8Array(codec.bslz4MaxCompressedSize(src.length, es));
    const back = new Uint8Array(src.length);
    const copy = new Uint8Array(src.length);
    const len = codec.bslz4Compress(src, es, out);
    const chunk = out.subarray(0, len);
    const shuf = new Uint8Array(src.length);
    rows.push({
      frame: `${f.name} ${f.dtype} ${f.shape.join('x')}`,
      MB: +(src.length / 1e6).toFixed(2),
      ratio: +(len / src.length).toFixed(3),
      compress: Math.round(rate(src.length, () => codec.bslz4Compress(src, es, out))),
      decompress: Math.round(rate(src.length, () => codec.bslz4Decompress(chunk, es, back))),
      bitshuffle: Math.round(rate(src.length, () => codec.bitshuffle(src, shuf, es), SECONDS / 2)),
      memcpy: Math.round(rate(src.length, () => copy.set(src), SECONDS / 2)),
      'deflate-1': Math.round(rate(src.length, () => codec.deflateChunk(src, 1), SECONDS / 2)),
    });
  }
  console.table(rows);
  const rec = new Recorder('codec');
  const mbps = (id: string, label: string, value: number, ref?: { name: string; value: number }): void =>
    rec.figure(id, { label, value, unit: 'MB/s', higherIsBetter: true, reference: ref });
  for (const [i, r] of rows.entries()) {
    const f = slug(all[i].name);
    const memcpy = { name: `memcpy of the ${all[i].name} frame`, value: r.memcpy as number };
    for (const k of ['compress', 'decompress', 'bitshuffle', 'deflate-1'] as const) {
      mbps(`${f}.${slug(k)}.mbps`, `${r.frame}: ${k}, one thread`, r[k] as number, memcpy);
    }
    rec.figure(`${f}.compressed_fraction`, { label: `${r.frame}: bslz4 compressed / raw bytes`, value: r.ratio as number, unit: 'fraction', higherIsBetter: false });
  }
  const jfCompress = rows[all.findIndex((f) => f.name === 'jungfrau')]?.compress as number | undefined;

  // two threads at once (a 2-core machine: the saving path's two writers)
  const threads = 2;
  const res = await Promise.all(
    Array.from({ length: threads }, (_, i) => new Promise<{ bytes: number; ms: number }>((ok, ko) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { seed: i + 1, seconds: Math.max(1, SECONDS) } });
      w.once('message', ok);
      w.once('error', ko);
    })),
  );
  const total = res.reduce((s, r) => s + r.bytes / (r.ms * 1000), 0);
  console.log(`bslz4 compress, ${threads} worker threads on Jungfrau frames: ${total.toFixed(0)} MB/s in total (${res.map((r) => (r.bytes / (r.ms * 1000)).toFixed(0)).join(' + ')})`);
  mbps('jungfrau.compress_2threads.mbps', `bslz4 compress, ${threads} worker threads on Jungfrau frames, in total`, total,
    jfCompress ? { name: 'bslz4 compress of the jungfrau frame, one thread', value: jfCompress } : undefined);

  // hdf5plugin in the same run
  const python = opt('python') ?? process.env.PYTHON ?? new URL('../../.venv/bin/python', import.meta.url).pathname; // this tree's venv
  if (argv.includes('--no-python')) {
    console.log(`hdf5plugin comparison skipped; run without --no-python (needs ${python} with h5py, hdf5plugin)`);
  } else {
    const dir = mkdtempSync('/dev/shm/daqlab-codec-bench-');
    try {
      for (const f of all) {
        writeFileSync(join(dir, `${f.name}.bin`), f.bytes);
        writeFileSync(join(dir, `${f.name}.json`), JSON.stringify({ dtype: f.dtype, shape: f.shape }));
      }
      const script = String.raw`
import json, sys, time, os
import numpy as np, h5py, hdf5plugin
d, seconds = sys.argv[1], float(sys.argv[2])
for name in ${JSON.stringify(all.map((f) => f.name))}:
    m = json.load(open(os.path.join(d, name + '.json')))
    a = np.fromfile(os.path.join(d, name + '.bin'), dtype=m['dtype']).reshape(m['shape'])
    n = max(2, int(200e6 // a.nbytes) if a.nbytes < 20e6 else 4)
    path = os.path.join(d, name + '.h5')
    # write n frames, one per chunk (hdf5plugin's bitshuffle: 1 thread unless OMP)
    with h5py.File(path, 'w', rdcc_nbytes=0) as h:
        ds = h.create_dataset('x', shape=(n,) + a.shape, dtype=a.dtype, chunks=(1,) + a.shape, **hdf5plugin.Bitshuffle(nelems=0, cname='lz4'))
        ds[0] = a
        t0 = time.perf_counter(); k = 0
        while time.perf_counter() - t0 < seconds:
            ds[k % n] = a; k += 1
        tw = (time.perf_counter() - t0) / k
    with h5py.File(path, 'r', rdcc_nbytes=0) as h:
        ds = h['x']; b = ds[0]
        t0 = time.perf_counter(); k = 0
        while time.perf_counter() - t0 < seconds:
            ds.read_direct(b, np.s_[k % n]); k += 1
        tr = (time.perf_counter() - t0) / k
    print(json.dumps({'frame': name, 'write': a.nbytes / tw / 1e6, 'read': a.nbytes / tr / 1e6}))
`;
      const outp = execFileSync(python, ['-c', script, dir, String(SECONDS)], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1', BITSHUFFLE_NUM_THREADS: '1' },
      });
      const py = outp.trim().split('\n').map((l) => JSON.parse(l) as { frame: string; write: number; read: number });
      console.log('h5py + hdf5plugin (C bitshuffle/LZ4, one frame per chunk, no chunk cache, file in /dev/shm), MB/s of raw bytes:');
      console.table(py.map((p) => ({ frame: p.frame, 'h5py write (compress)': Math.round(p.write), 'h5py read (decompress)': Math.round(p.read) })));
      for (const p of py) {
        const r = rows[all.findIndex((f) => f.name === p.frame)];
        const f = slug(p.frame);
        mbps(`${f}.compress_vs_hdf5plugin.mbps`, `${r.frame}: our bslz4 compress beside h5py + hdf5plugin writing it`, r.compress as number, { name: 'h5py + hdf5plugin write (compress), one thread', value: p.write });
        mbps(`${f}.decompress_vs_hdf5plugin.mbps`, `${r.frame}: our bslz4 decompress beside h5py + hdf5plugin reading it`, r.decompress as number, { name: 'h5py + hdf5plugin read (decompress), one thread', value: p.read });
      }
    } catch (e) {
      console.log(`hdf5plugin comparison failed (${(e as Error).message.split('\n')[0]}); run with --python /path/to/python having h5py and hdf5plugin`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
