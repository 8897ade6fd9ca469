/** The multi-tau correlator: lag grid, exactness against a brute-force reference, analytic cases, dense = sparse. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiTauCorrelator, multiTauLags, type XpcsMode } from '../../src/processing/xpcs/index.js';
import { linearFit, normals, poisson, referenceG2, rng } from './helpers.js';

test('lag grid: 1..m, then m/2 lags per level with doubling steps', () => {
  assert.deepEqual(Array.from(multiTauLags(8, 3)), [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32]);
  const g = multiTauLags(16, 4);
  const want = [...Array.from({ length: 16 }, (_, i) => i + 1), ...[18, 20, 22, 24, 26, 28, 30, 32], ...[36, 40, 44, 48, 52, 56, 60, 64], ...[72, 80, 88, 96, 104, 112, 120, 128]];
  assert.deepEqual(Array.from(g), want);
  assert.equal(new MultiTauCorrelator(new Int16Array([0]), 1).tau.length, 16 + 11 * 8);
  assert.throws(() => multiTauLags(7, 3), /even/);
  assert.throws(() => new MultiTauCorrelator(new Int16Array([-1, -1]), 1), /no pixel/);
});

/** Random sparse-ish integer frames with some missing ones, 3 rings. */
function randomSeries(T: number, size: number, lam: number, seed: number, missing: Set<number>) {
  const u = rng(seed), n = normals(u);
  const labels = new Int16Array(size);
  for (let k = 0; k < size; k++) labels[k] = k % 7 === 3 ? -1 : k % 3;
  // slowly varying per-pixel mean so there is some correlation
  const mean = Float64Array.from({ length: size }, () => lam * (0.5 + u()));
  const frames: (Uint32Array | null)[] = [];
  for (let t = 0; t < T; t++) {
    if (missing.has(t)) {
      frames.push(null);
      continue;
    }
    const f = new Uint32Array(size);
    for (let k = 0; k < size; k++) f[k] = poisson(mean[k] * (1 + 0.8 * Math.sin(t / 9 + k)), u, n);
    frames.push(f);
  }
  return { labels, frames };
}

function feed(c: MultiTauCorrelator, frames: (ArrayLike<number> | null)[], how: 'dense' | 'events' | 'skip') {
  frames.forEach((f, t) => {
    if (f === null) {
      if (how !== 'skip') c.ingest(t, null); // 'skip': leave the index out, the correlator fills the gap
      return;
    }
    if (how === 'events') {
      const idx: number[] = [], val: number[] = [];
      for (let k = 0; k < f.length; k++) if (f[k] !== 0) {
        idx.push(k);
        val.push(f[k]);
      }
      c.ingestSparse(t, Int32Array.from(idx), Float64Array.from(val));
    } else {
      c.ingest(t, f);
    }
  });
}

function assertClose(a: Float64Array, b: Float64Array, tol: number, what: string) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) {
      assert.ok(Number.isNaN(a[i]), `${what}[${i}]: ${a[i]}, reference NaN`);
      continue;
    }
    assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.abs(b[i]), `${what}[${i}]: ${a[i]} vs reference ${b[i]}`);
  }
}

test('matches a brute-force multi-tau reference (gaps included), in every mode and both normalisations', () => {
  const missing = new Set([5, 6, 40, 41, 42, 43, 44, 77, 150]);
  const { labels, frames } = randomSeries(203, 150, 0.7, 11, missing);
  const m = 4, levels = 6;
  for (const normalization of ['pixel', 'ring'] as const) {
    const ref = referenceG2(frames, labels, 3, m, levels, normalization === 'ring');
    assert.ok(ref.filter((x) => !Number.isNaN(x)).length >= 30, 'reference has values');
    for (const mode of ['dense', 'sparse', 'auto'] as XpcsMode[]) {
      for (const how of ['dense', 'events', 'skip'] as const) {
        const c = new MultiTauCorrelator(labels, 3, m, levels, { mode, normalization, sparseThreshold: 0.5 });
        feed(c, frames, how);
        const s = c.snapshot();
        assert.equal(s.nframes, 203);
        assert.equal(s.nvalid, 203 - missing.size);
        assertClose(s.g2, ref, 1e-9, `${normalization}/${mode}/${how}`);
      }
    }
  }
});

test('constant images: g2 ≡ 1 at every lag with data, g2(0) = 1', () => {
  const size = 60;
  const labels = Int16Array.from({ length: size }, (_, k) => k % 2);
  const c = new MultiTauCorrelator(labels, 2, 8, 6);
  const img = Float32Array.from({ length: size }, (_, k) => 3 + (k % 5));
  for (let t = 0; t < 300; t++) c.ingest(t, img);
  const s = c.snapshot();
  let n = 0;
  s.g2.forEach((v, i) => {
    const tau = s.tau[i % s.nTau];
    if (tau < 300) {
      assert.ok(Math.abs(v - 1) < 1e-12, `g2 at τ=${tau}: ${v}`);
      n++;
    } else assert.ok(Number.isNaN(v), `no pair at τ=${tau}`);
  });
  assert.ok(n > 40);
  for (const v of s.g2_0) assert.ok(Math.abs(v - 1) < 1e-12);
  assert.deepEqual(Array.from(s.intensity), [5, 5]); // (3+5+7+4+6)/5 and (4+6+3+5+7)/5
});

test('uncorrelated Poisson frames: g2(τ ≥ 1) ≈ 1, g2(0) ≈ 1 + 1/μ', () => {
  const size = 2000, T = 1000, mu = 4;
  const u = rng(5), n = normals(u);
  const labels = new Int16Array(size); // one ring
  const c = new MultiTauCorrelator(labels, 1, 16, 6);
  const img = new Uint32Array(size);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < size; k++) img[k] = poisson(mu, u, n);
    c.ingest(t, img);
  }
  const s = c.snapshot();
  for (let i = 0; i < s.nTau; i++) {
    if (s.tau[i] > T / 4) break;
    // statistical error: 1/(μ·√(pairs·pixels)); plus the O(1/(Nμ)) bias of the per-pixel ratio
    assert.ok(Math.abs(s.g2[i] - 1) < 4 * s.g2_err[i] + 2e-3, `τ=${s.tau[i]}: g2 = ${s.g2[i]} ± ${s.g2_err[i]}`);
    assert.ok(s.g2_err[i] > 0 && s.g2_err[i] < 0.02);
  }
  assert.ok(Math.abs(s.g2_0[0] - (1 + 1 / mu)) < 0.01, `g2(0) = ${s.g2_0[0]}, want ${1 + 1 / mu}`);
  assert.ok(Math.abs(s.intensity[0] - mu) < 0.02);
});

test('AR(1) complex speckle with |g1| = exp(−τ/τc): fitted g2 − 1 = β·exp(−2τ/τc) gives τc within 10 %', () => {
  const tcs = [6, 40];
  const perRing = 800, T = 16384, mu = 50;
  const size = perRing * tcs.length;
  const labels = Int16Array.from({ length: size }, (_, k) => Math.floor(k / perRing));
  const u = rng(99), n = normals(u);
  const re = Float64Array.from({ length: size }, () => n() * Math.SQRT1_2);
  const im = Float64Array.from({ length: size }, () => n() * Math.SQRT1_2);
  const rho = Float64Array.from({ length: size }, (_, k) => Math.exp(-1 / tcs[labels[k]]));
  const c = new MultiTauCorrelator(labels, tcs.length, 16, 10);
  const img = new Float32Array(size);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < size; k++) {
      const r = rho[k], w = Math.sqrt((1 - r * r) / 2);
      re[k] = r * re[k] + w * n();
      im[k] = r * im[k] + w * n();
      img[k] = poisson(mu * (re[k] * re[k] + im[k] * im[k]), u, n);
    }
    c.ingest(t, img);
  }
  const s = c.snapshot();
  tcs.forEach((tc, r) => {
    const x: number[] = [], y: number[] = [];
    for (let i = 0; i < s.nTau; i++) {
      const v = s.g2[r * s.nTau + i] - 1;
      if (v > 0.1 && s.tau[i] < 3 * tc) {
        x.push(s.tau[i]);
        y.push(Math.log(v));
      }
    }
    assert.ok(x.length >= 5, `ring ${r}: ${x.length} points`);
    const { a, b } = linearFit(x, y);
    const fitted = -2 / b, beta = Math.exp(a);
    console.log(`AR(1) τc = ${tc}: fitted τc = ${fitted.toFixed(2)} frames, β = ${beta.toFixed(3)} (${x.length} lags); g2(0) = ${s.g2_0[r].toFixed(3)} (1 + β + 1/μ = ${(2 + 1 / mu).toFixed(3)})`);
    assert.ok(Math.abs(fitted / tc - 1) < 0.1, `τc fitted ${fitted}, true ${tc}`);
    assert.ok(Math.abs(beta - 1) < 0.1, `β ${beta}`);
    // fully decorrelated at long lags
    for (let i = 0; i < s.nTau; i++) {
      if (s.tau[i] > 8 * tc && s.tau[i] < T / 8) assert.ok(Math.abs(s.g2[r * s.nTau + i] - 1) < 0.03, `τ=${s.tau[i]}: ${s.g2[r * s.nTau + i]}`);
    }
  });
});

test('dense and sparse give identical g2 on the same sparse data; fill factor per frame', () => {
  const size = 4096, T = 700;
  const u = rng(3), n = normals(u);
  const labels = Int16Array.from({ length: size }, (_, k) => (k < 100 ? -1 : k % 4));
  const nRing = size - 100;
  // low count rate speckle: a slowly drifting mean per pixel, ~1 % of pixels hit per frame
  const phase = Float64Array.from({ length: size }, () => 2 * Math.PI * u());
  const modes: XpcsMode[] = ['dense', 'sparse', 'auto'];
  const cs = modes.map((mode) => new MultiTauCorrelator(labels, 4, 16, 7, { mode, sparseThreshold: 0.02 }));
  const ev = new MultiTauCorrelator(labels, 4, 16, 7, { mode: 'sparse' });
  const img = new Uint16Array(size);
  let fillSum = 0, sparseFrames = 0;
  for (let t = 0; t < T; t++) {
    if (t === 333) {
      for (const c of [...cs, ev]) c.ingest(t, null);
      continue;
    }
    const idx: number[] = [], val: number[] = [];
    let nnzRing = 0;
    const lam = t > 500 ? 0.05 : 0.01; // later frames denser: auto switches
    for (let k = 0; k < size; k++) {
      img[k] = poisson(lam * (1 + Math.sin(t / 25 + phase[k])), u, n);
      if (img[k]) {
        idx.push(k);
        val.push(img[k]);
        if (labels[k] >= 0) nnzRing++;
      }
    }
    const results = cs.map((c) => c.ingest(t, img));
    const re = ev.ingestSparse(t, Int32Array.from(idx), Uint32Array.from(val));
    for (const r of [...results, re]) assert.equal(r.fill_factor, nnzRing / nRing);
    assert.equal(results[0].sparse, false);
    assert.equal(results[1].sparse, true);
    fillSum += results[2].fill_factor;
    if (results[2].sparse) sparseFrames++;
  }
  assert.ok(sparseFrames > 300 && sparseFrames < T - 50, `auto used sparse for ${sparseFrames} frames`);
  const [d, s, a] = cs.map((c) => c.snapshot());
  const e = ev.snapshot();
  assert.ok(d.g2.some((v) => Number.isFinite(v) && v !== 1));
  for (const other of [s, a, e]) {
    assert.deepEqual(other.g2, d.g2); // bit for bit
    assert.deepEqual(other.g2_err, d.g2_err);
    assert.deepEqual(other.g2_0, d.g2_0);
  }
  console.log(`sparse data: mean fill factor ${(fillSum / (T - 1)).toFixed(4)}, auto sparse on ${sparseFrames}/${T - 1} frames`);
});

test('frames must come in order; memory accounting', () => {
  const labels = Int16Array.from({ length: 100 }, (_, k) => k % 2);
  const c = new MultiTauCorrelator(labels, 2, 8, 5);
  c.ingest(10, new Uint8Array(100).fill(1));
  c.ingest(12, new Uint8Array(100).fill(1)); // 11 is a gap
  assert.equal(c.nframes, 3);
  assert.equal(c.nextFrame, 13);
  assert.throws(() => c.ingest(12, new Uint8Array(100)), /in order/);
  assert.throws(() => c.ingest(13, new Uint8Array(99)), /pixels/);
  assert.throws(() => c.ingestSparse(13, [5, 100], [1, 1]), /outside the image/);
  assert.equal(c.nextFrame, 13, 'a refused frame does not advance');
  for (let t = 14; t < 400; t++) c.ingest(t, new Uint8Array(100).fill(t % 3));
  assert.ok(c.allocatedBytes() <= c.memoryBytes() + 2 * 100 * 8 * 8 * 5, `${c.allocatedBytes()} vs ${c.memoryBytes()}`);
});

test('frames per second, 512 × 512 pixels in rings, m = 16 (printed)', () => {
  const size = 512 * 512;
  const labels = Int16Array.from({ length: size }, (_, k) => k % 8);
  const u = rng(1);
  const densePool = Array.from({ length: 8 }, () => Uint32Array.from({ length: size }, () => (u() < 0.6 ? 1 + Math.floor(u() * 4) : 0)));
  const sparsePool = Array.from({ length: 8 }, () => Uint32Array.from({ length: size }, () => (u() < 0.005 ? 1 : 0)));
  const events = sparsePool.map((f) => {
    const idx: number[] = [];
    f.forEach((v, k) => v && idx.push(k));
    return { idx: Int32Array.from(idx), val: new Uint32Array(idx.length).fill(1) };
  });
  const cases = [
    ['dense', 'dense frames, fill 0.6, mode dense', (c: MultiTauCorrelator, t: number) => c.ingest(t, densePool[t % 8])],
    ['auto', 'dense frames, fill 0.6, mode auto', (c: MultiTauCorrelator, t: number) => c.ingest(t, densePool[t % 8])],
    ['auto', 'images with fill 0.005, mode auto', (c: MultiTauCorrelator, t: number) => c.ingest(t, sparsePool[t % 8])],
    ['sparse', 'event lists with fill 0.005', (c: MultiTauCorrelator, t: number) => c.ingestSparse(t, events[t % 8].idx, events[t % 8].val)],
  ] as const;
  for (const [mode, label, feedOne] of cases) {
    const c = new MultiTauCorrelator(labels, 8, 16, 8, { mode });
    const W = 50, T = 250;
    const t0 = performance.now();
    for (let t = 0; t < W; t++) feedOne(c, t);
    const t1 = performance.now();
    for (let t = W; t < T; t++) feedOne(c, t);
    const t2 = performance.now();
    c.snapshot();
    const ds = performance.now() - t2;
    const per = (t2 - t1) / (T - W);
    console.log(
      `multi-tau 512×512, m=16, 8 levels, ${label}: ${(1000 / per).toFixed(0)} frames/s (${per.toFixed(2)} ms/frame; ` +
        `first ${W} frames incl. allocation ${((t1 - t0) / W).toFixed(2)} ms/frame), snapshot ${ds.toFixed(0)} ms, state ${(c.allocatedBytes() / 2 ** 20).toFixed(0)} MiB`,
    );
  }
});
