import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { encodeHeader, type DataHeader } from '@daqlab/daq-server/protocol';
import {
  Bool,
  FixedSizeList,
  Field,
  Int64,
  Schema,
  Uint16,
  makeData,
  RecordBatch,
  Struct,
  tableToIPC,
  Table,
} from 'apache-arrow';
import WebSocket from 'ws';
import { DaqClient, PartJoiner, RequestError, decodeData, resolveServerUrl, type SocketLike } from '../src/client.js';

/** An Arrow IPC payload as the server writes it for `count` uint16 items of shape [rows, cols]. */
function payload(first: number, count: number, rows: number, cols: number): Uint8Array {
  const size = rows * cols;
  const values = new Uint16Array(count * size).map((_, i) => i % 65536);
  const item = new Field('item', new Uint16(), false);
  const listType = new FixedSizeList(size, item);
  const fields = [new Field('index', new Int64(), false), new Field('valid', new Bool(), false), new Field('data', listType, false)];
  const meta = new Map([
    ['daqlab.dtype', 'uint16'],
    ['daqlab.shape', JSON.stringify([rows, cols])],
  ]);
  const schema = new Schema(fields, meta);
  const index = makeData({ type: new Int64(), length: count, data: BigInt64Array.from({ length: count }, (_, i) => BigInt(first + i)) });
  const validBits = new Uint8Array(Math.ceil(count / 8)).fill(0xff);
  const valid = makeData({ type: new Bool(), length: count, data: validBits });
  const child = makeData({ type: new Uint16(), length: count * size, data: values });
  const data = makeData({ type: listType, length: count, child });
  const struct = makeData({ type: new Struct(fields), length: count, children: [index, valid, data] });
  return tableToIPC(new Table(schema, [new RecordBatch(schema, struct)]), 'stream');
}

function message(header: DataHeader, body: Uint8Array): Uint8Array {
  const prefix = encodeHeader(header);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

const base = { sub: 's1', scan: 'k', stream: 'frame', kind: 'array' as const, first: 5, count: 2 };

test('decodes an array message: index, validity, dtype, shape and pixels', () => {
  const body = payload(5, 2, 3, 4);
  const msg = decodeData(message({ ...base, msg: 0, part: 0, parts: 1, bytes: body.length }, body), new PartJoiner());
  assert.ok(msg);
  assert.equal(msg.items.length, 2);
  const [a, b] = msg.items;
  assert.deepEqual([a.index, b.index], [5, 6]);
  assert.deepEqual(a.shape, [3, 4]);
  assert.equal(a.dtype, 'uint16');
  assert.ok(a.valid && b.valid);
  assert.ok(b.data instanceof Uint16Array);
  assert.deepEqual(Array.from(a.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(Array.from(b.data).slice(0, 3), [12, 13, 14]);
});

test('items carry their acquisition frame from the header `frames` (null: none); events too', () => {
  const body = payload(5, 2, 3, 4);
  const msg = decodeData(message({ ...base, msg: 0, part: 0, parts: 1, bytes: body.length, frames: [17, null] }, body), new PartJoiner());
  assert.ok(msg);
  assert.equal(msg.items[0].frame, 17);
  assert.equal('frame' in msg.items[1], false);
  const plain = decodeData(message({ ...base, msg: 1, part: 0, parts: 1, bytes: body.length }, body), new PartJoiner());
  assert.equal(plain?.items[0].frame, undefined);
});

test('joins a payload split into parts, in order, and refuses a part out of order', () => {
  const body = payload(0, 2, 64, 64);
  const cuts = [0, 1000, 5000, body.length];
  const joiner = new PartJoiner();
  let out = null;
  for (let p = 0; p < 3; p++) {
    const part = body.subarray(cuts[p], cuts[p + 1]);
    out = decodeData(message({ ...base, msg: 3, part: p, parts: 3, bytes: body.length }, part), joiner);
    if (p < 2) assert.equal(out, null, 'incomplete payload must not decode');
  }
  assert.ok(out);
  assert.equal(out.items[1].data[64 * 64 - 1], (2 * 64 * 64 - 1) % 65536);
  const bad = new PartJoiner();
  assert.throws(() => bad.add({ ...base, msg: 1, part: 1, parts: 2, bytes: 10 }, new Uint8Array(5)), /part 1 arrived after 0/);
});

test('server URLs: proxy paths resolve on the Jupyter base URL, http becomes ws', () => {
  const page = 'https://hub.example.org/user/ana/lab/tree/x.ipynb';
  assert.equal(resolveServerUrl('proxy/8765/ws', page, 'https://hub.example.org/user/ana/'), 'wss://hub.example.org/user/ana/proxy/8765/ws');
  assert.equal(resolveServerUrl('/proxy/8765/ws', page, '/user/ana'), 'wss://hub.example.org/user/ana/proxy/8765/ws');
  assert.equal(resolveServerUrl('http://10.0.0.5:8765/ws', page, '/'), 'ws://10.0.0.5:8765/ws');
  assert.equal(resolveServerUrl('ws://h:1/ws', page, '/', 'se cret'), 'ws://h:1/ws?token=se+cret');
});

// ------------------------------------------------------------ against a real server

const CLI = fileURLToPath(new URL('../../../daq-server/dist/src/cli.js', import.meta.url));
let server: ChildProcess;
let url = '';

before(async () => {
  server = spawn(process.execPath, [CLI, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', onData);
    server.on('exit', (code) => reject(new Error(`daqlab-server exited (${code}): ${out}`)));
  });
});

after(() => {
  server?.kill();
});

const nodeSocket = (u: string) => new WebSocket(u) as unknown as SocketLike;

test('a latest subscription, binned, on a live acquisition; events; typed errors', async () => {
  const client = new DaqClient(url, { socketFactory: nodeSocket });
  await client.connect();
  try {
    const hello = await client.request<{ server: string; detectors: string[] }>('hello');
    assert.equal(hello.server, 'daqlab');
    assert.ok(hello.detectors.includes('sim-camera'));
    await assert.rejects(client.request('stream.info', { scan: 'nope', stream: 'frame' }), (e: unknown) => e instanceof RequestError && e.body.type === 'NotFoundError');

    const counters: number[] = [];
    client.on('acq.counters', (ev) => counters.push((ev.counters as { nb_frames_acquired: number }).nb_frames_acquired));
    const acq = await client.request<{ uuid: string; scan: string }>('acq.prepare', {
      detector: 'sim-camera',
      params: { acquisition: { nb_frames: 60, expo_time: 0.02 }, detector: { scene: 'flat', seed: 1 } },
    });
    await client.request('acq.start', { uuid: acq.uuid });
    const got: { index: number; shape: number[]; dtype: string; sum: number }[] = [];
    const done = new Promise<void>((resolve) => {
      void client.subscribe({ scan: acq.scan, stream: 'frame', mode: 'latest', binning: 2 }, (msg) => {
        const it = msg.items[msg.items.length - 1];
        got.push({ index: it.index, shape: it.shape, dtype: it.dtype, sum: Array.from(it.data as ArrayLike<number>).reduce((a, b) => a + b, 0) });
        client.ack(msg.header.sub!, msg.header.msg); // window 1: the next frame comes only after this
        if (got.length === 5) resolve();
      });
    });
    await done;
    assert.deepEqual(got[0].shape, [512, 512]);
    assert.equal(got[0].dtype, 'uint32'); // uint16 summed by binning
    assert.ok(got.every((g) => g.sum > 0));
    for (let i = 1; i < got.length; i++) assert.ok(got[i].index > got[i - 1].index, 'latest mode delivers newer frames');
    for (let t = 0; t < 50 && counters.length === 0; t++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(counters.length > 0 && counters[counters.length - 1] > 0, 'acq.counters events arrive');
    await client.request('acq.stop', { uuid: acq.uuid }).catch(() => undefined);
  } finally {
    client.close();
  }
});

test('bslz4 frames: a compressed read and subscription decode to the same pixels as an uncompressed read', async () => {
  const client = new DaqClient(url, { socketFactory: nodeSocket });
  await client.connect();
  try {
    const acq = await client.request<{ uuid: string; scan: string }>('acq.prepare', {
      detector: 'sim-eiger-500k',
      params: { acquisition: { nb_frames: 3, expo_time: 0.01 } },
    });
    await client.request('acq.start', { uuid: acq.uuid });
    const base = { scan: acq.scan, stream: 'frame', start: 2, single: true, block: true, timeout: 10 };
    const plain = (await client.read(base)).messages[0].items[0];
    const packed = (await client.read({ ...base, compression: 'bslz4' })).messages[0].items[0];
    assert.equal(packed.dtype, 'uint32');
    assert.deepEqual(packed.shape, plain.shape);
    assert.deepEqual(Array.from(packed.data as Uint32Array), Array.from(plain.data as Uint32Array));
    assert.ok((plain.data as Uint32Array).some((v) => v > 0), 'a frame with counts');
    const first = new Promise<{ items: { index: number; data: ArrayLike<number> }[] }>((resolve) => {
      void client.subscribe({ scan: acq.scan, stream: 'frame', mode: 'lossless', start: 2, compression: 'bslz4' }, resolve);
    });
    const msg = await first;
    assert.equal(msg.items[0].index, 2);
    assert.deepEqual(Array.from(msg.items[0].data), Array.from(plain.data as Uint32Array));
  } finally {
    client.close();
  }
});

test('an unreachable server is an error that names the address', async () => {
  const client = new DaqClient('ws://127.0.0.1:9/ws', { socketFactory: nodeSocket });
  await assert.rejects(client.connect(), /cannot reach the daqlab server at ws:\/\/127\.0\.0\.1:9\/ws/);
});
