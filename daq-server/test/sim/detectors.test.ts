/**
 * The five simulators as plugins: info, schema, shapes, determinism, the
 * frame pool, lost packets, faults, configuration errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { DaqError, product } from '../../src/protocol/index.js';
import { DetectorFault } from '../../src/detectors/plugin.js';
import { simulatorPlugins, EIGER_DUMMY } from '../../src/detectors/sim/index.js';
import { CountingRun } from '../../src/detectors/sim/counting.js';
import { mean, openRun, plugin } from './helpers.js';

const EXPECTED = {
  'sim-jungfrau-4m': { shape: [8, 512, 1024], image: [2164, 2068], dtype: 'uint16', rate: 2000 },
  'sim-eiger-4m': { shape: [2167, 2070], image: [2167, 2070], dtype: 'uint32', rate: 750 },
  'sim-eiger-500k': { shape: [514, 1030], image: [514, 1030], dtype: 'uint32', rate: 9000 },
  'sim-camera': { shape: [1024, 1024], image: [1024, 1024], dtype: 'uint16', rate: 100 },
  'sim-tomo-camera': { shape: [2048, 2048], image: [2048, 2048], dtype: 'uint16', rate: 2000 },
} as const;

/** Frame shape of a run with the default configuration (the tomography camera's ROI defaults to 256²). */
const runShape = (name: string, info: number[]): number[] => (name === 'sim-tomo-camera' ? [256, 256] : info);

test('five simulators with complete DetectorInfo', () => {
  const plugins = simulatorPlugins();
  assert.deepEqual(plugins.map((p) => p.name).sort(), Object.keys(EXPECTED).sort());
  for (const p of plugins) {
    const info = p.info();
    const e = EXPECTED[p.name as keyof typeof EXPECTED];
    assert.equal(info.name, p.name);
    assert.deepEqual(info.shape, e.shape, p.name);
    assert.deepEqual(info.image_shape, e.image, p.name);
    assert.equal(info.dtype, e.dtype);
    assert.equal(info.max_frame_rate, e.rate);
    assert.deepEqual(info.pixel_size, p.name === 'sim-tomo-camera' ? [6.5e-6, 6.5e-6] : [75e-6, 75e-6]);
    assert.deepEqual(info.trigger_modes, ['internal', 'software', 'external']);
    assert.deepEqual(info.scenes.sort(), ['dark', 'flat', 'powder', 'saxs', 'serial_crystallography', 'tomography', 'xpcs']);
    assert.ok(info.model.length > 5);
    assert.ok(Object.keys(info.sensor).length >= 3);
    for (const [k, v] of Object.entries(info)) assert.notEqual(v, undefined, `${p.name}.${k}`);
    assert.equal(info.dummy, e.dtype === 'uint32' ? EIGER_DUMMY : null);
  }
});

test('config schemas: defaults everywhere, closed, and Ajv fills the same defaults as the plugin', async () => {
  const ajv = new Ajv({ useDefaults: true, strict: false });
  for (const p of simulatorPlugins()) {
    const schema = p.configSchema() as { additionalProperties: boolean; properties: Record<string, Record<string, unknown>> };
    assert.equal(schema.additionalProperties, false);
    for (const [k, s] of Object.entries(schema.properties)) {
      assert.ok('default' in s, `${p.name}.${k} has a default`);
      assert.ok(typeof s.description === 'string' && s.description.length > 10, `${p.name}.${k} is described`);
    }
    const validate = ajv.compile(schema);
    const cfg: Record<string, unknown> = {};
    assert.ok(validate(cfg), JSON.stringify(validate.errors));
    const run = await p.open({ ...cfg, scene: 'dark' });
    for (const [k, v] of Object.entries(cfg)) {
      if (k === 'scene') continue;
      if (k === 'poni') assert.deepEqual({ ...(v as object) }, { ...(run.config.poni as object) });
      else assert.deepEqual(run.config[k], v, `${p.name}.${k}`);
    }
    assert.equal(validate({ no_such_field: 1 }), false);
    assert.equal(validate({ scene: 'nope' }), false);
    assert.equal(validate({ lost_packet_rate: 2 }), false);
    assert.equal(validate({ poni: { dist: 0.1, poni1: 0, poni2: 0, rotX: 1 } }), false);
    assert.ok(validate({ poni: '/some/file.poni' }));
    run.close();
  }
  const defaults = Object.fromEntries(simulatorPlugins().map((p) => [p.name, (p.configSchema() as any).properties.scene.default]));
  assert.deepEqual(defaults, {
    'sim-jungfrau-4m': 'serial_crystallography',
    'sim-eiger-4m': 'serial_crystallography',
    'sim-eiger-500k': 'powder',
    'sim-camera': 'flat',
    'sim-tomo-camera': 'tomography',
  });
});

test('frames have the run shape and dtype for every detector and scene', async () => {
  for (const p of simulatorPlugins()) {
    for (const scene of ['flat', 'dark', 'serial_crystallography', 'powder', 'saxs', 'xpcs']) {
      if (p.name !== 'sim-eiger-500k' && scene !== 'flat' && scene !== 'dark') continue; // the big ones: below
      const run = await p.open({ scene, pool_size: 1 });
      const f = run.receiver(0, 1).receive(0);
      assert.deepEqual(run.shape, runShape(p.name, p.info().shape));
      assert.equal(run.dtype, p.info().dtype);
      assert.equal(f.data.length, product(runShape(p.name, p.info().shape)));
      assert.equal(f.data.constructor.name, p.info().dtype === 'uint16' ? 'Uint16Array' : 'Uint32Array');
      assert.equal(f.index, 0);
      assert.equal(f.valid, true);
      assert.ok(Math.abs(run.minPeriod - 1 / p.info().max_frame_rate) < 1e-12);
      const d = run.describe();
      assert.equal(d.scene, scene);
      assert.equal(typeof d.poni, 'string');
      JSON.stringify(d); // serialisable
      run.close();
    }
  }
});

test('eiger-4m: gap pixels hold the dummy, real pixels never do', async () => {
  const run = (await openRun('sim-eiger-4m', { scene: 'flat', pool_size: 1 })) as CountingRun;
  const f = run.receiver(0, 1).receive(0).data;
  const cols = 2070;
  const gapRows = [514, 530, 550, 1065, 1101, 1616, 1652];
  for (const r of gapRows) for (const c of [0, 100, 1500, 2069]) assert.equal(f[r * cols + c], EIGER_DUMMY, `row ${r} col ${c}`);
  for (const c of [1030, 1035, 1039]) for (const r of [0, 700, 2166]) assert.equal(f[r * cols + c], EIGER_DUMMY);
  for (const [r, c] of [[513, 1029], [551, 1040], [1064, 0], [1102, 2069], [1615, 5], [1653, 1029], [0, 0], [2166, 2069]]) {
    assert.notEqual(f[r * cols + c], EIGER_DUMMY, `row ${r} col ${c} is a real pixel`);
  }
  let dummies = 0;
  for (let k = 0; k < f.length; k++) if (f[k] === EIGER_DUMMY) dummies++;
  assert.equal(dummies, 2167 * 2070 - 8 * 514 * 1030);
  assert.equal(run.gapPixels().length, dummies);
  run.close();
});

test('flat scene: Poisson statistics (variance ≈ mean)', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'flat', flat_mean: 25, pool_size: 1 });
  const d = run.receiver(0, 1).receive(0).data;
  const m = mean(d);
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i] - m) ** 2;
  v /= d.length;
  assert.ok(Math.abs(m - 25) < 0.05, `mean ${m}`);
  assert.ok(Math.abs(v / m - 1) < 0.02, `variance/mean ${v / m}`);
  run.close();
});

test('determinism: same seed same frame, other seed or index differs', async () => {
  for (const [name, scene] of [
    ['sim-eiger-500k', 'powder'],
    ['sim-eiger-500k', 'serial_crystallography'],
    ['sim-eiger-500k', 'xpcs'],
    ['sim-camera', 'flat'],
  ] as const) {
    const a = await openRun(name, { scene, seed: 42, pool_size: 0, hit_rate: 1 });
    const b = await openRun(name, { scene, seed: 42, pool_size: 0, hit_rate: 1 });
    const c = await openRun(name, { scene, seed: 43, pool_size: 0, hit_rate: 1 });
    // b renders in a different order: frames are pure functions of the index
    const b7 = b.frame(7), b3 = b.frame(3);
    const a3 = a.frame(3), a7 = a.frame(7);
    assert.deepEqual(a3.data, b3.data, `${name}/${scene}`);
    assert.deepEqual(a7.data, b7.data);
    assert.deepEqual(a3.truth, b3.truth);
    assert.notDeepEqual(a3.data, c.frame(3).data);
    assert.notDeepEqual(a3.data, a7.data);
    for (const r of [a, b, c]) r.close();
  }
});

test('pool replay: frame i is pool[i mod pool_size], rendered once', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'serial_crystallography', pool_size: 4, hit_rate: 0.5 });
  const rx = run.receiver(0, 1);
  const first = [0, 1, 2, 3].map((i) => rx.receive(i));
  for (let i = 4; i < 40; i++) {
    const f = rx.receive(i);
    assert.equal(f.index, i);
    assert.equal(f.data, first[i % 4].data, 'same pool buffer');
    assert.deepEqual(f.truth, first[i % 4].truth);
  }
  // the pooled frame is the live frame of its slot
  const live = await openRun('sim-eiger-500k', { scene: 'serial_crystallography', pool_size: 0, hit_rate: 0.5 });
  assert.deepEqual(live.frame(2).data, first[2].data);
  assert.notDeepEqual(live.frame(6).data, first[2].data);
  run.close();
  live.close();
});

test('lost packets: valid=false, a zeroed region in a copy, the pool intact', async () => {
  const cfg = { scene: 'flat', flat_mean: 50, pool_size: 4, lost_packet_rate: 0.25, lost_frames: [1] };
  const run = await openRun('sim-eiger-500k', cfg);
  const clean = await openRun('sim-eiger-500k', { ...cfg, lost_packet_rate: 0, lost_frames: [] });
  const rx = run.receiver(0, 1);
  let lost = 0;
  const N = 400;
  for (let i = 0; i < N; i++) {
    const f = rx.receive(i);
    const ref = clean.frame(i).data;
    if (f.valid) {
      assert.deepEqual(f.data, ref, `valid frame ${i} untouched`);
      continue;
    }
    lost++;
    assert.notEqual(f.data, ref);
    const [a, b] = (f.truth as { lost_elements: [number, number] }).lost_elements;
    assert.ok(b > a && (b - a) % 2048 === 0 || b === f.data.length);
    assert.ok(b - a <= 8 * 2048);
    for (let k = a; k < b; k++) if (f.data[k] !== 0) assert.fail(`element ${k} of lost frame ${i} not zeroed`);
    let differ = 0;
    for (let k = 0; k < f.data.length; k++) if (f.data[k] !== ref[k]) differ++;
    assert.ok(differ > 0 && differ <= b - a);
  }
  assert.ok(Math.abs(lost / N - 0.25) < 0.08, `lost fraction ${lost / N}`);
  assert.equal(rx.receive(1).valid, false, 'explicit lost_frames');
  // after all that, the pool still holds the clean frames
  for (let i = 0; i < 4; i++) {
    let j = i;
    while (!rx.receive(j).valid) j += 4;
    assert.deepEqual(rx.receive(j).data, clean.frame(i).data, `pool slot ${i} intact`);
  }
  run.close();
  clean.close();
});

test('fault_at_frame raises DetectorFault from that frame on', async () => {
  const run = await openRun('sim-camera', { fault_at_frame: 5, pool_size: 2 });
  const rx = run.receiver(0, 1);
  for (let i = 0; i < 5; i++) assert.equal(rx.receive(i).index, i);
  for (const i of [5, 6, 100]) {
    assert.throws(
      () => rx.receive(i),
      (err: unknown) => err instanceof DetectorFault && /frame \d+/.test(err.message) && err.message.includes('fault_at_frame'),
    );
  }
  run.close();
});

test('configuration errors name the field', async () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['sim-eiger-500k', { no_such: 1 }, 'detector.no_such'],
    ['sim-eiger-500k', { scene: 'moon' }, 'detector.scene'],
    ['sim-eiger-500k', { hit_rate: 1.5 }, 'detector.hit_rate'],
    ['sim-eiger-500k', { offset: 3 }, 'detector.offset'], // camera only
    ['sim-camera', { dark_gain: 'G1' }, 'detector.dark_gain'], // jungfrau only
    ['sim-eiger-4m', { pool_size: 1000 }, 'detector.pool_size'], // > 4 GiB
    ['sim-eiger-500k', { energy_kev: 12.4, wavelength: 1.5e-10 }, 'detector.wavelength'],
    ['sim-eiger-500k', { poni: { dist: 0.1, poni1: 0.01, poni2: 0.01, wavelength: 1e-10 }, energy_kev: 8 }, 'detector.poni'],
    ['sim-eiger-500k', { poni: '/nonexistent/file.poni' }, 'detector.poni'],
    ['sim-eiger-500k', { lost_frames: [1, -2] }, 'detector.lost_frames.1'],
  ];
  for (const [name, cfg, field] of cases) {
    await assert.rejects(plugin(name).open(cfg), (err: unknown) => {
      assert.ok(err instanceof DaqError, String(err));
      assert.equal(err.type, 'ParameterError');
      assert.ok(err.fields?.some((f) => f.field === field), `${JSON.stringify(err.fields)} names ${field}`);
      return true;
    });
  }
  // consistent energy given twice is fine; wavelength from the energy
  const run = await openRun('sim-eiger-500k', { scene: 'dark', energy_kev: 8, wavelength: 12.398419843320026e-10 / 8 });
  assert.ok(Math.abs((run.describe().wavelength as number) - 1.5498e-10) < 1e-13);
  run.close();
});

test('receivers: any rank sees the same frames; closed receivers and runs refuse', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'flat', pool_size: 2 });
  const r0 = run.receiver(0, 2), r1 = run.receiver(1, 2);
  assert.equal(r1.rank, 1);
  assert.equal(r0.receive(3).data, r1.receive(3).data);
  assert.throws(() => run.receiver(2, 2));
  r0.close();
  assert.throws(() => r0.receive(0));
  run.close();
  assert.throws(() => r1.receive(0));
});

test('timing: eiger-500k receive(i) in steady state (pool replay)', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'flat' });
  const rx = run.receiver(0, 1);
  let t = performance.now();
  for (let i = 0; i < 64; i++) rx.receive(i);
  const fill = performance.now() - t;
  const n = 200000;
  t = performance.now();
  let s = 0;
  for (let i = 64; i < 64 + n; i++) s += rx.receive(i).data.length;
  const us = ((performance.now() - t) * 1000) / n;
  console.log(`# eiger-500k: pool of 64 filled in ${fill.toFixed(0)} ms; steady-state receive ${us.toFixed(3)} µs/frame (${(1e6 / us).toFixed(0)} frames/s)`);
  assert.equal(s, n * 514 * 1030);
  run.close();
});
