/**
 * Frames into Redis in blissdata's model (`--store redis://…`, store/redis/publisher.ts) beside raw
 * pipelined XADD of the same bytes, in the same run, on the same Redis. Frames are appended to a
 * memory store as fast as it takes them; the figure is frame bytes / time until every entry and the
 * seal are acknowledged by Redis. The raw reference writes the same frame views with ioredis
 * pipelines of the same size (64 MiB), one in flight. Keys written are deleted afterwards.
 *
 *   node bench/dist/redis.js --redis redis://127.0.0.1:6380/0 [--mbytes 512]
 *
 * The Redis needs the JSON module (README "The scan store in Redis").
 */
import type * as RedisModule from '../daq-server/dist/src/store/redis/index.js';
import type * as StoreModule from '../daq-server/dist/src/store/index.js';
import { Recorder } from './record.js';

const DIST = new URL('../../daq-server/dist/', import.meta.url);
const { RedisPublisher, PIPELINE_BYTES } = (await import(new URL('src/store/redis/index.js', DIST).href)) as typeof RedisModule;
const { createStore } = (await import(new URL('src/store/index.js', DIST).href)) as typeof StoreModule;

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const url = opt('redis');
if (!url) {
  console.error('usage: node bench/dist/redis.js --redis redis://127.0.0.1:PORT/0 [--mbytes 512]');
  process.exit(2);
}
const MBYTES = Number(opt('mbytes') ?? 512);

const DETECTORS = [
  { name: 'EIGER 500k', shape: [514, 1030] },
  { name: 'EIGER 4M', shape: [2162, 2068] },
];

const store = createStore({ memoryBudget: 64 * 1024 ** 3 });
const pub = await RedisPublisher.attach(store, url);
const raw = pub.redis.duplicate();
await raw.connect();

/** frames of one detector: one random uint32 frame, appended `count` times by reference (the simulators do the same) */
function frameOf(shape: number[]): Uint32Array {
  const f = new Uint32Array(shape[0]! * shape[1]!);
  for (let i = 0; i < f.length; i++) f[i] = (i * 2654435761) >>> 20;
  return f;
}

async function rawXadd(frame: Uint32Array, count: number): Promise<number> {
  const key = `daqlab-bench:raw:${process.pid}`;
  const payload = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const per = Math.max(1, Math.floor(PIPELINE_BYTES / frame.byteLength));
  const t0 = performance.now();
  for (let i = 0; i < count; i += per) {
    const p = raw.pipeline();
    for (let k = i; k < Math.min(count, i + per); k++) p.xadd(key, `${k}-1`, 'payload', payload);
    const replies = await p.exec();
    for (const [err] of replies ?? []) if (err) throw err;
  }
  const s = (performance.now() - t0) / 1000;
  await raw.del(key);
  return (frame.byteLength * count) / s / 1e9;
}

async function daqlab(frame: Uint32Array, shape: number[], count: number): Promise<{ gbps: number; lost: number }> {
  const lost0 = pub.stats.lost_items;
  const scan = store.createScan({ name: 'bench-redis' });
  const s = scan.createArrayStream('frame', 'uint32', shape);
  scan.setState('PREPARED');
  scan.setState('STARTED');
  const t0 = performance.now();
  for (let i = 0; i < count; i++) s.append([frame]);
  scan.setState('STOPPED');
  scan.close();
  const key = pub.keyOf(scan.key)!;
  await pub.flush();
  const sec = (performance.now() - t0) / 1000;
  // clean up: the scan's document, its streams and its history entry
  const doc = JSON.parse((await raw.call('JSON.GET', key, '$')) as string)[0] as { state_stream: { pk: string }; data_streams: Record<string, { pk: string }> };
  await raw.del(key, `esrf:stream:${doc.state_stream.pk}`, ...Object.values(doc.data_streams).map((d) => `esrf:stream:${d.pk}`));
  for (const [id, fields] of await raw.xrevrange('_SCAN_HISTORY_', '+', '-', 'COUNT', 10)) if (fields[1] === key) await raw.xdel('_SCAN_HISTORY_', id);
  return { gbps: (frame.byteLength * count) / sec / 1e9, lost: pub.stats.lost_items - lost0 };
}

const rec = new Recorder('redis');
const rows: Record<string, string | number>[] = [];
for (const d of DETECTORS) {
  const frame = frameOf(d.shape);
  const count = Math.max(4, Math.round((MBYTES * 1e6) / frame.byteLength));
  // warm up both paths once, then measure raw, daqlab, raw (the reference is the better of the two)
  await rawXadd(frame, Math.min(count, 8));
  await daqlab(frame, d.shape, Math.min(count, 8));
  const r1 = await rawXadd(frame, count);
  const ours = await daqlab(frame, d.shape, count);
  const r2 = await rawXadd(frame, count);
  const ref = Math.max(r1, r2);
  rows.push({ detector: d.name, frames: count, 'MB/frame': +(frame.byteLength / 1e6).toFixed(2), 'raw XADD GB/s': +ref.toFixed(3), 'daqlab GB/s': +ours.gbps.toFixed(3), 'daqlab / raw': +(ours.gbps / ref).toFixed(2), lost: ours.lost });
  const id = d.name.toLowerCase().replace(/\s+/g, '-');
  rec.figure(`${id}.daqlab.gbps`, {
    label: `${d.name}: frames into Redis in blissdata's model`,
    value: ours.gbps,
    unit: 'GB/s',
    higherIsBetter: true,
    reference: { name: 'raw pipelined XADD of the same bytes', value: ref },
  });
}
console.log(`frames into Redis (${url.replace(/\/\/[^@/]*@/, '//***@')}), ${MBYTES} MB per figure`);
console.table(rows);
await pub.close();
raw.disconnect();
