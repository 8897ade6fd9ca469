import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Colorizer, isSoftwareRenderer } from '../src/cpu-image.js';
import { lutBytes, normalize, type Scale } from '../src/colormap.js';

const lut = lutBytes('viridis');
/** The fragment shader's colour: LUT texel round(t·255) of normalize(), as RGBA bytes. */
function shaderRGBA(v: number, vmin: number, vmax: number, scale: Scale): number[] {
  const k = Math.floor(normalize(v, vmin, vmax, scale) * 255 + 0.5);
  return Array.from(lut.subarray(4 * k, 4 * k + 4));
}
const bytesOf = (c: number): number[] => Array.from(new Uint8Array(new Uint32Array([c]).buffer));

test('CPU colours equal the shader formula for every scale, integer (table) and float paths alike', () => {
  const c = new Colorizer();
  for (const scale of ['linear', 'log', 'sqrt'] as Scale[]) {
    const vmin = 3;
    const vmax = 250;
    c.configure({ lut, vmin, vmax, scale, dummy: 2 ** 31, showMask: true });
    const ints = Uint32Array.from({ length: 600 }, (_, i) => i);
    const floats = Float32Array.from({ length: 600 }, (_, i) => i * 0.5 - 10);
    const outI = new Uint32Array(ints.length);
    const outF = new Uint32Array(floats.length);
    c.colorize(ints, 'uint32', outI);
    c.colorize(floats, 'float32', outF);
    ints.forEach((v, i) => assert.deepEqual(bytesOf(outI[i]), shaderRGBA(v, vmin, vmax, scale), `${scale} uint32 ${v}`));
    floats.forEach((v, i) => assert.deepEqual(bytesOf(outF[i]), shaderRGBA(v, vmin, vmax, scale), `${scale} float32 ${v}`));
  }
});

test('gap dummies and NaN take the mask tint, or opaque black without the overlay; signed values below the range the bottom colour', () => {
  const c = new Colorizer();
  c.configure({ lut, vmin: 0, vmax: 100, scale: 'linear', dummy: 2 ** 31, showMask: true });
  const out = new Uint32Array(3);
  c.colorize(Uint32Array.from([0xffffffff, 2 ** 31, 50]), 'uint32', out);
  assert.deepEqual(bytesOf(out[0]), [255, 26, 140, 140]);
  assert.deepEqual(bytesOf(out[1]), [255, 26, 140, 140]);
  c.configure({ lut, vmin: 0, vmax: 100, scale: 'linear', dummy: Infinity, showMask: false });
  c.colorize(Float32Array.from([NaN, -5, 1e9]), 'float32', out);
  assert.deepEqual(bytesOf(out[0]), [0, 0, 0, 255]);
  assert.deepEqual(bytesOf(out[1]), Array.from(lut.subarray(0, 4)));
  assert.deepEqual(bytesOf(out[2]), Array.from(lut.subarray(1020, 1024)));
  c.colorize(Int16Array.from([-300, 100, 7]), 'int16', out);
  assert.deepEqual(bytesOf(out[0]), Array.from(lut.subarray(0, 4)));
  assert.deepEqual(bytesOf(out[1]), Array.from(lut.subarray(1020, 1024)));
  assert.deepEqual(bytesOf(out[2]), shaderRGBA(7, 0, 100, 'linear'));
});

test('an integer range too wide for a table falls back to the formula', () => {
  const c = new Colorizer();
  c.configure({ lut, vmin: 0, vmax: 4e9, scale: 'log', dummy: Infinity, showMask: true });
  const src = Uint32Array.from([0, 10, 1e6, 3e9]);
  const out = new Uint32Array(4);
  c.colorize(src, 'uint32', out);
  src.forEach((v, i) => assert.deepEqual(bytesOf(out[i]), shaderRGBA(v, 0, 4e9, 'log')));
});

test('software WebGL renderers are recognised, hardware ones are not', () => {
  assert.ok(isSoftwareRenderer('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)'));
  assert.ok(isSoftwareRenderer('llvmpipe (LLVM 15.0.6, 256 bits)'));
  assert.ok(!isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0, D3D11)'));
  assert.ok(!isSoftwareRenderer('Mesa Intel(R) UHD Graphics 620 (KBL GT2)'));
});
