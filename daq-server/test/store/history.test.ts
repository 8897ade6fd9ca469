import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaqService } from '../../src/service.js';
import { createStore, type MemoryScan } from '../../src/store/index.js';
import { ScanHistory } from '../../src/store/history.js';

test('with a state folder scan numbers continue across services; without one nothing persists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-history-'));
  try {
    const a = new DaqService({ plugins: [], memoryBudget: 1 << 20, stateDir: dir });
    assert.equal(a.store.createScan({ name: 'ct' }).identity.number, 1);
    assert.equal(a.store.createScan({ name: 'ct', session: 'other' }).identity.number, 1);
    assert.equal(a.store.createScan({ name: 'x' }).identity.number, 2);
    const b = new DaqService({ plugins: [], memoryBudget: 1 << 20, stateDir: dir });
    assert.equal(b.store.nextNumber({ name: 'ct' }), 3, 'per session, continued');
    assert.equal(b.store.nextNumber({ session: 'other' }), 2);
    const none = new DaqService({ plugins: [], memoryBudget: 1 << 20, stateDir: null });
    assert.equal(none.history, null);
    assert.equal(none.store.nextNumber({ name: 'ct' }), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finished scans that saved a master are indexed and listed again while the master exists; frames read from the files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-history-'));
  try {
    const master = join(dir, 'ct_0001_master.h5');
    const data = join(dir, 'ct_0001_data.bin');
    writeFileSync(master, 'm');
    // two uncompressed 4-byte frames at addresses 8 and 16
    const bytes = Buffer.alloc(24);
    bytes.writeUInt32LE(7, 8);
    bytes.writeUInt32LE(9, 16);
    writeFileSync(data, bytes);
    const st = createStore({ memoryBudget: 1 << 20 });
    const history = new ScanHistory(dir);
    const scan = st.createScan({ name: 'ct' });
    const frames = scan.createArrayStream('frame', 'uint32', [1]);
    frames.append([new Uint32Array([7]), new Uint32Array([9])]);
    frames.setBacking({
      readablePrefix: () => 2,
      read: () => ({ data: new Uint32Array(1), valid: true }),
      locate: (i) => ({ path: data, address: 8 + 8 * i, size: 4, compression: 'none', valid: true }),
    });
    scan.updateInfo({ saving: { master, done: true } });
    scan.close();
    await history.recordFinished(scan as MemoryScan);
    assert.equal(readFileSync(join(dir, 'scans.jsonl'), 'utf8').trim().split('\n').length, 1);

    const st2 = createStore({ memoryBudget: 1 << 20 });
    assert.equal(new ScanHistory(dir).restore(st2), 1);
    const back = st2.scan(scan.key);
    assert.equal(back.state, 'CLOSED');
    assert.deepEqual(back.identity, scan.identity);
    assert.equal(st2.nextNumber({ name: 'ct' }), 2);
    const f = back.stream('frame');
    assert.ok(f.kind === 'array');
    assert.equal(f.length, 2);
    assert.deepEqual([...f.slice(0).items.map((x) => x[0])], [7, 9]);
    assert.equal(back.bytes, 0, 'nothing of it is held in memory');
    // once the master is gone, the scan is not listed again
    rmSync(master);
    const st3 = createStore({ memoryBudget: 1 << 20 });
    assert.equal(new ScanHistory(dir).restore(st3), 0);
    assert.equal(st3.nextNumber({ name: 'ct' }), 2, 'its number still counts');
    // and the index was compacted: its line and its locations are gone
    assert.equal(readFileSync(join(dir, 'scans.jsonl'), 'utf8'), '');
    assert.deepEqual(readdirSync(join(dir, 'frames')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A closed scan of two saved 4-byte frames (values 7, 9 at addresses 8, 16) that were acquisition frames `acq`. */
async function recordTwoFrames(dir: string, acq: [number, number]): Promise<string> {
  const master = join(dir, 'ct_0001_master.h5');
  const data = join(dir, 'ct_0001_data.bin');
  writeFileSync(master, 'm');
  const bytes = Buffer.alloc(24);
  bytes.writeUInt32LE(7, 8);
  bytes.writeUInt32LE(9, 16);
  writeFileSync(data, bytes);
  const scan = createStore({ memoryBudget: 1 << 20 }).createScan({ name: 'ct' });
  const frames = scan.createArrayStream('frame', 'uint32', [1]);
  frames.append([new Uint32Array([7]), new Uint32Array([9])]);
  frames.setBacking({
    readablePrefix: () => 2,
    read: (i) => ({ data: new Uint32Array(1), valid: true, frame: acq[i] }),
    locate: (i) => ({ path: data, address: 8 + 8 * i, size: 4, compression: 'none', valid: true, frame: acq[i] }),
  });
  scan.updateInfo({ saving: { master, done: true } });
  scan.close();
  await new ScanHistory(dir).recordFinished(scan as MemoryScan);
  return scan.key;
}

test('a restored scan names the acquisition frame of each saved frame (frames were dropped before them)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-history-'));
  try {
    const key = await recordTwoFrames(dir, [3, 8]);
    const st = createStore({ memoryBudget: 1 << 20 });
    assert.equal(new ScanHistory(dir).restore(st), 1);
    const f = st.scan(key).stream('frame');
    assert.ok(f.kind === 'array');
    const all = f.slice(0);
    assert.deepEqual([...all.items.map((x) => x[0])], [7, 9]);
    assert.deepEqual(all.frames, [3, 8]);
    assert.equal(f.get(1).frame, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an index line written before frames were kept (4 fields per frame) still restores, without frame indices', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-history-'));
  try {
    const key = await recordTwoFrames(dir, [3, 8]);
    // rewrite it as an older server did: no `fields`, 4 numbers per frame
    const line = JSON.parse(readFileSync(join(dir, 'scans.jsonl'), 'utf8')) as { frames: Record<string, unknown> };
    delete line.frames.fields;
    writeFileSync(join(dir, 'scans.jsonl'), `${JSON.stringify(line)}\n`);
    const bin = join(dir, 'frames', readdirSync(join(dir, 'frames'))[0]!);
    const raw = readFileSync(bin);
    const five = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    writeFileSync(bin, Buffer.from(Float64Array.from([...five.subarray(0, 4), ...five.subarray(5, 9)]).buffer));
    const st = createStore({ memoryBudget: 1 << 20 });
    assert.equal(new ScanHistory(dir).restore(st), 1);
    const f = st.scan(key).stream('frame');
    assert.ok(f.kind === 'array');
    const all = f.slice(0);
    assert.deepEqual([...all.items.map((x) => x[0])], [7, 9]);
    assert.equal(all.frames, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a restored scan lists and reads its other streams too (events and arrays, with their frames)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-history-'));
  try {
    const master = join(dir, 'smx_0001_master.h5');
    writeFileSync(master, 'm');
    const st = createStore({ memoryBudget: 1 << 20 });
    const history = new ScanHistory(dir);
    const scan = st.createScan({ name: 'smx' });
    scan.createEventStream('peaks', { kind: 'peaks' }).append([{ x: 1, y: 2 }, { x: 3, y: 4 }, { x: 5, y: 6 }], [0, 0, 2]);
    scan.createArrayStream('intensity', 'float32', [3], { unit: 'counts' }).append(
      [new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6])], [true, false], [1000.5, NaN], [0, 2]);
    scan.createEventStream('summary').append([{ hits: 2 }]);
    scan.updateInfo({ saving: { master, done: true } });
    scan.close();
    await history.recordFinished(scan as MemoryScan);

    const st2 = createStore({ memoryBudget: 1 << 20 });
    assert.equal(new ScanHistory(dir).restore(st2), 1);
    const back = st2.scan(scan.key);
    assert.deepEqual([...back.streams.keys()].sort(), ['intensity', 'peaks', 'summary']);
    const peaks = back.stream('peaks');
    assert.equal(peaks.kind, 'event');
    assert.deepEqual(peaks.info, { kind: 'peaks' });
    const p = peaks.slice(0, 3);
    assert.deepEqual(p.items, [{ x: 1, y: 2 }, { x: 3, y: 4 }, { x: 5, y: 6 }]);
    assert.deepEqual(p.frames, [0, 0, 2]);
    const intensity = back.stream('intensity');
    assert.ok(intensity.kind === 'array' && intensity.sealed);
    const i = intensity.slice(0, 2);
    assert.deepEqual(i.items.map((x) => [...x]), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(i.valid, [true, false]);
    assert.deepEqual(i.frames, [0, 2]);
    assert.equal(i.times?.[0], 1000.5);
    assert.deepEqual(back.stream('summary').slice(0, 1).items, [{ hits: 2 }]);
    assert.equal(back.state, 'CLOSED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
