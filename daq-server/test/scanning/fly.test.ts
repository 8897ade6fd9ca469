/**
 * Fly scans (fscan, fmesh) on an in-memory store: encoder positions at each trigger, 10 kHz fast
 * channels joined by trigger index, back-and-forth lines, a detector too slow refused with both
 * rates, an abort and a fault leaving stopped axes and consistent streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../src/store/index.js';
import { simulatedDevices } from '../../src/devices/registry.js';
import { ScanEngine } from '../../src/scanning/engine.js';
import { DaqError } from '../../src/protocol/index.js';
import type { ArrayStream } from '../../src/store/types.js';
import type { ScanDetector } from '../../src/scanning/detectors.js';

function setup(detectors: Record<string, ScanDetector> = {}) {
  const store = createStore({ memoryBudget: 1 << 30 });
  const devices = simulatedDevices(5);
  const engine = new ScanEngine(store, devices, (n) => detectors[n] ?? null);
  return { store, devices, engine };
}

const col = (s: ArrayStream): number[] => s.slice(0, s.length).items.map((x) => x[0]);
const lengths = (store: ReturnType<typeof createStore>, key: string, fast: boolean) =>
  new Set([...store.scan(key).streams.entries()].filter(([n]) => n.startsWith('fast:') === fast).map(([, s]) => s.length));

test('fly: an fscan in TIME mode gives encoder positions per trigger and 10 kHz samples joined by trigger', async () => {
  const { store, devices, engine } = setup();
  const started = await engine.run({
    type: 'fscan', axes: [{ axis: 'samy', start: -1, step: 0.01, npoints: 200 }], acq_time: 0.002, counters: ['i0', 'diode', 'mca'],
    fast_counters: ['samy_interf', 'i0'], fast_rate: 10000,
  });
  assert.equal(started.title, 'fscan samy -1 0.01 200 0.002');
  const done = await engine.wait(started.scan, 30);
  assert.equal(done.state, 'DONE', String(done.reason));
  assert.equal(done.points_done, 200);
  const scan = store.scan(started.scan);
  assert.deepEqual(lengths(store, started.scan, false), new Set([200]));
  const y = col(scan.stream('samy') as ArrayStream);
  y.forEach((v, k) => assert.ok(Math.abs(v - (-1 + 0.01 * k)) <= 1.5e-4, `trigger ${k} at ${v}`));
  assert.deepEqual(col(scan.stream('trigger') as ArrayStream), Array.from({ length: 200 }, (_, k) => k));
  assert.equal((scan.stream('mca:spectrum') as ArrayStream).shape[0], 4096);
  const i0 = col(scan.stream('i0') as ArrayStream);
  assert.ok(Math.abs(i0.reduce((a, b) => a + b, 0) / 200 - 2000) < 50, 'i0 counts flux × acq_time');
  // 10 samples per trigger (2 ms at 10 kHz), each tagged with its trigger
  const trig = col(scan.stream('fast:trigger') as ArrayStream);
  assert.equal(trig.length, 4000);
  const interf = col(scan.stream('fast:samy_interf') as ArrayStream);
  const sums = new Float64Array(200);
  const counts = new Float64Array(200);
  trig.forEach((t, i) => {
    sums[t] += interf[i];
    counts[t]++;
  });
  counts.forEach((c) => assert.equal(c, 20));
  // the interferometer's mean over a trigger is the middle of its exposure: half a step past the encoder
  for (let k = 0; k < 200; k++) assert.ok(Math.abs(sums[k] / counts[k] - y[k] - 0.00475) < 2e-4, `trigger ${k}`);
  assert.equal(scan.info.scan_engine, 'fly');
  assert.equal(devices.axis('samy').state, 'READY');
  devices.shutdown();
});

test('fly: POSITION mode triggers at the encoder crossings; fmesh flies back and forth on a grid', async () => {
  const { store, devices, engine } = setup();
  const p = await engine.run({ type: 'fscan', axes: [{ axis: 'samx', start: 0, step: -0.02, npoints: 50 }], acq_time: 0.004, scan_mode: 'POSITION', counters: ['diode'] });
  assert.equal((await engine.wait(p.scan, 30)).state, 'DONE');
  col(store.scan(p.scan).stream('samx') as ArrayStream).forEach((v, k) => assert.ok(Math.abs(v + 0.02 * k) <= 1e-4 + 1e-12, `trigger ${k} at ${v}`));

  const m = await engine.run({
    type: 'fmesh', axes: [{ axis: 'samx', start: -1, step: 0.05, npoints: 20 }, { axis: 'samy', start: 0, step: 0.1, npoints: 4 }],
    acq_time: 0.005, backnforth: true, counters: ['i0', 'mca'],
  });
  const md = await engine.wait(m.scan, 60);
  assert.equal(md.state, 'DONE', String(md.reason));
  const scan = store.scan(m.scan);
  assert.deepEqual(scan.info.grid, { axes: [{ axis: 'samx', start: -1, stop: -1 + 19 * 0.05, intervals: 19 }, { axis: 'samy', start: 0, stop: 0.30000000000000004, intervals: 3 }], backnforth: true });
  const x = col(scan.stream('samx') as ArrayStream);
  const y = col(scan.stream('samy') as ArrayStream);
  assert.equal(x.length, 80);
  for (let i = 0; i < 80; i++) {
    const row = Math.floor(i / 20);
    const c = row % 2 ? 19 - (i % 20) : i % 20;
    assert.ok(Math.abs(x[i] - (-1 + 0.05 * c)) <= 1.5e-4, `point ${i}: x ${x[i]}`);
    assert.ok(Math.abs(y[i] - 0.1 * row) <= 1e-4, `point ${i}: y ${y[i]}`);
  }
  devices.shutdown();
});

test('fly: bad input is refused naming the field; a detector slower than the triggers is refused with both rates', async () => {
  const slow: ScanDetector = {
    name: 'slowcam', maxFrameRate: 100,
    arm: () => Promise.reject(new Error('not used')),
    armFly: () => Promise.reject(new Error('must not be armed')),
  };
  const { devices, engine } = setup({ slowcam: slow });
  const fly = (extra: Record<string, unknown>) => engine.run({ type: 'fscan', axes: [{ axis: 'samy', start: 0, step: 0.001, npoints: 10 }], acq_time: 0.001, ...extra });
  await assert.rejects(fly({ counters: ['slowcam'] }), (e: DaqError) => e.fields![0].field === 'counters[0]' && /100 Hz/.test(e.message) && /1000 Hz/.test(e.message));
  await assert.rejects(fly({ counters: ['nope'] }), (e: DaqError) => e.fields![0].field === 'counters[0]');
  await assert.rejects(fly({ fast_counters: ['mca'] }), (e: DaqError) => e.fields![0].field === 'fast_counters[0]');
  await assert.rejects(fly({ scan_mode: 'ENCODER' }), (e: DaqError) => e.fields![0].field === 'scan_mode');
  await assert.rejects(fly({ fast_rate: 20000 }), (e: DaqError) => e.fields![0].field === 'fast_rate');
  await assert.rejects(fly({ acq_time: 0.00001 }), (e: DaqError) => e.fields![0].field === 'acq_time' && /samy/.test(e.message));
  // the ramp before the first point would leave the limits
  await assert.rejects(engine.run({ type: 'fscan', axes: [{ axis: 'samy', start: -10, step: 0.01, npoints: 10 }], acq_time: 0.002 }), (e: DaqError) => e.fields![0].field === 'axes[0].start');
  await assert.rejects(engine.run({ type: 'fmesh', axes: [{ axis: 'samy', start: 0, step: 0.01, npoints: 10 }], acq_time: 0.002 }), (e: DaqError) => e.fields![0].field === 'axes');
  devices.shutdown();
});

test('fly: an abort and a fault mid-line stop the axes and leave every channel consistent', async () => {
  const { store, devices, engine } = setup();
  const a = await engine.run({ type: 'fscan', axes: [{ axis: 'samy', start: -5, step: 0.002, npoints: 5000 }], acq_time: 0.002, counters: ['i0'], fast_counters: ['samy_interf'] });
  await new Promise((r) => setTimeout(r, 1000)); // 0.5 s to the line's start, then flying
  await assert.rejects(engine.run({ type: 'ct', count_time: 0 }), (e: DaqError) => e.type === 'StateError');
  const ab = await engine.abort(a.scan);
  assert.equal(ab.state, 'ABORTED');
  assert.ok(ab.points_done > 0 && ab.points_done < 5000, `${ab.points_done} points`);
  assert.deepEqual(lengths(store, a.scan, false), new Set([ab.points_done]));
  const trig = col(store.scan(a.scan).stream('fast:trigger') as ArrayStream);
  assert.ok(trig.length > 0 && Math.max(...trig) < ab.points_done, 'fast samples only for measured triggers');
  assert.equal(devices.axis('samy').state, 'READY');
  const at = devices.axis('samy').position;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(devices.axis('samy').position, at, 'the axis stays stopped');

  devices.axis('samx').configure({ fault_at: 0.5 });
  const f = await engine.run({ type: 'fscan', axes: [{ axis: 'samx', start: 0, step: 0.01, npoints: 100 }], acq_time: 0.002, counters: ['diode'] });
  const fd = await engine.wait(f.scan, 30);
  assert.equal(fd.state, 'FAULT');
  assert.match(String(fd.reason), /samx FAULT/);
  assert.ok(fd.points_done >= 45 && fd.points_done <= 50, `${fd.points_done} points before the fault at 0.5`);
  assert.deepEqual(lengths(store, f.scan, false), new Set([fd.points_done]));
  assert.equal(store.scan(f.scan).state, 'CLOSED');
  devices.shutdown();
});
