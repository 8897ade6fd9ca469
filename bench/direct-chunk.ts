/**
 * Direct chunk write against decode + re-encode, in the same run, on the
 * Stream2 bslz4 frames `daqlab-detector-sim` sends (its EIGER2 4M, serial
 * crystallography scene, encoded as the simulator encodes them for the wire).
 * One thread, one writer's file series (FrameSeries, 100 frames per file) in
 * a temporary folder; MB/s of raw frame bytes:
 *   writer: the writer's work per frame: write the detector's chunk as it is (direct) vs compress + write (today)
 *   receive+write: plus the receiver's decode of the blob, which both paths keep (pipelines, the live view and
 *   the frame store need pixels; the decode also proves the chunk sound before it goes to the file)
 * Usage: node bench/dist/direct-chunk.js [--frames 200] [--model eiger2-4m]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as FramesModule from '../daq-server/dist/src/detector-sim/frames.js';
import type * as ModelsModule from '../daq-server/dist/src/detector-sim/models.js';
import type * as SeriesModule from '../daq-server/dist/src/saving/frame-series.js';
import type * as BlobsModule from '../daq-server/dist/src/detectors/dectris/blobs.js';
import type { SeriesConfig } from '../daq-server/dist/src/saving/messages.js';
import type { CompressedChunk } from '../daq-server/dist/src/saving/direct-chunk.js';
import { Recorder } from './record.js';

// bench/dist/direct-chunk.js → daq-server/dist/ (the type imports above resolve from bench/)
const DIST = new URL('../../daq-server/dist/src/', import.meta.url);
const sim = (await import(new URL('detector-sim/frames.js', DIST).href)) as typeof FramesModule;
const models = (await import(new URL('detector-sim/models.js', DIST).href)) as typeof ModelsModule;
const { FrameSeries } = (await import(new URL('saving/frame-series.js', DIST).href)) as typeof SeriesModule;
const { decodeBlob } = (await import(new URL('detectors/dectris/blobs.js', DIST).href)) as typeof BlobsModule;

const arg = (name: string, def: string): string => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : def;
};
const FRAMES = Number(arg('frames', '200'));
const MODEL = arg('model', 'eiger2-4m') as ModelsModule.ModelName;
const POOL = 8;

const source = await sim.FrameSource.open(models.detectorModel(MODEL), { scene: 'serial_crystallography', seed: 1, pool_size: POOL, hit_rate: 0.5 });
const elemSize = source.dtype === 'uint32' ? 4 : 2;
const count = source.shape[0] * source.shape[1];
const frameBytes = count * elemSize;
const blobs = Array.from({ length: POOL }, (_, k) => source.encoded(k, 'bslz4').stream2);
const pixels = blobs.map((b) => decodeBlob(b, 'bslz4', source.dtype, count));
source.close();

type Mode = 'direct' | 'reencode' | 'decode+direct' | 'decode+reencode';

function run(mode: Mode, dir: string): number {
  const cfg: SeriesConfig = {
    folder: dir, prefix: mode.replace('+', '_'), rank: 0, startNumber: 0, nbFramesPerFile: 100, dtype: source.dtype, shape: [...source.shape],
    compression: 'bslz4', compressionLevel: 1, policy: 'overwrite', flushInterval: 1,
    entry: 'entry', instrument: 'instrument', detector: 'detector', entryAttrs: {},
  };
  const series = new FrameSeries(cfg, () => {});
  const decode = mode.startsWith('decode');
  const direct = mode.endsWith('direct');
  const t0 = performance.now();
  for (let i = 0; i < FRAMES; i++) {
    const blob = blobs[i % POOL];
    const data = decode ? decodeBlob(blob, 'bslz4', source.dtype, count) : pixels[i % POOL];
    const chunk: CompressedChunk | undefined = direct ? { codec: 'bslz4', elemSize, bytes: blob } : undefined;
    series.write(i, data, chunk);
    series.maybeFlush();
  }
  series.close();
  const seconds = (performance.now() - t0) / 1000;
  if (series.direct !== (direct ? FRAMES : 0)) throw new Error(`${mode}: ${series.direct} direct chunks of ${FRAMES}`);
  return (FRAMES * frameBytes) / seconds / 1e6;
}

const dir = mkdtempSync(join(tmpdir(), 'direct-chunk-'));
const modes: Mode[] = ['direct', 'reencode', 'decode+direct', 'decode+reencode'];
const best = new Map<Mode, number>();
try {
  // interleaved rounds, best of each: the machine's load hits every mode alike
  for (let round = 0; round < 3; round++) {
    for (const m of modes) best.set(m, Math.max(best.get(m) ?? 0, run(m, dir)));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const ratio = blobs.reduce((a, b) => a + b.length, 0) / (POOL * frameBytes);
console.log(`${MODEL} ${source.shape.join('×')} ${source.dtype}, ${FRAMES} frames, bslz4 compressed/raw ${ratio.toFixed(3)}`);
console.table(modes.map((m) => ({ mode: m, mb_s: Math.round(best.get(m)!) })));

const rec = new Recorder('direct_chunk');
rec.figure('writer.mbps', {
  label: `${MODEL} Stream2 bslz4 frames: direct chunk write, one writer thread`,
  value: best.get('direct')!, unit: 'MB/s', higherIsBetter: true,
  reference: { name: 'compress + write of the same frames (today)', value: best.get('reencode')! },
});
rec.figure('receive_and_write.mbps', {
  label: `${MODEL} Stream2 bslz4 frames: receiver decode + direct chunk write, one thread`,
  value: best.get('decode+direct')!, unit: 'MB/s', higherIsBetter: true,
  reference: { name: 'receiver decode + compress + write (today)', value: best.get('decode+reencode')! },
});
