/**
 * The banded full-frame pass of the wasm engine (correct): bit for bit the
 * same image and flags as the module-by-module pass (correctModules over
 * every module + fillGaps), on a 2 × 2 module layout (bands crossing two
 * modules side by side and the horizontal gap), with every gain code,
 * saturated, invalid and uncalibrated pixels; and again after other calls
 * used the corrector's memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeJungfrauLayout } from '../../src/detectors/geometry/jungfrau-layout.js';
import { JungfrauCorrector } from '../../src/processing/jungfrau/index.js';
import { PixelFlag } from '../../src/processing/steps/index.js';
import { rng } from './helpers.js';

const LAYOUT = makeJungfrauLayout('test 2x2 modules', [2, 2], [37, 9]);
const N = LAYOUT.nModules * 512 * 1024;

function setup(seed: number) {
  const r = rng(seed);
  const pedestal = new Float32Array(3 * N), gain = new Float32Array(3 * N);
  for (let p = 0; p < N; p++) {
    for (let g = 0; g < 3; g++) {
      pedestal[g * N + p] = [3000, 1500, 1000][g] + 200 * (r() - 0.5);
      gain[g * N + p] = [41, -1.4, -0.1][g] * (1 + 0.1 * (r() - 0.5));
    }
  }
  for (let k = 0; k < 50; k++) gain[Math.floor(r() * 3 * N)] = 0; // uncalibrated in some stage
  const raw = new Uint16Array(N);
  for (let p = 0; p < N; p++) {
    const u = r(), adc = Math.floor(r() * 16384);
    raw[p] = u < 0.97 ? adc : u < 0.98 ? 0x4000 | adc : u < 0.995 ? 0xc000 | adc : 0x8000 | adc;
  }
  raw[5] = 0xc000; // saturated (normal mode)
  raw[N - 1] = 0xffff; // saturated G2
  return { pedestal, gain, raw };
}

test('wasm banded correct() = module-by-module pass, bit for bit (values, flags, count)', () => {
  const { pedestal, gain, raw } = setup(3);
  for (const opts of [{}, { output: 'photons' as const, photonEnergyKeV: 12.4, invalidValue: -1, gapValue: -2 }]) {
    const c = new JungfrauCorrector({ engine: 'wasm', layout: LAYOUT, pedestal, gain, ...opts });
    assert.equal(c.engine, 'wasm');
    const a = new Float32Array(c.imageSize), fa = new Uint8Array(c.imageSize);
    const b = new Float32Array(c.imageSize), fb = new Uint8Array(c.imageSize);
    const all = Array.from({ length: LAYOUT.nModules }, (_, m) => m);
    const nb = c.correctModules(raw, b, all, fb);
    c.fillGaps(b, fb);
    const na = c.correct(raw, a, fa);
    assert.equal(na, nb);
    assert.ok(na > 1000, `flagged ${na}`);
    assert.deepEqual(fa, fb);
    assert.ok(fa.includes(PixelFlag.UNCALIBRATED) && fa.includes(PixelFlag.GAP) && fa.includes(PixelFlag.SATURATED));
    assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer)); // bit patterns (NaN included)
    // other passes in between, and no flags buffer: the same again
    c.correctRaw(raw, new Float32Array(N));
    c.correctModules(raw.subarray(0, 512 * 1024), new Float32Array(c.imageSize), [0]);
    const a2 = new Float32Array(c.imageSize);
    assert.equal(c.correct(raw, a2), na);
    assert.deepEqual(c.lastFlags, fb);
    assert.deepEqual(new Uint32Array(a2.buffer), new Uint32Array(b.buffer));
  }
});
