/** The bin-sorted sigma clip (WebAssembly and JS engines) against a plain per-bin reference written from pyFAI's loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Integrator, SigmaClipper } from '../../src/processing/azint/index.js';
import { geometryOf, braggImage, type Setup } from './helpers.js';

const SETUP: Setup = { shape: [300, 340], pixel: [75e-6, 75e-6], poni: { dist: 0.1, poni1: 0.012, poni2: 0.013, rot1: 0.05, rot2: -0.03, rot3: 0.1, wavelength: 1e-10 } };

/** pyFAI sigma_clip_ng (no splitting, Poisson), bin by bin, re-summing the kept pixels in pixel order. */
function reference(integ: Integrator, image: Float32Array, mask: Uint8Array | null, cycle: number) {
  const { bin, norm } = integ.kernelTable();
  const nb = integ.nbins;
  const members: number[][] = Array.from({ length: nb }, () => []);
  for (let k = 0; k < bin.length; k++) {
    const v = image[k];
    if (bin[k] >= 0 && v - v === 0 && !(mask && mask[k])) members[bin[k]].push(k);
  }
  const avg = new Float64Array(nb), std = new Float64Array(nb), count = new Float64Array(nb);
  const discarded = new Uint8Array(bin.length);
  for (let b = 0; b < nb; b++) {
    let kept = members[b];
    const sums = () => {
      let S = 0, V = 0, N = 0, N2 = 0;
      for (const k of kept) {
        S += image[k];
        V += Math.max(image[k], 1);
        N += norm[k];
        N2 += norm[k] * norm[k];
      }
      return { S, V, N, N2, C: kept.length };
    };
    let s = sums();
    count[b] = s.C;
    for (let c = 0; c < cycle && s.C > 0 && s.N !== 0; c++) {
      const n = Math.max(3, s.C);
      count[b] = n;
      const a = s.S / s.N, sd = Math.sqrt(s.V / s.N2);
      const thr = Math.sqrt(2 * Math.log(n / Math.sqrt(2 * Math.PI))) * sd;
      const next = kept.filter((k) => !(Math.abs(image[k] / norm[k] - a) > thr));
      if (next.length === kept.length) break;
      for (const k of kept) if (Math.abs(image[k] / norm[k] - a) > thr) discarded[k] = 1;
      kept = next;
      s = sums();
      count[b] = s.C;
    }
    avg[b] = s.C > 0 ? s.S / s.N : 0;
    std[b] = s.C > 0 ? Math.sqrt(s.V / s.N2) : 0;
  }
  return { avg, std, count, discarded };
}

test('sorted sigma clip: same background, counts and pixel states as the per-bin reference (wasm and js engines, frame mask, NaN pixels)', () => {
  const g = geometryOf(SETUP);
  const image = braggImage(g, { seed: 5, spots: 150 });
  for (let k = 0; k < image.length; k += 997) image[k] = NaN;
  const mask = new Uint8Array(image.length);
  for (let k = 0; k < mask.length; k += 331) mask[k] = 1;
  for (const engine of ['wasm', 'js'] as const) {
    const integ = new Integrator(g, { npt: 150, unit: 'q_nm^-1', method: 'no', engine });
    for (const m of [null, mask]) {
      const clipper = new SigmaClipper(integ, { cycle: 5 });
      for (let rep = 0; rep < 2; rep++) {
        const valid = new Uint8Array(image.length);
        const r = clipper.clipWith(image, m, valid, true);
        const ref = reference(integ, image, m, 5);
        let discarded = 0;
        for (let b = 0; b < integ.nbins; b++) {
          assert.equal(r.count[b], ref.count[b], `${engine}: count of bin ${b}`);
          if (ref.count[b] === 0) continue;
          assert.ok(Math.abs(r.average[b] - ref.avg[b]) <= 1e-6 * Math.abs(ref.avg[b]) + 1e-12, `${engine}: average of bin ${b}: ${r.average[b]} vs ${ref.avg[b]}`);
          assert.ok(Math.abs(r.std[b] - ref.std[b]) <= 1e-6 * Math.abs(ref.std[b]) + 1e-12, `${engine}: std of bin ${b}`);
        }
        const usable = integ.corrections.usable;
        for (let k = 0; k < image.length; k++) {
          if (ref.discarded[k]) {
            discarded++;
            assert.equal(r.state[k], 1, `${engine}: pixel ${k} discarded`);
          }
          const v = image[k];
          const ok = usable[k] === 1 && v - v === 0 && !(m && m[k]);
          assert.equal(valid[k], ok ? 1 : 0, `${engine}: valid ${k}`);
          assert.equal(r.state[k] === 2 || r.state[k] === 4, !ok, `${engine}: state ${k}`);
        }
        assert.ok(discarded > 100, `${engine}: ${discarded} pixels discarded`);
      }
    }
  }
});
