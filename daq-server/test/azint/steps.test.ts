/**
 * The `azimuthal_integration` and `sigma_clip` steps: parameter checks
 * (field errors), geometry from the detector / an object / a .poni file,
 * streams and statics, per-frame results against the engine, ctx.vars left
 * for the smx steps, invalid frames, frame masks, and a run through the
 * real StepChain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedArray } from '../../src/protocol/index.js';
import type { FrameContext, ImageSpec, StepEnvironment } from '../../src/processing/types.js';
import { azimuthalIntegrationStep as AZ, sigmaClipStep as SC, Integrator, SigmaClipper } from '../../src/processing/azint/index.js';
import { PyFAIGeometry } from '../../src/detectors/geometry/pyfai-geometry.js';
import { formatPoni } from '../../src/detectors/geometry/poni.js';
import { StepRegistry } from '../../src/processing/registry.js';
import { StepChain } from '../../src/processing/chain.js';
import { powderImage, braggImage } from './helpers.js';

const ROWS = 200, COLS = 240, N = ROWS * COLS, PX = 75e-6;
const PONI = { dist: 0.09, poni1: 0.0071, poni2: 0.0093, rot1: 0.02, rot2: -0.01, rot3: 0, wavelength: 1.0e-10 };
const INPUT: ImageSpec = { dtype: 'uint32', shape: [ROWS, COLS], dummy: 4294967295 };
const geometry = PyFAIGeometry.forDetector(PONI, [ROWS, COLS], [PX, PX]);

function envWith(extra: Partial<StepEnvironment> = {}, detector: Record<string, unknown> | null = null): StepEnvironment {
  return {
    detector: detector ?? {
      geometry: { detector: 'sim', shape: [ROWS, COLS], pixel1: PX, pixel2: PX, ...PONI },
      poni: formatPoni(PONI, 'Detector', { pixel1: PX, pixel2: PX, max_shape: [ROWS, COLS] }),
      wavelength: PONI.wavelength,
      dummy: 4294967295,
      info: { pixel_size: [PX, PX] },
    },
    maps: {},
    ...extra,
  };
}

/** An Eiger-like uint32 frame: powder rings, a gap row band at the dummy. */
function frame(seed = 1): Uint32Array {
  const img = powderImage(geometry, { seed });
  const out = new Uint32Array(N);
  for (let k = 0; k < N; k++) out[k] = img[k];
  out.fill(4294967295, 100 * COLS, 110 * COLS);
  return out;
}

function context(image: TypedArray, valid = true, vars: [string, unknown][] = []): { ctx: FrameContext; items: { stream: string; item: unknown }[] } {
  const items: { stream: string; item: unknown }[] = [];
  const ctx: FrameContext = {
    index: 0,
    receiver: 0,
    valid,
    image,
    vars: new Map(vars),
    veto: false,
    emit(stream, item) {
      items.push({ stream, item });
    },
  };
  return { ctx, items };
}

const fields = (problems: { field: string }[]): string[] => problems.map((p) => p.field).sort();

test('check() reports field errors: npt, poni.*, ranges, polarization, maps, input shape', () => {
  const env = envWith();
  assert.deepEqual(AZ.check!({} as never, INPUT, env), [], 'defaults with the detector geometry are valid');
  const cases: [Record<string, unknown>, string, ImageSpec?, StepEnvironment?][] = [
    [{ npt: 0 }, 'npt'],
    [{ npt: 2.5 }, 'npt'],
    [{ npt_azim: -1 }, 'npt_azim'],
    [{ poni: { ...PONI, dist: 0 } }, 'poni.dist'],
    [{ poni: { ...PONI, dist: -0.1 } }, 'poni.dist'],
    [{ poni: { ...PONI, dist: NaN } }, 'poni.dist'],
    [{ poni: { ...PONI, poni1: Infinity } }, 'poni.poni1'],
    [{ poni: { ...PONI, rot2: NaN } }, 'poni.rot2'],
    [{ poni: { ...PONI, wavelength: -1e-10 } }, 'poni.wavelength'],
    [{ poni: { ...PONI, wavelength: 0 } }, 'poni.wavelength'],
    [{ poni: { ...PONI, wavelength: null }, unit: 'q_nm^-1' }, 'poni.wavelength', INPUT, envWith({}, { info: { pixel_size: [PX, PX] } })],
    [{ poni: '/nonexistent/geometry.poni' }, 'poni'],
    [{}, 'poni', INPUT, envWith({}, {})],
    [{ radial_range: [10, 2] }, 'radial_range'],
    [{ radial_range: [1, 1] }, 'radial_range'],
    [{ radial_range: [1] }, 'radial_range'],
    [{ azimuth_range: [90, -90] }, 'azimuth_range'],
    [{ polarization_factor: 1.5 }, 'polarization_factor'],
    [{ normalization_factor: 0 }, 'normalization_factor'],
    [{ unit: 'q_pm^-1' }, 'unit'],
    [{ method: 'full' }, 'method'],
    [{}, 'input', { dtype: 'uint16', shape: [8, 512, 1024] }],
    [{}, 'mask', INPUT, envWith({ maps: { mask: { dtype: 'uint8', shape: [ROWS, COLS + 1], data: new Uint8Array(ROWS * (COLS + 1)) } } })],
    [{}, 'dark', INPUT, envWith({ maps: { dark: { dtype: 'float32', shape: [COLS, ROWS], data: new Float32Array(N) } } })],
    [{}, 'flat', INPUT, envWith({ maps: { flat: { dtype: 'float32', shape: [ROWS], data: new Float32Array(ROWS) } } })],
  ];
  for (const [params, field, input, e] of cases) {
    const got = fields(AZ.check!(params as never, input ?? INPUT, e ?? env));
    assert.ok(got.includes(field), `${JSON.stringify(params)}: expected a ${field} error, got ${JSON.stringify(got)}`);
  }
  assert.deepEqual(fields(SC.check!({ error_model: null } as never, INPUT, env)), ['error_model']);
  assert.deepEqual(fields(SC.check!({ cycle: -1 } as never, INPUT, env)), ['cycle']);
  assert.deepEqual(SC.check!({} as never, INPUT, env), []);
});

test('azimuthal_integration: streams, statics and per-frame results equal the engine’s; dummies excluded', () => {
  const env = envWith();
  const built = AZ.create({ npt: 300, unit: '2th_deg', method: 'bbox' } as never, INPUT, env);
  assert.deepEqual(built.streams.map((s) => `${s.name}:${s.cadence}:${s.shape}`), ['radial:static:300', 'intensity:frame:300', 'sigma:frame:300']);
  assert.equal(built.streams[0].info?.unit, '2th_deg');
  assert.deepEqual(built.output, INPUT, 'the image passes through');
  const engine = new Integrator(geometry, { npt: 300, unit: '2th_deg', method: 'bbox', dummy: 4294967295 });
  const radial = built.statics!.radial as Float32Array;
  assert.ok(radial instanceof Float32Array && radial.length === 300);
  for (let b = 0; b < 300; b++) assert.equal(radial[b], Math.fround(engine.radial[b]));
  for (const seed of [1, 2]) {
    const img = frame(seed);
    const { ctx, items } = context(img);
    built.step.process(ctx);
    assert.deepEqual(items.map((x) => x.stream), ['intensity', 'sigma']);
    const ref = engine.integrate1d(img, { errorModel: 'poisson' });
    assert.deepEqual(Array.from(items[0].item as Float32Array), Array.from(ref.intensity));
    assert.deepEqual(Array.from(items[1].item as Float32Array), Array.from(ref.sigma!));
    assert.ok((items[0].item as Float32Array).every((v) => v < 1e6), 'no dummy value leaks into the pattern');
    assert.equal(ctx.image, img);
  }
  // incomplete frames: nothing
  const { ctx, items } = context(frame(3), false);
  built.step.process(ctx);
  assert.equal(items.length, 0);
});

test('azimuthal_integration: a cake, no error model, ctx.vars.mask, and a .poni file path', () => {
  const env = envWith();
  const built = AZ.create({ npt: 120, npt_azim: 36, error_model: null, method: 'no' } as never, INPUT, env);
  assert.deepEqual(built.streams.map((s) => s.name).sort(), ['azimuthal', 'cake', 'intensity', 'radial']);
  const cakeDecl = built.streams.find((s) => s.name === 'cake')!;
  assert.deepEqual(cakeDecl.shape, [36, 120]);
  const azim = built.statics!.azimuthal as Float32Array;
  assert.equal(azim.length, 36);
  assert.ok(azim[0] < -170 && azim[35] > 170, `χ centres span the circle: ${azim[0]} … ${azim[35]}`);
  const img = frame(4);
  const mask = new Uint8Array(N);
  mask.fill(1, 0, 50 * COLS);
  const { ctx, items } = context(img, true, [['mask', mask]]);
  built.step.process(ctx);
  assert.deepEqual(items.map((x) => x.stream), ['intensity', 'cake']);
  const cake = items[1].item as Float32Array;
  assert.equal(cake.length, 36 * 120);
  const ref2d = new Integrator(geometry, { npt: 120, nptAzim: 36, method: 'no', dummy: 4294967295 }).integrate2d(img, { mask });
  assert.deepEqual(Array.from(cake), Array.from(ref2d.intensity));
  const ref = new Integrator(geometry, { npt: 120, method: 'no', dummy: 4294967295 });
  const withMask = ref.integrate1d(img, { mask });
  assert.deepEqual(Array.from(items[0].item as Float32Array), Array.from(withMask.intensity), 'ctx.vars.mask is honoured');
  // a .poni file (pixel size from its Detector_config) gives the same pattern as the object
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-azint-poni-'));
  try {
    const path = join(dir, 'g.poni');
    const other = { ...PONI, rot1: -0.03 };
    writeFileSync(path, formatPoni(other, 'Detector', { pixel1: PX, pixel2: PX, max_shape: [ROWS, COLS] }));
    const fromFile = AZ.create({ npt: 100, poni: path } as never, { ...INPUT, pixelSize: undefined }, envWith({}, { info: {} }));
    const fromObj = AZ.create({ npt: 100, poni: other } as never, { ...INPUT, pixelSize: [PX, PX] }, envWith());
    const a = context(img), b = context(img);
    fromFile.step.process(a.ctx);
    fromObj.step.process(b.ctx);
    assert.deepEqual(Array.from(a.items[0].item as Float32Array), Array.from(b.items[0].item as Float32Array));
    // and the detector's poni text is used when the description has no geometry object
    const fromText = AZ.create({ npt: 100 } as never, INPUT, envWith({}, { poni: formatPoni(other, 'Detector', { pixel1: PX, pixel2: PX }) }));
    const c = context(img);
    fromText.step.process(c.ctx);
    assert.deepEqual(Array.from(c.items[0].item as Float32Array), Array.from(b.items[0].item as Float32Array));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('azimuthal_integration uses the mask, dark and flat maps of the environment', () => {
  const mask = new Uint8Array(N);
  for (let k = 0; k < N; k += 3) mask[k] = 1;
  const dark = new Float32Array(N).fill(2);
  const flat = new Float32Array(N).fill(0.5);
  const env = envWith({
    maps: {
      mask: { dtype: 'uint8', shape: [ROWS, COLS], data: mask },
      dark: { dtype: 'float32', shape: [ROWS, COLS], data: dark },
      flat: { dtype: 'float32', shape: [ROWS, COLS], data: flat },
    },
  });
  const built = AZ.create({ npt: 64, correct_solid_angle: false, error_model: null } as never, INPUT, env);
  const img = new Uint32Array(N).fill(12);
  const { ctx, items } = context(img);
  built.step.process(ctx);
  const I = items[0].item as Float32Array;
  for (let b = 0; b < 64; b++) assert.ok(Math.abs(I[b] - (12 - 2) / 0.5) < 1e-4, `bin ${b}: ${I[b]}`);
  const plain = new Integrator(geometry, { npt: 64, correctSolidAngle: false }).integrate1d(img);
  const masked = new Integrator(geometry, { npt: 64, correctSolidAngle: false, mask }).integrate1d(img);
  const tot = (a: Float64Array): number => a.reduce((x, y) => x + y, 0);
  assert.ok(tot(masked.count) < 0.7 * tot(plain.count), 'the mask map removes a third of the pixels');
});

test('sigma_clip: background stream and the ctx.vars contract of the smx steps', () => {
  const env = envWith();
  const built = SC.create({ npt: 150, unit: 'r_mm' } as never, INPUT, env);
  assert.deepEqual(built.streams.map((s) => `${s.name}:${s.cadence}:${s.shape}`), ['background_radial:static:150', `background_pixel_radius:static:${INPUT.shape}`, `background_normalization:static:${INPUT.shape}`, 'background:frame:2,150']);
  const bragg = braggImage(geometry, { seed: 9, spots: 120 });
  const img = new Uint32Array(N);
  for (let k = 0; k < N; k++) img[k] = bragg[k];
  img.fill(4294967295, 100 * COLS, 110 * COLS);
  const { ctx, items } = context(img);
  built.step.process(ctx);
  assert.deepEqual(items.map((x) => x.stream), ['background']);
  const bg = items[0].item as Float32Array;
  assert.equal(bg.length, 300);
  const integ = new Integrator(geometry, { npt: 150, unit: 'r_mm', method: 'no', dummy: 4294967295 });
  const ref = new SigmaClipper(integ, { cycle: 5, cutoff: 0, errorModel: 'poisson' }).clip(img);
  assert.deepEqual(Array.from(bg.subarray(0, 150)), Array.from(ref.average));
  assert.deepEqual(Array.from(bg.subarray(150)), Array.from(ref.std));
  const v = ctx.vars;
  for (const name of ['background_avg', 'background_std', 'radial']) {
    const a = v.get(name) as Float32Array;
    assert.ok(a instanceof Float32Array && a.length === 150, `${name}: Float32Array [npt]`);
  }
  assert.deepEqual(Array.from(v.get('background_avg') as Float32Array), Array.from(ref.average));
  assert.deepEqual(Array.from(v.get('radial') as Float32Array), Array.from(integ.radial, Math.fround));
  const radius = v.get('radius_pixel') as Float32Array;
  assert.ok(radius instanceof Float32Array && radius.length === N);
  assert.ok(Math.abs(radius[5000] - integ.positions[5000] * 1000) < 1e-5 * radius[5000], 'radius_pixel in the unit (mm)');
  const norm = v.get('norm') as Float32Array;
  assert.ok(norm instanceof Float32Array && norm.length === N && norm[5000] > 0.9 && norm[5000] <= 1);
  const valid = v.get('valid') as Uint8Array;
  assert.ok(valid instanceof Uint8Array && valid.length === N);
  assert.equal(valid[105 * COLS + 7], 0, 'gap pixels (dummy) are not valid');
  assert.equal(valid[5000], 1);
  assert.ok(v.get('azint') instanceof Integrator);
  // the background is free of the spots: below the plain mean where spots are
  const plain = integ.integrate1d(img);
  let lower = 0;
  for (let b = 0; b < 150; b++) if (ref.count[b] >= 50 && ref.average[b] < plain.intensity[b] - 1e-3) lower++;
  assert.ok(lower > 5, `clipping lowered ${lower} bins`);
  const none = context(img, false);
  built.step.process(none.ctx);
  assert.equal(none.items.length, 0);
  assert.equal(none.ctx.vars.size, 0);
});

test('both steps run in a StepChain with the registry', () => {
  const registry = new StepRegistry([AZ as never, SC as never]);
  const env = envWith();
  const { chain, errors } = StepChain.build(
    [
      { name: 'sigma_clip', params: { npt: 100 } },
      { name: 'azimuthal_integration', params: { npt: 200, npt_azim: 18 } },
    ],
    INPUT,
    env,
    registry,
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(Object.keys(chain!.statics).sort(), ['azimuthal', 'background_normalization', 'background_pixel_radius', 'background_radial', 'radial']);
  const res = chain!.run(0, 0, frame(7), true);
  assert.deepEqual(res.items.map((x) => x.stream), ['background', 'intensity', 'sigma', 'cake']);
  const bad = StepChain.build([{ name: 'azimuthal_integration', params: { npt: 0 } }], INPUT, env, registry);
  assert.equal(bad.chain, null);
  assert.ok(bad.errors.some((e) => e.field === 'processing.npt'), JSON.stringify(bad.errors));
});
