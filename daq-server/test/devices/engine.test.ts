/**
 * The step-scan engine on an in-memory store: one scan per run with a stream per channel, relative
 * scans back at their start, a fault mid-scan and an abort leaving consistent streams and stopped axes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../src/store/index.js';
import { simulatedDevices } from '../../src/devices/registry.js';
import { ScanEngine } from '../../src/scanning/engine.js';
import { DaqError } from '../../src/protocol/index.js';
import type { ArrayStream } from '../../src/store/types.js';

function setup() {
  const store = createStore({ memoryBudget: 1 << 30 });
  const devices = simulatedDevices(5);
  const engine = new ScanEngine(store, devices);
  return { store, devices, engine };
}

const values = (s: ArrayStream): number[] => s.slice(0, s.length).items.map((x) => x[0]);

test('engine: a dscan is one scan with a stream per channel and returns its axis', async () => {
  const { store, devices, engine } = setup();
  await devices.axis('samy').move(0.5);
  const started = await engine.run({ type: 'dscan', axes: [{ axis: 'samy', start: -0.2, stop: 0.2 }], intervals: 4, count_time: 0, counters: ['i0', 'mca'] });
  assert.equal(started.state, 'RUNNING');
  const done = await engine.wait(started.scan, 30);
  assert.equal(done.state, 'DONE');
  const scan = store.scan(started.scan);
  assert.equal(scan.state, 'CLOSED');
  assert.deepEqual(done.channels, ['samy', 'elapsed_time', 'epoch', 'i0', 'mca:spectrum', 'mca:deadtime']);
  const y = values(scan.stream('samy') as ArrayStream);
  assert.equal(y.length, 5);
  y.forEach((v, k) => assert.ok(Math.abs(v - (0.3 + 0.1 * k)) < 1e-9, `point ${k} at ${v}`));
  assert.equal((scan.stream('mca:spectrum') as ArrayStream).shape[0], 4096);
  assert.ok(Math.abs(devices.axis('samy').position - 0.5) < 1e-12);
  devices.shutdown();
});

test('engine: a fault mid-scan and an abort leave equal stream lengths and stopped axes', async () => {
  const { store, devices, engine } = setup();
  devices.axis('samx').configure({ fault_at: 0.35 });
  const f = await engine.run({ type: 'ascan', axes: [{ axis: 'samx', start: 0, stop: 1 }], intervals: 10, count_time: 0, counters: ['diode'] });
  const faulted = await engine.wait(f.scan, 30);
  assert.equal(faulted.state, 'FAULT');
  assert.equal(faulted.points_done, 4);
  const lengths = (key: string) => new Set([...store.scan(key).streams.values()].map((s) => s.length));
  assert.deepEqual(lengths(f.scan), new Set([4]));
  assert.equal(devices.axis('samx').state, 'FAULT');
  devices.axis('samx').reset();
  await assert.rejects(engine.run({ type: 'ascan', axes: [{ axis: 'samx', start: 0, stop: 20 }], intervals: 1, count_time: 0 }), (e: DaqError) => e.fields![0].field === 'axes[0].stop');
  const t = await engine.run({ type: 'timescan', count_time: 0.01, counters: ['i0'] });
  await assert.rejects(engine.run({ type: 'ct', count_time: 0 }), (e: DaqError) => e.type === 'StateError');
  await new Promise((r) => setTimeout(r, 100));
  const aborted = await engine.abort(t.scan);
  assert.equal(aborted.state, 'ABORTED');
  assert.ok(aborted.points_done > 0);
  assert.deepEqual(lengths(t.scan), new Set([aborted.points_done]));
  devices.shutdown();
});
