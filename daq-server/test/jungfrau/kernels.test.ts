/**
 * Jungfrau kernels on synthetic calibrations and words: decoding, the
 * correction formula per gain stage, flags, the fused assembly against
 * `assemble`/`assemblyMap`, partial (module) correction, pedestal sums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, assemblyMap, makeJungfrauLayout } from '../../src/detectors/geometry/jungfrau-layout.js';
import { JungfrauCorrector, PedestalAccumulator, decodeRaw, pedestalFromSums, wordFlag } from '../../src/processing/jungfrau/index.js';
import { PixelFlag } from '../../src/processing/steps/index.js';
import { rng } from './helpers.js';

const LAYOUT = makeJungfrauLayout('test 2 modules', [2, 1], [36, 8]);
const ENGINES = ['wasm', 'js'] as const;
const M = LAYOUT.nModules;
const N = M * 512 * 1024;
const MAP = assemblyMap(LAYOUT);
const [ROWS, COLS] = LAYOUT.imageShape;

/** A synthetic calibration: pedestals and gains per stage, varying per pixel. */
function calibration(seed = 1) {
  const r = rng(seed);
  const pedestal = new Float32Array(3 * N), gain = new Float32Array(3 * N);
  for (let p = 0; p < N; p++) {
    pedestal[p] = 3000 + 300 * (r() - 0.5);
    pedestal[N + p] = 1500 + 200 * (r() - 0.5);
    pedestal[2 * N + p] = 1000 + 100 * (r() - 0.5);
    const g0 = 41 * (1 + 0.1 * (r() - 0.5));
    gain[p] = g0;
    gain[N + p] = -g0 / 30; // negative G1/G2 as some firmware reports: same formula
    gain[2 * N + p] = -g0 / 400;
  }
  return { pedestal, gain };
}

/** Words with every gain code, including invalid and saturated ones, at known pixels. */
function words(seed = 2) {
  const r = rng(seed);
  const raw = new Uint16Array(N);
  for (let p = 0; p < N; p++) {
    const u = r();
    const adc = Math.floor(r() * 16384);
    raw[p] = u < 0.9 ? adc : u < 0.95 ? 0x4000 | adc : u < 0.99 ? 0xc000 | adc : 0x8000 | adc;
  }
  return raw;
}

const ref = (w: number, p: number, cal: { pedestal: Float32Array; gain: Float32Array }, scale = 1): number => {
  const code = w >>> 14;
  if (code === 2) return NaN;
  if (w === 0xc000 || (code === 3 && (w & 0x3fff) === 0x3fff)) return NaN;
  const g = code === 0 ? 0 : code === 1 ? 1 : 2;
  return (((w & 0x3fff) - cal.pedestal[g * N + p]) / cal.gain[g * N + p]) * scale;
};

test('decode: gain codes, ADC values and flags', () => {
  const raw = Uint16Array.from([0x0000, 0x0123, 0x4abc, 0xc001, 0x8005, 0xc000, 0xffff, 0x3fff]);
  const stage = new Uint8Array(8), adc = new Uint16Array(8), flags = new Uint8Array(8);
  assert.equal(decodeRaw(raw, stage, adc, flags), 3);
  assert.deepEqual(Array.from(stage), [0, 0, 1, 2, 255, 2, 2, 0]);
  assert.deepEqual(Array.from(adc), [0, 0x123, 0xabc, 1, 5, 0, 0x3fff, 0x3fff]);
  assert.deepEqual(Array.from(flags), [0, 0, 0, 0, 1, 2, 2, 0]);
  // high gain mode: 0xC000 is a G2 word with ADC 0, only ADC 0x3FFF in G2 saturates
  assert.equal(decodeRaw(raw, stage, adc, flags, 'high'), 2);
  assert.equal(flags[5], 0);
  assert.deepEqual([wordFlag(0xc000), wordFlag(0xc000, 'high'), wordFlag(0x8000), wordFlag(0x7fff), wordFlag(0xffff, 'high')], [2, 0, 1, 0, 2]);
});

for (const engine of ENGINES) {
test(`correctRaw: (adc − P[g]) / G[g] per stage, flags for invalid and saturated words [${engine}]`, () => {
  const cal = calibration();
  const raw = words();
  raw[10] = 0xc000;
  raw[11] = 0xffff;
  raw[12] = 0x8123;
  const c = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal });
  const out = new Float32Array(N), flags = new Uint8Array(N);
  const bad = c.correctRaw(raw, out, flags);
  let expectBad = 0, worst = 0;
  for (let p = 0; p < N; p++) {
    const e = ref(raw[p], p, cal);
    const f = wordFlag(raw[p]);
    assert.equal(flags[p], f, `flag of pixel ${p} (word ${raw[p].toString(16)})`);
    if (f) {
      expectBad++;
      assert.ok(Number.isNaN(out[p]));
      continue;
    }
    // float32 tables: a = 1/G and b = −P/G each carry a relative rounding of 2^-24
    const code = raw[p] >>> 14, g = code === 0 ? 0 : code === 1 ? 1 : 2;
    const G = Math.abs(cal.gain[g * N + p]), P = Math.abs(cal.pedestal[g * N + p]);
    const tol = 2.5e-7 * ((raw[p] & 0x3fff) + P) / G + 1e-6; // wasm rounds a·adc and the sum to float32 too
    worst = Math.max(worst, Math.abs(out[p] - e) / tol);
  }
  assert.equal(bad, expectBad);
  assert.ok(expectBad > 0.008 * N, 'the test words include invalid codes');
  assert.ok(worst <= 1, `largest error ${worst} × the float32 rounding bound`);
  assert.deepEqual([flags[10], flags[11], flags[12]], [PixelFlag.SATURATED, PixelFlag.SATURATED, PixelFlag.INVALID_GAIN]);
  // photons = keV / photon energy
  const ph = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal, output: 'photons', photonEnergyKeV: 8 });
  const outPh = new Float32Array(N);
  ph.correctRaw(raw, outPh, flags);
  for (let p = 0; p < N; p += 997) if (!flags[p]) assert.ok(Math.abs(outPh[p] - out[p] / 8) <= 1e-5 * Math.max(1, Math.abs(out[p] / 8)));
  assert.throws(() => new JungfrauCorrector({ engine, layout: LAYOUT, ...cal, output: 'photons' }), /photon energy/);
});
}

for (const engine of ENGINES) {
test(`fused correction + assembly = assemble(correctRaw) pixel for pixel; gaps; flags follow the pixels [${engine}]`, () => {
  const cal = calibration(3);
  const raw = words(4);
  const c = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal });
  assert.equal(c.imageSize, ROWS * COLS);
  const rawOut = new Float32Array(N), rawFlags = new Uint8Array(N);
  c.correctRaw(raw, rawOut, rawFlags);
  const img = new Float32Array(ROWS * COLS).fill(123), flags = new Uint8Array(ROWS * COLS).fill(99);
  const bad = c.correct(raw, img, flags);
  assert.equal(bad, rawFlags.reduce((a, f) => a + (f ? 1 : 0), 0), 'flagged raw pixels counted once');
  // reference: assemble with splitting, flagged pixels not split (stay NaN)
  const expected = new Float32Array(ROWS * COLS);
  assemble(rawOut, expected, MAP, NaN, true);
  let gaps = 0;
  for (let k = 0; k < expected.length; k++) {
    const i = MAP.rawIndex[k];
    if (i < 0) {
      gaps++;
      assert.ok(Number.isNaN(img[k]), `gap pixel ${k} is NaN`);
      assert.equal(flags[k], PixelFlag.GAP);
      continue;
    }
    assert.equal(flags[k], rawFlags[i], `flag at image pixel ${k}`);
    const a = img[k], b = expected[k];
    assert.ok(a === b || (Number.isNaN(a) && Number.isNaN(b)), `image pixel ${k} (raw ${i}, weight ${MAP.weight[k]}): ${a} vs ${b}`);
  }
  assert.equal(gaps, 36 * COLS);
  // double pixels: a raw pixel on a chip border shares its value between its two (or four) image pixels
  let doubles = 0;
  for (let k = 0; k < img.length; k++) if (MAP.weight[k] === 0.5 && !flags[k]) doubles++;
  assert.ok(doubles > 0);
});
}

for (const engine of ENGINES) {
test(`flagged double pixels keep invalid_value in both halves (not halved); gap_value [${engine}]`, () => {
  const cal = calibration(5);
  const raw = new Uint16Array(N).fill(3100);
  // raw (0, 255, 255) is a quadruple corner pixel, (0, 10, 255) a double column pixel, (1, 300, 256) another
  const corner = 255 * 1024 + 255, dcol = 10 * 1024 + 255, other = 512 * 1024 + 300 * 1024 + 256;
  raw[corner] = 0x8000;
  raw[dcol] = 0xc000;
  const c = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal, invalidValue: -1, gapValue: -2 });
  const img = new Float32Array(ROWS * COLS), flags = new Uint8Array(ROWS * COLS);
  c.correct(raw, img, flags);
  const cover = (p: number): number[] => {
    const out: number[] = [];
    for (let k = 0; k < MAP.rawIndex.length; k++) if (MAP.rawIndex[k] === p) out.push(k);
    return out;
  };
  const kc = cover(corner), kd = cover(dcol), ko = cover(other);
  assert.equal(kc.length, 4);
  assert.equal(kd.length, 2);
  assert.deepEqual(kc.map((k) => img[k]), [-1, -1, -1, -1]);
  assert.deepEqual(kc.map((k) => flags[k]), [1, 1, 1, 1]);
  assert.deepEqual(kd.map((k) => [img[k], flags[k]]), [[-1, 2], [-1, 2]]);
  const e = (3100 - cal.pedestal[other]) / cal.gain[other] / 2;
  for (const k of ko) assert.ok(Math.abs(img[k] - e) < 1e-4, 'valid double pixel halved');
  assert.equal(img[MAP.gapMask.indexOf(1)], -2);
});
}

for (const engine of ENGINES) {
test(`uncalibrated pixels (no usable gain in their stage) are flagged 4 [${engine}]`, () => {
  const cal = calibration(6);
  const p0 = 5000, p1 = 6000;
  cal.gain[p0] = 0; // G0 gain missing
  cal.pedestal[N + p1] = NaN; // G1 pedestal missing
  const raw = new Uint16Array(N).fill(3000);
  raw[p1] = 0x4000 | 1500;
  const c = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal, invalidValue: -7 });
  assert.deepEqual(Array.from(c.uncalibrated), [p0, p1]);
  const out = new Float32Array(N), flags = new Uint8Array(N);
  assert.equal(c.correctRaw(raw, out, flags), 2);
  assert.deepEqual([out[p0], flags[p0], out[p1], flags[p1]], [-7, 4, -7, 4]);
  // p1 read in G0 is fine: only the stage it is in matters
  raw[p1] = 3000;
  assert.equal(c.correctRaw(raw, out, flags), 1);
  assert.equal(flags[p1], 0);
  const img = new Float32Array(c.imageSize), iflags = new Uint8Array(c.imageSize);
  assert.equal(c.correct(raw, img, iflags), 1);
  assert.equal(iflags[MAP.imageIndex[p0]], 4);
  assert.equal(img[MAP.imageIndex[p0]], -7);
});
}

for (const engine of ENGINES) {
test(`correctModules: packed or full raw input, modules land at their place, the rest untouched [${engine}]`, () => {
  const cal = calibration(7);
  const raw = words(8);
  const c = new JungfrauCorrector({ engine, layout: LAYOUT, ...cal });
  const full = new Float32Array(c.imageSize), fullFlags = new Uint8Array(c.imageSize);
  c.correct(raw, full, fullFlags);
  const part = new Float32Array(c.imageSize).fill(-99), partFlags = new Uint8Array(c.imageSize).fill(77);
  const packed = raw.slice(512 * 1024); // module 1 only
  c.correctModules(packed, part, [1], partFlags);
  const fromFull = new Float32Array(c.imageSize).fill(-99);
  c.correctModules(raw, fromFull, [1]);
  const origin = LAYOUT.moduleOrigins[1][0] * COLS;
  for (let k = 0; k < c.imageSize; k++) {
    const m = MAP.rawIndex[k] < 0 ? -1 : Math.floor(MAP.rawIndex[k] / (512 * 1024));
    if (m === 1) {
      assert.ok(Object.is(part[k], full[k]) || part[k] === full[k], `pixel ${k}`);
      assert.equal(partFlags[k], fullFlags[k]);
      assert.ok(Object.is(fromFull[k], full[k]) || fromFull[k] === full[k]);
    } else {
      assert.equal(part[k], -99, `pixel ${k} outside module 1 untouched`);
      assert.equal(partFlags[k], 77);
    }
  }
  assert.ok(origin > 0);
  // unassembled output of module 0 only
  const rawOut = new Float32Array(N).fill(-99);
  c.correctModules(raw.subarray(0, 512 * 1024), rawOut, [0]);
  const ref0 = new Float32Array(N);
  c.correctRaw(raw, ref0);
  for (let p = 0; p < N; p += 13) {
    if (p < 512 * 1024) assert.ok(Object.is(rawOut[p], ref0[p]) || rawOut[p] === ref0[p]);
    else assert.equal(rawOut[p], -99);
  }
  assert.throws(() => c.correctModules(packed, part, [2]), /module 2 is not in 0\.\.1/);
  assert.throws(() => c.correctModules(raw.subarray(0, 1000), part, [0]), /neither a full frame/);
});
}

test('pedestal accumulator: per-stage means; partial sums of receivers combine exactly', () => {
  const n = 8;
  const acc = new PedestalAccumulator(n);
  const a = new PedestalAccumulator(n), b = new PedestalAccumulator(n);
  const frames = [
    [100, 0x4000 | 200, 0xc000 | 300, 0x8000, 0xc000, 0xffff, 5, 6],
    [102, 0x4000 | 210, 0xc000 | 306, 0x8001, 0xc000, 0xffff, 7, 0x4000 | 9],
    [104, 0x4000 | 220, 0xc000 | 309, 0x8002, 0xc000, 0xffff, 9, 8],
  ];
  frames.forEach((f, i) => {
    const w = Uint16Array.from(f);
    acc.add(w);
    (i % 2 ? b : a).add(w);
  });
  const ped = acc.pedestal();
  assert.deepEqual(Array.from(ped.subarray(0, n)).map((v) => (Number.isNaN(v) ? null : v)), [102, null, null, null, null, null, 7, 7]);
  assert.deepEqual(Array.from(ped.subarray(n, 2 * n)).map((v) => (Number.isNaN(v) ? null : v)), [null, 210, null, null, null, null, null, 9]);
  assert.equal(ped[2 * n + 2], 305);
  assert.ok(Number.isNaN(ped[2 * n + 4]) && Number.isNaN(ped[2 * n + 5]), 'saturated words skipped');
  assert.ok(Number.isNaN(ped[3]) && Number.isNaN(ped[2 * n + 3]), 'invalid codes skipped');
  assert.deepEqual(acc.framesPerStage(), [3, 3, 3]);
  // receivers: sum of sums and counts → exactly the same maps
  const sum = a.sum.map((v, k) => v + b.sum[k]);
  const count = a.count.map((v, k) => v + b.count[k]);
  assert.deepEqual(Array.from(pedestalFromSums(sum, count)), Array.from(ped));
  a.merge(b.sum, b.count);
  assert.deepEqual(Array.from(a.pedestal()), Array.from(ped));
});

test('the wasm and js engines agree (values within float32 rounding, identical flags)', () => {
  const cal = calibration(9);
  const raw = words(10);
  const wasm = new JungfrauCorrector({ engine: 'wasm', layout: LAYOUT, ...cal, output: 'photons', photonEnergyKeV: 9 });
  const js = new JungfrauCorrector({ engine: 'js', layout: LAYOUT, ...cal, output: 'photons', photonEnergyKeV: 9 });
  assert.equal(wasm.engine, 'wasm');
  assert.equal(js.engine, 'js');
  const a = new Float32Array(wasm.imageSize), b = new Float32Array(js.imageSize);
  const fa = new Uint8Array(wasm.imageSize), fb = new Uint8Array(js.imageSize);
  assert.equal(wasm.correct(raw, a, fa), js.correct(raw, b, fb));
  assert.deepEqual(fa, fb);
  let worst = 0;
  for (let k = 0; k < a.length; k++) {
    if (Number.isNaN(b[k])) {
      assert.ok(Number.isNaN(a[k]));
      continue;
    }
    // G0 terms a·adc are ≲ 50 photons here: float32 rounding of each term is ≲ 1e-5 absolute
    worst = Math.max(worst, Math.abs(a[k] - b[k]) / Math.max(1, Math.abs(b[k])));
  }
  assert.ok(worst < 2e-5, `largest difference ${worst}`);
  // lastFlags: without a flags buffer, the corrector's own
  wasm.correct(raw, a);
  assert.deepEqual(wasm.lastFlags, fa);
  // an unassembled pass in between does not spoil the gaps of the next assembled one
  wasm.correctRaw(raw, new Float32Array(N));
  wasm.correct(raw, a, fa);
  assert.deepEqual(fa, fb);
});
