/** mask, background and flatfield: maps from env.maps or .npy files, analytic cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backgroundStep, flatfieldStep, maskStep, PixelFlag, writeNpy } from '../../src/processing/steps/index.js';
import { emptyEnv, make, map2d, problems, ramp, spec } from './helpers.js';

const R = 4, C = 5, N = R * C;

test('mask: masked pixels become NaN in float images, the mask is merged into ctx.vars.mask', () => {
  const m = new Uint8Array(N);
  m[3] = 1;
  m[17] = 7; // any nonzero value masks
  const h = make(maskStep, {}, spec([R, C]), emptyEnv({ mask: map2d(m, [R, C]) }));
  const img = ramp(N, (k) => k + 1);
  const ctx = h.run(img);
  const out = ctx.image as Float32Array;
  assert.notEqual(out, img, 'the input image is not written');
  assert.equal(img[3], 4);
  for (let k = 0; k < N; k++) {
    if (k === 3 || k === 17) assert.ok(Number.isNaN(out[k]), `pixel ${k} masked`);
    else assert.equal(out[k], k + 1);
  }
  const vm = ctx.vars.get('mask') as Uint8Array;
  assert.equal(vm[3], PixelFlag.MASKED);
  assert.equal(vm[17], PixelFlag.MASKED);
  assert.equal(vm.reduce((a, b) => a + (b ? 1 : 0), 0), 2);

  // an incoming mask (e.g. Jungfrau flags) is kept and merged, not modified
  const incoming = new Uint8Array(N);
  incoming[0] = 2;
  incoming[3] = 1;
  const ctx2 = h.run(img, 1, { vars: new Map([['mask', incoming]]) });
  const merged = ctx2.vars.get('mask') as Uint8Array;
  assert.notEqual(merged, incoming);
  assert.deepEqual([merged[0], merged[3], merged[17], merged[1]], [2, 1, PixelFlag.MASKED, 0]);
  assert.deepEqual([incoming[17]], [0], 'incoming mask untouched');
});

test('mask: integer images get the dummy, mask_value or 0; invert; no map = no-op', () => {
  const m = new Uint8Array(N);
  m[5] = 1;
  const env = emptyEnv({ mask: map2d(m, [R, C]) });
  const img = new Uint32Array(N).fill(9);
  const withDummy = make(maskStep, {}, spec([R, C], 'uint32', { dummy: 4294967295 }), env);
  assert.equal(withDummy.run(img).image[5], 4294967295);
  assert.equal(withDummy.build.output.dummy, 4294967295);
  const zero = make(maskStep, {}, spec([R, C], 'uint32'), env);
  assert.equal(zero.run(img).image[5], 0);
  assert.equal(zero.build.output.dummy, null, 'a default fill of 0 is not a dummy');
  const three = make(maskStep, { mask_value: 3 }, spec([R, C], 'uint32'), env);
  assert.equal(three.run(img).image[5], 3);
  assert.equal(three.build.output.dummy, 3);
  const inv = make(maskStep, { mask_invert: true }, spec([R, C], 'uint32'), env).run(img).image;
  assert.equal(inv[5], 9);
  assert.equal(inv[4], 0);
  const noop = make(maskStep, {}, spec([R, C], 'uint32'));
  const ctx = noop.run(img);
  assert.equal(ctx.image, img, 'without a mask the image passes unchanged');
  assert.equal(ctx.vars.has('mask'), false);
});

test('maps from .npy files; shape mismatch and bad files are field errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-steps-'));
  try {
    const mfile = join(dir, 'mask.npy');
    const m = new Uint8Array(N);
    m[7] = 1;
    writeNpy(mfile, m, [R, C]);
    const out = make(maskStep, { mask_file: mfile }, spec([R, C])).run(ramp(N)).image;
    assert.ok(Number.isNaN(out[7]));
    assert.equal(out[8], 8);

    const wrong = join(dir, 'wrong.npy');
    writeNpy(wrong, new Float32Array(N), [C, R]);
    const p = problems(maskStep, { mask_file: wrong }, spec([R, C]));
    assert.equal(p.length, 1);
    assert.equal(p[0].field, 'mask_file');
    assert.match(p[0].message, /wrong\.npy has shape \[5, 4\], the image is \[4, 5\]/);

    const missing = problems(backgroundStep, { dark_file: join(dir, 'nope.npy') }, spec([R, C]));
    assert.equal(missing[0].field, 'dark_file');
    assert.match(missing[0].message, /nope\.npy: no such file/);

    const envWrong = emptyEnv({ flat: map2d(new Float32Array(N + 1), [1, N + 1]) });
    const pf = problems(flatfieldStep, {}, spec([R, C]), envWrong);
    assert.equal(pf[0].field, 'flat_file');
    assert.match(pf[0].message, /map "flat" has shape \[1, 21\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('background: image − dark, clamp at 0, dummy → NaN, dark left in ctx.vars.background', () => {
  const dark = ramp(N, (k) => k % 3);
  const env = emptyEnv({ dark: map2d(dark, [R, C]) });
  const img = new Uint16Array(N).fill(1);
  img[10] = 65535;
  const h = make(backgroundStep, {}, spec([R, C], 'uint16', { dummy: 65535 }), env);
  assert.equal(h.build.output.dtype, 'float32');
  const ctx = h.run(img);
  const out = ctx.image as Float32Array;
  for (let k = 0; k < N; k++) {
    if (k === 10) assert.ok(Number.isNaN(out[k]));
    else assert.equal(out[k], 1 - (k % 3));
  }
  assert.deepEqual(Array.from(ctx.vars.get('background') as Float32Array), Array.from(dark));
  const clamped = make(backgroundStep, { background_clamp: true }, spec([R, C], 'uint16'), env).run(img).image;
  for (let k = 0; k < N; k++) if (k !== 10) assert.equal(clamped[k], Math.max(0, 1 - (k % 3)));
  // float64 stays float64
  assert.equal(make(backgroundStep, {}, spec([R, C], 'float64'), env).build.output.dtype, 'float64');
});

test('flatfield: divide by the flat normalised to mean 1; unusable flat pixels → NaN', () => {
  const flat = new Float32Array(N).fill(2);
  flat[0] = 4;
  flat[1] = 0; // unusable
  flat[2] = NaN; // unusable
  const env = emptyEnv({ flat: map2d(flat, [R, C]) });
  const img = new Float32Array(N).fill(10);
  // mean over usable pixels: (4 + 17·2) / 18
  const mean = (4 + 17 * 2) / 18;
  const out = make(flatfieldStep, {}, spec([R, C]), env).run(img).image as Float32Array;
  assert.ok(Number.isNaN(out[1]) && Number.isNaN(out[2]));
  assert.ok(Math.abs(out[0] - (10 * mean) / 4) < 1e-5);
  assert.ok(Math.abs(out[5] - (10 * mean) / 2) < 1e-5);
  const raw = make(flatfieldStep, { flat_normalize: false }, spec([R, C]), env).run(img).image as Float32Array;
  assert.equal(raw[0], 2.5);
  assert.equal(raw[5], 5);
  // a flat that is uniform gives back the image when normalised
  const uni = make(flatfieldStep, {}, spec([R, C]), emptyEnv({ flat: map2d(new Float32Array(N).fill(123), [R, C]) })).run(ramp(N)).image;
  for (let k = 0; k < N; k++) assert.ok(Math.abs(uni[k] - k) < 1e-4);
  const none = problems(flatfieldStep, {}, spec([R, C]), emptyEnv({ flat: map2d(new Float32Array(N), [R, C]) }));
  assert.match(none[0].message, /no usable pixel/);
});

test('output buffers: reused between frames, replaced when the previous one was transferred', () => {
  const env = emptyEnv({ dark: map2d(new Float32Array(N), [R, C]) });
  const h = make(backgroundStep, {}, spec([R, C]), env);
  const a = h.run(ramp(N)).image;
  const b = h.run(ramp(N)).image;
  assert.equal(a, b, 'same buffer for consecutive frames (no allocation)');
  structuredClone(b, { transfer: [b.buffer as ArrayBuffer] }); // what the receiver worker does with the final image
  assert.equal(b.length, 0, 'detached');
  const c = h.run(ramp(N, (k) => 2 * k)).image;
  assert.notEqual(c, b);
  assert.equal(c.length, N);
  assert.equal(c[3], 6);
});
