/**
 * Devices: motion profiles (trapezoid and triangle, backlash, crossings), the simulated axis
 * (limits, LIMIT and FAULT stops, encoder), the seeded sample and the MCA (calibration, ROIs,
 * dead time, determinism), and step-scan plans (BLISS point semantics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Path, trapezoid } from '../../src/devices/profile.js';
import { SimAxis } from '../../src/devices/axis.js';
import { SimSample } from '../../src/devices/sample.js';
import { SimMca } from '../../src/devices/mca.js';
import { SimCounter } from '../../src/devices/counters.js';
import { simulatedDevices } from '../../src/devices/registry.js';
import { buildPlan } from '../../src/scanning/plan.js';
import { parseStepScan } from '../../src/scanning/request.js';
import { DaqError } from '../../src/protocol/index.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b} (±${tol})`);

test('trapezoid: ramps, cruise, and a triangle when the move is short', () => {
  const long = trapezoid(0, 10, 5, 10); // ramp 0.5 s over 1.25 each way, 7.5 cruising at 5 → 1.5 s
  close(long.ramp, 0.5);
  close(long.duration, 0.5 + 1.5 + 0.5);
  close(long.peak, 5);
  const short = trapezoid(0, 1, 5, 10); // √(1/10) s up, same down, never reaches 5
  close(short.duration, 2 * Math.sqrt(0.1));
  assert.ok(short.peak < 5);
});

test('path: positions along the profile, monotonic, exact at the ends; velocity bounded', () => {
  const p = new Path(2, -3, 4, 8);
  close(p.positionAt(0), 2);
  close(p.positionAt(p.duration), -3);
  close(p.positionAt(p.duration + 1), -3);
  let last = 2;
  for (let t = 0; t <= p.duration; t += p.duration / 200) {
    const x = p.positionAt(t);
    assert.ok(x <= last + 1e-12, 'moves one way');
    assert.ok(Math.abs(p.velocityAt(t)) <= 4 + 1e-3, 'never faster than the velocity');
    last = x;
  }
  // half the distance at half the time (the profile is symmetric)
  close(p.positionAt(p.duration / 2), -0.5, 1e-9);
});

test('path: backlash overshoots a negative move and approaches upwards; crossings are timed', () => {
  const p = new Path(1, 0, 10, 100, 0.2);
  assert.equal(p.segments.length, 2);
  close(p.segments[0].to, -0.2);
  close(p.to, 0);
  const mid = p.positionAt(p.segments[0].duration);
  close(mid, -0.2);
  const t = p.firstCrossing(0.5)!;
  close(p.positionAt(t), 0.5, 1e-9);
  assert.equal(p.firstCrossing(1), null, 'the start is not a crossing');
  assert.equal(new Path(0, 1, 1, 1).firstCrossing(2), null);
  // a positive move has no backlash leg
  assert.equal(new Path(0, 1, 10, 100, 0.2).segments.length, 1);
});

test('axis: moves in real time, encoder quantised, limits refused naming the axis', async () => {
  const a = new SimAxis({ name: 'm', unit: 'mm', position: 0, limits: [-1, 1], hardware_limits: [-2, 2], velocity: 100, acceleration: 10000, backlash: 0, encoder_resolution: 0.01 });
  assert.throws(() => a.move(1.5), (e: DaqError) => e.type === 'ParameterError' && /m target 1.5 is outside its limits \[-1, 1\]/.test(e.message));
  assert.equal(a.state, 'READY');
  const done = a.move(0.123);
  assert.equal(a.state, 'MOVING');
  assert.throws(() => a.move(0), (e: DaqError) => e.type === 'StateError');
  await done;
  assert.equal(a.state, 'READY');
  close(a.position, 0.123);
  close(a.encoder, 0.12, 1e-12);
});

test('axis: LIMIT at the hardware travel, FAULT where the simulation says; reset clears', async () => {
  const a = new SimAxis({ name: 'm', unit: 'mm', position: 0, limits: [-1, 1], hardware_limits: [-2, 2], velocity: 100, acceleration: 10000, backlash: 0, encoder_resolution: 0.001 });
  a.configure({ limits: [-5, 5] }); // software limits wider than the travel
  await a.move(3);
  assert.equal(a.state, 'LIMIT');
  close(a.position, 2);
  assert.match(a.info().reason!, /hardware limit at 2/);
  await a.move(0); // moving away from a limit switch is allowed
  assert.equal(a.state, 'READY');
  a.configure({ fault_at: 0.5 });
  await a.move(1);
  assert.equal(a.state, 'FAULT');
  close(a.position, 0.5);
  assert.throws(() => a.move(0), (e: DaqError) => e.type === 'StateError' && /FAULT/.test(e.message));
  a.reset();
  a.configure({ fault_at: null });
  await a.move(0);
  assert.equal(a.state, 'READY');
  assert.throws(() => a.configure({ velocity: -1 }), (e: DaqError) => e.type === 'ParameterError' && e.fields![0].field === 'velocity');
  assert.throws(() => a.configure({ limits: [2, 1] }), (e: DaqError) => e.fields![0].field === 'limits');
});

test('axis: stop freezes the position mid-move', async () => {
  const a = new SimAxis({ name: 'm', unit: 'mm', position: 0, limits: [-100, 100], hardware_limits: [-200, 200], velocity: 10, acceleration: 100, backlash: 0, encoder_resolution: 0.001 });
  const done = a.move(50);
  await new Promise((r) => setTimeout(r, 100));
  a.stop();
  await done;
  assert.equal(a.state, 'READY');
  assert.ok(a.position > 0 && a.position < 50, `stopped at ${a.position}`);
});

test('sample: deterministic by seed, concentrations in [0, 1], absorption on the plate only', () => {
  const a = new SimSample(7);
  const b = new SimSample(7);
  const c = new SimSample(8);
  assert.deepEqual(a.truth(), b.truth());
  assert.notDeepEqual(a.truth(), c.truth());
  const g = a.truth().elements.Fe[0];
  const at = a.at(g.x, g.y);
  assert.ok(at.concentrations.Fe >= Math.min(1, g.amplitude) - 1e-12);
  assert.ok(at.transmission < 1 && at.transmission > 0);
  assert.equal(a.at(7, 0).transmission, 1, 'air off the plate');
  assert.equal(a.concentration('Fe', 7, 0), 0);
});

test('MCA: calibrated peaks where the elements emit, ROIs integrate them, dead time grows with rate', () => {
  const sample = new SimSample(3);
  const mca = new SimMca('mca', sample);
  const g = sample.truth().elements.Cu.reduce((p, q) => (q.amplitude > p.amplitude ? q : p));
  mca.addRoi('Cu', 7900, 8200);
  mca.addRoi('Fe', 6300, 6500);
  const exposure = { seconds: 1, x: g.x, y: g.y, scan: 1, point: 0 };
  const r = mca.acquire(exposure);
  assert.equal(r.spectrum.length, 4096);
  // the Cu Kα channel (8048 eV / 10 eV per channel) stands far above the background far from any line
  assert.ok(r.spectrum[805] > 100 * Math.max(1, r.spectrum[2000]), `Cu Kα ${r.spectrum[805]} vs ${r.spectrum[2000]}`);
  assert.equal(r.rois[0], mca.integrate(r.spectrum, mca.rois[0]));
  assert.ok(r.rois[0] > r.rois[1] || sample.concentration('Fe', g.x, g.y) > sample.concentration('Cu', g.x, g.y));
  assert.ok(r.dead_time > 0 && r.dead_time < 0.5);
  // the same key, the same counts; another point, other noise
  assert.deepEqual(mca.acquire(exposure).spectrum, r.spectrum);
  assert.notDeepEqual(mca.acquire({ ...exposure, point: 1 }).spectrum, r.spectrum);
  // bad ROIs are named
  assert.throws(() => mca.addRoi('Zn', 9000, 8000), (e: DaqError) => e.fields![0].field === 'stop');
  assert.throws(() => mca.addRoi('1x', 1, 2), (e: DaqError) => e.fields![0].field === 'name');
  assert.throws(() => mca.addRoi('Zn', 0, 1e9), (e: DaqError) => e.fields![0].field === 'stop');
  for (let k = mca.rois.length; k < 32; k++) mca.addRoi(`r${k}`, 1, 2);
  assert.throws(() => mca.addRoi('more', 1, 2), (e: DaqError) => e.type === 'LimitError');
});

test('counters: i0 counts the flux, the diode what the sample transmits', () => {
  const sample = new SimSample(1);
  const i0 = new SimCounter('i0', sample);
  const diode = new SimCounter('diode', sample);
  const e = { seconds: 0.1, x: 0, y: 0, scan: 1, point: 0 };
  close(i0.read(e), sample.truth().flux * 0.1, 5 * Math.sqrt(sample.truth().flux * 0.1));
  const expected = 0.5 * sample.truth().flux * 0.1 * sample.at(0, 0).transmission;
  close(diode.read(e), expected, 6 * Math.sqrt(expected));
  assert.ok(diode.read({ ...e, x: 8 }) > diode.read(e), 'more light through air than through the sample');
});

test('registry: the default set, unknown names listed', () => {
  const reg = simulatedDevices();
  assert.deepEqual(reg.names(), ['samx', 'samy', 'samz', 'omega', 'i0', 'diode', 'mca']);
  assert.throws(() => reg.axis('i0'), (e: DaqError) => e.type === 'NotFoundError' && /axiss?: samx, samy, samz, omega/.test(e.message));
  reg.shutdown();
});

test('plans: intervals + 1 points, relative around the position, mesh back and forth, lookup', () => {
  const at = (name: string) => (name === 'samy' ? 1 : 0);
  const a = buildPlan(parseStepScan({ type: 'ascan', axes: [{ axis: 'samy', start: 0, stop: 1 }], intervals: 4, count_time: 0.1 }), at);
  assert.equal(a.npoints, 5);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => a.point(i)[0]), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(a.title, 'ascan samy 0 1 4 0.1');
  assert.equal(a.origin, null);
  const d = buildPlan(parseStepScan({ type: 'dscan', axes: [{ axis: 'samy', start: -1, stop: 1 }], intervals: 2, count_time: 0 }), at);
  assert.deepEqual(d.origin, [1]);
  assert.deepEqual([0, 1, 2].map((i) => d.point(i)[0]), [0, 1, 2]);
  const m = buildPlan(
    parseStepScan({ type: 'amesh', axes: [{ axis: 'samx', start: 0, stop: 2, intervals: 2 }, { axis: 'samy', start: 0, stop: 1, intervals: 1 }], count_time: 0, backnforth: true }),
    at,
  );
  assert.equal(m.npoints, 6);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => m.point(i)), [[0, 0], [1, 0], [2, 0], [2, 1], [1, 1], [0, 1]]);
  const l = buildPlan(parseStepScan({ type: 'lookupscan', axes: [{ axis: 'samy', positions: [3, 1, 2] }], count_time: 0 }), at);
  assert.deepEqual([0, 1, 2].map((i) => l.point(i)), [[3], [1], [2]]);
  assert.equal(buildPlan(parseStepScan({ type: 'timescan', count_time: 0.1 }), at).npoints, null);
});

test('scan requests: every bad field named, sizes bounded', () => {
  const fields = (raw: Record<string, unknown>) => {
    try {
      parseStepScan(raw);
    } catch (e) {
      return (e as DaqError).fields!.map((f) => f.field);
    }
    return [];
  };
  assert.deepEqual(fields({ type: 'nope', count_time: 1 }), ['type']);
  assert.deepEqual(fields({ type: 'ascan', axes: [{ axis: 'samy', start: 0, stop: 'x' }], intervals: 0, count_time: -1 }), ['count_time', 'intervals', 'axes[0].stop']);
  assert.deepEqual(fields({ type: 'amesh', axes: [{ axis: 'a', start: 0, stop: 1, intervals: 1e5 }, { axis: 'b', start: 0, stop: 1, intervals: 1e5 }], count_time: 0 }), ['axes']);
  assert.deepEqual(fields({ type: 'ct', count_time: 0.1, colour: 'red' }), ['colour']);
  assert.deepEqual(fields({ type: 'a2scan', axes: [{ axis: 'a', start: 0, stop: 1 }, { axis: 'a', start: 0, stop: 1 }], intervals: 2, count_time: 0 }), ['axes']);
});
