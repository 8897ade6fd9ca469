/** The jungfrau_correction / jungfrau_pedestal steps: checks naming the field, maps and files, gain modes, partial frames. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemblyMap, makeJungfrauLayout } from '../../src/detectors/geometry/jungfrau-layout.js';
import { jungfrauCorrectionStep, jungfrauPedestalStep } from '../../src/processing/jungfrau/index.js';
import { PixelFlag, writeNpy } from '../../src/processing/steps/index.js';
import type { ImageSpec, StepEnvironment } from '../../src/processing/types.js';
import { make, problems } from '../steps/helpers.js';

const MP = 512 * 1024;

/** An environment for a detector of `grid` modules, with flat maps: P = 1000·(g+1), G = 40 / 10^g (HG: twice). */
function env(grid: [number, number], opts: { stages?: 3 | 6; energy?: number | null; maps?: boolean } = {}): StepEnvironment {
  const M = grid[0] * grid[1];
  const N = M * MP;
  const stages = opts.stages ?? 3;
  const pedestal = new Float32Array(3 * N), gain = new Float32Array(stages * N);
  for (let g = 0; g < 3; g++) pedestal.fill(1000 * (g + 1), g * N, (g + 1) * N);
  for (let g = 0; g < stages; g++) gain.fill((40 / 10 ** (g % 3)) * (g >= 3 ? 2 : 1), g * N, (g + 1) * N);
  return {
    detector: { energy_kev: opts.energy === undefined ? 10 : opts.energy, jungfrau: { layout: { module_grid: grid, gap: [36, 8] } } },
    maps:
      opts.maps === false
        ? {}
        : {
            pedestal: { dtype: 'float32', shape: [3, M, 512, 1024], data: pedestal },
            gain: { dtype: 'float32', shape: [stages, M, 512, 1024], data: gain },
          },
  };
}

/** equal within float32 table rounding */
const near = (a: number, b: number, what = ''): void => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what} ${a} ≠ ${b}`);

const raw = (M: number): ImageSpec => ({ dtype: 'uint16', shape: [M, 512, 1024] });

test('check: non-Jungfrau input, missing maps and photons without energy are field errors', () => {
  const e1 = env([1, 1]);
  for (const input of [{ dtype: 'float32', shape: [2164, 2068] }, { dtype: 'uint16', shape: [1, 512, 1000] }, { dtype: 'uint32', shape: [1, 512, 1024] }] as ImageSpec[]) {
    const p = problems(jungfrauCorrectionStep, {}, input, e1);
    assert.equal(p.length, 1);
    assert.equal(p[0].field, 'input');
    assert.match(p[0].message, /needs raw Jungfrau frames \[modules, 512, 1024\] uint16, got \[/);
    assert.equal(problems(jungfrauPedestalStep, {}, input, e1)[0].field, 'input');
  }
  const none = problems(jungfrauCorrectionStep, {}, raw(1), env([1, 1], { maps: false }));
  assert.deepEqual(none.map((e) => e.field), ['pedestal_file', 'gain_file']);
  assert.match(none[0].message, /no pedestal map: give pedestal_file \(\.npy \[3, 1, 512, 1024\] ADU\)/);
  const noE = problems(jungfrauCorrectionStep, { output: 'photons' }, raw(1), env([1, 1], { energy: null }));
  assert.deepEqual(noE.map((e) => e.field), ['photon_energy_kev']);
  assert.deepEqual(problems(jungfrauCorrectionStep, { output: 'photons', photon_energy_kev: 8 }, raw(1), env([1, 1], { energy: null })), []);
  const hg = problems(jungfrauCorrectionStep, { gain_mode: 'high' }, raw(1), env([1, 1]));
  assert.equal(hg[0].field, 'gain_hg_file');
  assert.match(hg[0].message, /HG0\.\.HG2/);
  // map shapes for another detector
  const p2 = problems(jungfrauCorrectionStep, {}, raw(1), { ...env([1, 1]), maps: env([2, 1]).maps });
  assert.equal(p2[0].field, 'pedestal_file');
  assert.match(p2[0].message, /map "pedestal" has shape \[3, 2, 512, 1024\], expected \[3, 1, 512, 1024\]/);
  // partial frames need `modules`
  assert.equal(problems(jungfrauCorrectionStep, {}, raw(1), env([2, 1]))[0].field, 'modules');
  assert.equal(problems(jungfrauCorrectionStep, { modules: [2] }, raw(1), env([2, 1]))[0].field, 'modules[0]');
  assert.equal(problems(jungfrauCorrectionStep, { modules: [0, 0] }, raw(2), env([2, 1]))[0].field, 'modules[1]');
});

test('calibration files override the maps; bad files name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-jfstep-'));
  try {
    const e = env([1, 1]);
    const ped = new Float64Array(3 * MP).fill(500); // float64 files are read too
    writeNpy(join(dir, 'p.npy'), ped, [3, 1, 512, 1024]);
    const h = make(jungfrauCorrectionStep, { pedestal_file: join(dir, 'p.npy'), assemble: false }, raw(1), e);
    const out = h.run(new Uint16Array(MP).fill(900)).image as Float32Array;
    near(out[0], 10, '(900 − 500) / 40 keV with the file pedestal (the map has 1000)');
    writeFileSync(join(dir, 'broken.npy'), 'nope');
    const p = problems(jungfrauCorrectionStep, { gain_file: join(dir, 'broken.npy') }, raw(1), e);
    assert.equal(p[0].field, 'gain_file');
    assert.match(p[0].message, /broken\.npy: not a \.npy file/);
    writeNpy(join(dir, 'g2d.npy'), new Float32Array(MP), [512, 1024]);
    const p2 = problems(jungfrauCorrectionStep, { gain_file: join(dir, 'g2d.npy') }, raw(1), e);
    assert.match(p2[0].message, /g2d\.npy has shape \[512, 1024\], expected \[3, 1, 512, 1024\] or \[6, 1, 512, 1024\]/);
    writeNpy(join(dir, 'hg.npy'), new Float32Array(3 * MP).fill(80), [3, 1, 512, 1024]);
    const hgOut = make(jungfrauCorrectionStep, { gain_mode: 'high', gain_hg_file: join(dir, 'hg.npy'), assemble: false }, raw(1), e).run(new Uint16Array(MP).fill(1800)).image;
    near(hgOut[5], 10, '(1800 − 1000) / 80 with the HG0 gain from the file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gain modes: a [6, ...] gain map gives HG0..HG2 in high mode; 0xC000 is saturated only in normal mode', () => {
  const e = env([1, 1], { stages: 6 });
  const words = new Uint16Array(MP).fill(1400);
  words[1] = 0x4000 | 2200; // G1: (2200 − 2000) / 4 = 50 (HG1: /8 = 25)
  words[2] = 0xc000; // saturated in normal mode; G2 ADC 0 in high mode: (0 − 3000) / 0.4 (HG2: /0.8)
  const normal = make(jungfrauCorrectionStep, { assemble: false }, raw(1), e).run(words);
  const high = make(jungfrauCorrectionStep, { assemble: false, gain_mode: 'high' }, raw(1), e).run(words);
  const n = normal.image as Float32Array, h = high.image as Float32Array;
  near(n[0], 10);
  near(n[1], 50);
  assert.ok(Number.isNaN(n[2]));
  assert.equal((normal.vars.get('mask') as Uint8Array)[2], PixelFlag.SATURATED);
  near(h[0], 5);
  near(h[1], 25);
  assert.ok(Math.abs(h[2] - -3000 / 0.8) < 1e-3);
  assert.equal((high.vars.get('mask') as Uint8Array)[2], 0);
});

test('output spec and ctx.vars; photons use the detector energy by default', () => {
  const e = env([1, 1]);
  const h = make(jungfrauCorrectionStep, { output: 'photons' }, { ...raw(1), pixelSize: [75e-6, 75e-6] }, e);
  assert.deepEqual(h.build.output, { dtype: 'float32', shape: [514, 1030], pixelSize: [75e-6, 75e-6], dummy: null });
  const words = new Uint16Array(MP).fill(1400); // 400 ADU / 40 = 10 keV = 1 photon at 10 keV
  words[7] = 0x8000;
  const ctx = h.run(words);
  const img = ctx.image as Float32Array;
  const map = assemblyMap(makeJungfrauLayout('x', [1, 1], [36, 8]));
  near(img[0], 1);
  near(img[map.imageIndex[255]], 0.5, 'double pixel split');
  near(img[map.imageIndex[255 * 1024 + 255]], 0.25, 'quadruple corner pixel split');
  assert.equal(img[map.imageIndex[255] + 1], img[map.imageIndex[255]], 'both halves');
  const mask = ctx.vars.get('mask') as Uint8Array;
  assert.equal(mask[7], PixelFlag.INVALID_GAIN);
  assert.ok(Number.isNaN(img[7]));
  assert.equal(mask.length, img.length);
  const unassembled = make(jungfrauCorrectionStep, { assemble: false, invalid_value: 0 }, raw(1), e);
  assert.deepEqual(unassembled.build.output.shape, [1, 512, 1024]);
  assert.equal(unassembled.build.output.dummy, 0);
  assert.equal(make(jungfrauCorrectionStep, { gap_value: -2 }, raw(1), e).build.output.dummy, -2, 'a numeric gap value is the dummy');
  const both = problems(jungfrauCorrectionStep, { gap_value: -2, invalid_value: -1 }, raw(1), e);
  assert.deepEqual(both.map((x) => x.field), ['gap_value']);
});

test('partial frames: `modules` corrects the listed modules into their place in the full image', () => {
  const e = env([2, 1]);
  const h = make(jungfrauCorrectionStep, { modules: [1] }, raw(1), e);
  assert.deepEqual(h.build.output.shape, [1064, 1030]);
  const ctx = h.run(new Uint16Array(MP).fill(1400));
  const img = ctx.image as Float32Array, mask = ctx.vars.get('mask') as Uint8Array;
  const map = assemblyMap(makeJungfrauLayout('y', [2, 1], [36, 8]));
  for (let k = 0; k < img.length; k += 7) {
    const m = map.rawIndex[k] < 0 ? -1 : Math.floor(map.rawIndex[k] / MP);
    if (m === 1) {
      near(img[k], 10 * map.weight[k]);
      assert.equal(mask[k], 0);
    } else {
      assert.ok(Number.isNaN(img[k]));
      assert.equal(mask[k], PixelFlag.GAP);
    }
  }
});

test('jungfrau_pedestal: skips incomplete frames; partial() returns copies', () => {
  const e = env([1, 1]);
  const h = make(jungfrauPedestalStep, {}, raw(1), e);
  const words = new Uint16Array(MP).fill(0x4000 | 1500);
  const ctx = h.run(words, 0);
  assert.equal(ctx.image, words, 'the raw frame passes on');
  h.run(new Uint16Array(MP), 1, { valid: false });
  const a = h.build.step.partial!();
  assert.equal(a.pedestal_count[MP], 1);
  assert.equal(a.pedestal_count[0], 0);
  assert.equal(a.pedestal_sum[MP + 5], 1500);
  h.run(words, 2);
  assert.equal(a.pedestal_count[MP], 1, 'an earlier partial is not changed by later frames');
  assert.equal(h.build.step.partial!().pedestal_count[MP], 2);
});
