/** smx kernels: sparsify, densify, background interpolation, peak finding, accumulators. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sparsifier, sparsify } from '../../src/processing/smx/sparsify.js';
import { densify, interpolateBackground } from '../../src/processing/smx/background.js';
import { PeakFinder, findPeaks, isHit, type PeakParams } from '../../src/processing/smx/peaks.js';
import { SumImage, combineSum } from '../../src/processing/smx/accumulate.js';
import { Rng, inputsOf, makeFrame, nearest, referencePeaks, referenceSparsify, type Spot } from './helpers.js';

const ESRF: PeakParams = { noise: 0.5, cutoff_peak: 4, patch_size: 5, connected: 7, max_num_peaks: 2048 };

/** A busy frame: radial background, smooth norm, masked column and random pixels, NaN background corner, spots everywhere. */
function busyFrame(seed: number, nSpots = 120) {
  const rows = 200, cols = 260;
  const rng = new Rng(seed);
  const spots: Spot[] = [];
  for (let i = 0; i < nSpots; i++) spots.push({ row: rng.uniform() * rows - 0.5, col: rng.uniform() * cols - 0.5, photons: 20 + 2000 * rng.uniform() ** 2 });
  const masked = new Set<number>();
  for (let i = 0; i < 400; i++) masked.add(Math.floor(rng.uniform() * rows * cols));
  const f = makeFrame({
    rows,
    cols,
    background: (r, c) => 0.3 + 3 * Math.exp(-(((Math.hypot(r - 90, c - 120) - 60) / 25) ** 2)),
    norm: (r, c) => 0.6 + 0.4 * Math.cos((r - 90) / 300) * Math.cos((c - 120) / 300),
    spots,
    sigma: 1.1,
    seed,
    valid: (r, c) => c !== 77 && !masked.has(r * cols + c),
  });
  // no background in a corner (outside the radial range)
  for (let r = 0; r < 12; r++) for (let c = 0; c < 12; c++) f.bgAvg[r * cols + c] = NaN;
  return f;
}

test('sparsify keeps exactly the pixels above max(noise, cutoff·σ′) (brute-force reference), with their raw values', () => {
  for (const seed of [1, 2]) {
    const f = busyFrame(seed);
    const input = inputsOf(f);
    const sp = new Sparsifier(f.image.length);
    for (const [noise, cutoff] of [
      [0.5, 4],
      [1, 3],
      [0, 2],
      [0.6, 0],
    ]) {
      const got = sp.run(input, { noise, cutoff_pick: cutoff });
      const ref = referenceSparsify(input, noise, cutoff);
      assert.deepEqual(Array.from(got.index), ref, `noise ${noise}, cutoff ${cutoff}`);
      for (let i = 0; i < got.index.length; i++) assert.equal(got.intensity[i], f.image[got.index[i]]);
      for (let i = 1; i < got.index.length; i++) assert.ok(got.index[i] > got.index[i - 1]);
      for (const k of got.index) assert.equal(f.valid[k], 1, 'a masked pixel was kept');
    }
    // the one-shot function agrees with the class
    assert.deepEqual(sparsify(input, { noise: 0.5, cutoff_pick: 4 }).index, sp.run(input, { noise: 0.5, cutoff_pick: 4 }).index);
  }
});

test('sparsify: the comparison is strict and the noise floor applies when σ′ is small', () => {
  // bg 0, std 0: σ′ = noise = 1, threshold max(1, 3·1) = 3
  const image = new Float32Array([2.9, 3, 3.0001, 10, 1.5]);
  const zeros = new Float32Array(5);
  const got = sparsify({ image, norm: null, valid: null, bgAvg: zeros, bgStd: zeros }, { noise: 1, cutoff_pick: 3 });
  assert.deepEqual(Array.from(got.index), [2, 3]);
  // cutoff 0: the floor `noise` alone decides
  const floor = sparsify({ image, norm: null, valid: null, bgAvg: zeros, bgStd: zeros }, { noise: 1.5, cutoff_pick: 0 });
  assert.deepEqual(Array.from(floor.index), [0, 1, 2, 3]);
  // NaN deviation: never kept
  const nanStd = new Float32Array([NaN, 0, 0, NaN, 0]);
  assert.deepEqual(Array.from(sparsify({ image, norm: null, valid: null, bgAvg: zeros, bgStd: nanStd }, { noise: 1, cutoff_pick: 3 }).index), [2]);
});

test('background interpolation follows pyFAI (linear between bin centres, clamped at both ends, NaN radius → NaN)', () => {
  const radial = Float32Array.from({ length: 50 }, (_, i) => 0.01 + 0.002 * (i + 0.5));
  const avg = Float32Array.from({ length: 50 }, (_, i) => 10 + Math.sin(i / 5) * 3);
  const std = Float32Array.from({ length: 50 }, (_, i) => 1 + i / 50);
  const rng = new Rng(5);
  const r = new Float32Array(5000);
  for (let k = 0; k < r.length; k++) r[k] = 0.005 + 0.12 * rng.uniform();
  r[17] = NaN;
  const oa = new Float32Array(r.length), os = new Float32Array(r.length);
  interpolateBackground(r, radial, avg, std, oa, os);
  // numpy.interp semantics
  const interp = (x: number, ys: Float32Array): number => {
    if (x <= radial[0]) return ys[0];
    if (x >= radial[49]) return ys[49];
    let i = 0;
    while (radial[i + 1] < x) i++;
    const t = (x - radial[i]) / (radial[i + 1] - radial[i]);
    return ys[i] * (1 - t) + ys[i + 1] * t;
  };
  for (let k = 0; k < r.length; k++) {
    if (k === 17) {
      assert.ok(Number.isNaN(oa[k]) && Number.isNaN(os[k]));
      continue;
    }
    assert.ok(Math.abs(oa[k] - interp(r[k], avg)) < 1e-4, `avg at r=${r[k]}: ${oa[k]} vs ${interp(r[k], avg)}`);
    assert.ok(Math.abs(os[k] - interp(r[k], std)) < 1e-5);
  }
  // a radial range leaves pixels outside without background
  interpolateBackground(r, radial, avg, std, oa, os, [0.03, 0.08]);
  for (let k = 0; k < r.length; k++) assert.equal(Number.isNaN(oa[k]), !(r[k] >= 0.03 && r[k] < 0.08));
});

test('densify round-trips: kept pixels exact, the rest is the background (× norm), below the threshold; masked → NaN', () => {
  const f = busyFrame(3);
  const input = inputsOf(f);
  const noise = 0.5, cutoff = 4;
  const sp = sparsify(input, { noise, cutoff_pick: cutoff });
  const dense = densify(sp, f.bgAvg, { norm: f.norm, valid: f.valid });
  const kept = new Set(sp.index);
  let lostAbove = 0;
  for (let k = 0; k < dense.length; k++) {
    if (!f.valid[k] || Number.isNaN(f.bgAvg[k])) {
      assert.ok(Number.isNaN(dense[k]), `masked pixel ${k} densified to ${dense[k]}`);
      continue;
    }
    if (kept.has(k)) assert.equal(dense[k], f.image[k]);
    else {
      assert.ok(Math.abs(dense[k] - f.bgAvg[k] * f.norm[k]) < 1e-4 * (1 + dense[k]));
      // what sparsification dropped was not above the threshold
      const thr = Math.max(noise, cutoff * Math.sqrt(f.bgStd[k] ** 2 + noise ** 2));
      if (f.image[k] / f.norm[k] - f.bgAvg[k] > thr * (1 + 1e-6)) lostAbove++;
    }
  }
  assert.equal(lostAbove, 0);
  // pyFAI's densify: background left in normalised units, rounded for integer frames
  const pyfai = densify(sp, f.bgAvg, { valid: f.valid, round: true, dummy: -1 });
  for (let k = 0; k < pyfai.length; k += 97) {
    if (!f.valid[k] || Number.isNaN(f.bgAvg[k])) assert.equal(pyfai[k], -1);
    else if (!kept.has(k)) assert.equal(pyfai[k], Math.round(f.bgAvg[k]));
  }
  // re-sparsifying the densified frame gives the same pixels (the reconstruction is self-consistent)
  const again = sparsify({ ...input, image: dense }, { noise, cutoff_pick: cutoff });
  assert.deepEqual(Array.from(again.index), Array.from(sp.index));
  const ratio = (f.image.length * 4) / (sp.index.length * 8);
  assert.ok(ratio > 4, `reduction ${ratio.toFixed(1)}×`);
});

test('findPeaks: isolated Gaussian spots on background + Poisson noise: centroids within 0.3 px, intensity within a few %, SNR', () => {
  const rows = 480, cols = 520;
  const rng = new Rng(11);
  const spots: Spot[] = [];
  for (let gy = 0; gy < 8; gy++) {
    for (let gx = 0; gx < 8; gx++) {
      spots.push({ row: 30 + gy * 58 + rng.uniform() * 10, col: 30 + gx * 62 + rng.uniform() * 10, photons: 400 + 3000 * rng.uniform() });
    }
  }
  const normAt = (r: number, c: number): number => 0.7 + 0.3 * Math.cos(r / 400) * Math.cos(c / 500);
  const f = makeFrame({ rows, cols, background: () => 1.5, norm: normAt, spots, sigma: 1, seed: 12 });
  const peaks = findPeaks(inputsOf(f), rows, cols, ESRF);
  assert.equal(peaks.total, spots.length, 'one peak per spot, nothing else');
  let worst = 0, worstPatch = 0, meanTruth = 0;
  for (let i = 0; i < peaks.n; i++) {
    const { spot, dist } = nearest(spots, peaks.x[i], peaks.y[i]);
    assert.ok(spot && dist < 0.3, `peak at (${peaks.x[i]}, ${peaks.y[i]}) is ${dist} px from the nearest spot`);
    worst = Math.max(worst, dist);
    // the definition: Σ over the 5×5 patch of the spot (normalised units); noise: Poisson of spot + background there
    const r = Math.floor(peaks.index[i] / cols), c = peaks.index[i] % cols;
    let expected = 0, variance = 0;
    for (let rr = r - 2; rr <= r + 2; rr++) {
      for (let cc = c - 2; cc <= c + 2; cc++) {
        const k = rr * cols + cc;
        expected += f.spotRaw[k] / f.norm[k];
        variance += (f.spotRaw[k] + f.bgRaw[k]) / f.norm[k] ** 2;
      }
    }
    const rel = Math.abs(peaks.intensity[i] - expected) / expected;
    worstPatch = Math.max(worstPatch, rel);
    assert.ok(Math.abs(peaks.intensity[i] - expected) < 4 * Math.sqrt(variance) + 0.01 * expected, `intensity ${peaks.intensity[i]} vs ${expected} in the patch`);
    // against the whole spot: the 5×5 patch holds 95–98 % of a σ = 1 spot
    const truth = spot!.photons / normAt(spot!.row, spot!.col);
    meanTruth += peaks.intensity[i] / truth / peaks.n;
    const sd = Math.sqrt(variance);
    assert.ok(
      peaks.intensity[i] > 0.945 * truth - 3 * sd && peaks.intensity[i] < 1.01 * truth + 3 * sd,
      `intensity ${peaks.intensity[i]} vs ${truth} for the whole spot`,
    );
    assert.ok(Math.abs(peaks.snr[i] - peaks.intensity[i] / peaks.sigma[i]) < 1e-3 * peaks.snr[i]);
    // σ′² = bg_std² + noise² per pixel, summed over 7..25 positive pixels
    const s2 = 1.5 / normAt(spot!.row, spot!.col) + 0.25;
    assert.ok(peaks.sigma[i] >= Math.sqrt(7 * s2) * 0.9 && peaks.sigma[i] <= Math.sqrt(25 * s2) * 1.1, `sigma ${peaks.sigma[i]}`);
    assert.ok(peaks.snr[i] > 20, `snr ${peaks.snr[i]} for ${truth} photons`);
    assert.ok(peaks.count[i] >= 7 && peaks.count[i] <= 25);
  }
  // sorted by intensity
  for (let i = 1; i < peaks.n; i++) assert.ok(peaks.intensity[i] <= peaks.intensity[i - 1]);
  console.log(
    `  isolated spots: worst centroid error ${worst.toFixed(3)} px, worst |I − patch expectation| ${(worstPatch * 100).toFixed(2)} %, ` +
      `mean I / spot photons ${meanTruth.toFixed(3)}`,
  );
});

test('findPeaks without noise: intensity = Σ of the spot over the patch, centroid = its weighted mean (exact definition)', () => {
  const rows = 60, cols = 60;
  const spots = [{ row: 20.3, col: 30.8, photons: 1000 }];
  const f = makeFrame({ rows, cols, background: () => 2, spots, sigma: 1.2, seed: 1, noiseless: true });
  const peaks = findPeaks(inputsOf(f), rows, cols, { ...ESRF, noise: 0.1 });
  assert.equal(peaks.n, 1);
  const r = Math.floor(peaks.index[0] / cols), c = peaks.index[0] % cols;
  assert.deepEqual([r, c], [20, 31]);
  let sum = 0, sx = 0, sy = 0;
  for (let rr = r - 2; rr <= r + 2; rr++) {
    for (let cc = c - 2; cc <= c + 2; cc++) {
      const v = Math.fround(f.image[rr * cols + cc] - f.bgAvg[rr * cols + cc]);
      if (v > 0) {
        sum += v;
        sx += cc * v;
        sy += rr * v;
      }
    }
  }
  assert.ok(Math.abs(peaks.intensity[0] - sum) < 1e-4 * sum);
  assert.ok(Math.abs(peaks.x[0] - sx / sum) < 1e-4 && Math.abs(peaks.y[0] - sy / sum) < 1e-4);
  assert.ok(Math.abs(peaks.x[0] - 30.8) < 0.06 && Math.abs(peaks.y[0] - 20.3) < 0.06, `truncation bias only: (${peaks.x[0]}, ${peaks.y[0]})`);
  // 5×5 holds 1000·(erf(2.5/(1.2√2)))² ≈ 93 % of a σ = 1.2 spot
  assert.ok(sum > 900 && sum < 960, `patch sum ${sum}`);
  // σ = √Σσ′² with σ′² = 2 + 0.01 over the 25 positive pixels
  assert.ok(Math.abs(peaks.sigma[0] - Math.sqrt(25 * 2.01)) < 1e-3);
});

test('findPeaks agrees with a brute-force reference on busy frames (masks, overlaps, borders, parameters)', () => {
  const f = busyFrame(7, 250);
  const input = inputsOf(f);
  const finder = new PeakFinder(f.rows, f.cols);
  const combos: PeakParams[] = [
    ESRF,
    { ...ESRF, peaks_at_border: true },
    { noise: 1, cutoff_peak: 3, patch_size: 3, connected: 2, max_num_peaks: 100000 },
    { noise: 0.2, cutoff_peak: 2, patch_size: 7, connected: 1, max_num_peaks: 100000, peaks_at_border: true },
    { noise: 0.5, cutoff_peak: 0, patch_size: 5, connected: 12, max_num_peaks: 100000 },
  ];
  for (const p of combos) {
    const got = finder.find(input, p);
    const ref = referencePeaks(input, f.rows, f.cols, p).sort((a, b) => b.intensity - a.intensity || a.index - b.index);
    assert.equal(got.total, ref.length, JSON.stringify(p));
    assert.ok(ref.length > 20, `${ref.length} peaks`);
    for (let i = 0; i < got.n; i++) {
      const r = ref[i];
      assert.equal(got.index[i], r.index);
      assert.ok(Math.abs(got.x[i] - r.x) < 1e-4 && Math.abs(got.y[i] - r.y) < 1e-4);
      assert.ok(Math.abs(got.intensity[i] - r.intensity) < 1e-5 * r.intensity);
      assert.ok(Math.abs(got.sigma[i] - r.sigma) < 1e-5 * r.sigma);
      assert.equal(got.count[i], r.count);
    }
  }
});

test('findPeaks: equal neighbouring maxima give one peak (pyFAI would give two)', () => {
  const rows = 9, cols = 9;
  const image = new Float32Array(rows * cols);
  for (let r = 3; r <= 5; r++) for (let c = 3; c <= 6; c++) image[r * cols + c] = 6;
  image[4 * cols + 4] = 10;
  image[4 * cols + 5] = 10;
  const z = new Float32Array(rows * cols);
  const peaks = findPeaks({ image, norm: null, valid: null, bgAvg: z, bgStd: z }, rows, cols, { noise: 1, cutoff_peak: 3, patch_size: 5, connected: 7, max_num_peaks: 10 });
  assert.equal(peaks.total, 1);
  assert.equal(peaks.index[0], 4 * cols + 4);
  assert.ok(Math.abs(peaks.x[0] - 4.5) < 1e-6 && Math.abs(peaks.y[0] - 4) < 1e-6);
});

test('findPeaks: touching spots stay two peaks (pulled towards each other when their patches overlap); closer ones merge', () => {
  const rows = 64, cols = 64;
  const p = { ...ESRF };
  for (const [gap, bound] of [
    [4.2, 0.3],
    [3.2, 0.7],
  ]) {
    const spots = [{ row: 30.2, col: 30.1, photons: 1500 }, { row: 30.4, col: 30.1 + gap, photons: 1500 }];
    const two = makeFrame({ rows, cols, background: () => 0.5, spots, sigma: 1, seed: 3 });
    const a = findPeaks(inputsOf(two), rows, cols, p);
    assert.equal(a.total, 2, `found ${a.total} at ${gap} px`);
    const errs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { spot, dist } = nearest(spots, a.x[i], a.y[i]);
      errs.push(dist);
      assert.ok(dist < bound, `spots ${gap} px apart: off by ${dist} px`);
      // the bias points to the other spot
      const other = spots.find((s) => s !== spot)!;
      assert.ok(Math.sign(a.x[i] - spot!.col) === Math.sign(other.col - spot!.col) || dist < 0.05);
    }
    console.log(`  spots ${gap} px apart: centroid errors ${errs.map((e) => e.toFixed(3)).join(', ')} px`);
  }
  const merged = makeFrame({ rows, cols, background: () => 0.5, spots: [{ row: 30, col: 30, photons: 1500 }, { row: 30, col: 31.2, photons: 1500 }], sigma: 1, seed: 4 });
  const b = findPeaks(inputsOf(merged), rows, cols, p);
  assert.equal(b.total, 1);
  assert.ok(Math.abs(b.x[0] - 30.6) < 0.3 && Math.abs(b.y[0] - 30) < 0.3, `merged at (${b.x[0]}, ${b.y[0]})`);
  assert.ok(b.intensity[0] > 2400, `merged intensity ${b.intensity[0]}`);
});

test('findPeaks near the border: pyFAI skips maxima closer than patch_size//2; peaks_at_border finds them', () => {
  const rows = 40, cols = 50;
  const spots = [
    { row: 2.1, col: 20.2, photons: 1500 }, // max at row 2 = half patch: found either way
    { row: 0.9, col: 35.1, photons: 1500 }, // max at row 1: border
    { row: 25.3, col: 48.0, photons: 1500 }, // max at col 48 of 0..49: border
  ];
  const f = makeFrame({ rows, cols, background: () => 0.5, spots, sigma: 1, seed: 8 });
  const strict = findPeaks(inputsOf(f), rows, cols, ESRF);
  assert.equal(strict.total, 1);
  assert.ok(nearest([spots[0]], strict.x[0], strict.y[0]).dist < 0.3);
  const loose = findPeaks(inputsOf(f), rows, cols, { ...ESRF, peaks_at_border: true });
  assert.equal(loose.total, 3);
  const errs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { dist } = nearest(spots, loose.x[i], loose.y[i]);
    errs.push(dist);
    // photons beyond the border are lost and the patch is cut: centroid pulled inwards by ~0.1 px
    assert.ok(dist < 0.3, `border peak ${dist} px off`);
  }
  console.log(`  border spots: centroid errors ${errs.map((e) => e.toFixed(3)).join(', ')} px`);
});

test('findPeaks with masked pixels: masked pixels are neutral; a masked hot pixel is no peak; a spot with its maximum masked is still found', () => {
  const rows = 50, cols = 50;
  const spots = [{ row: 15.2, col: 15.1, photons: 2000 }, { row: 35, col: 30.4, photons: 2000 }];
  const f = makeFrame({ rows, cols, background: () => 1, spots, sigma: 1, seed: 9 });
  f.image[40 * cols + 10] = 1e6; // hot pixel …
  f.valid[40 * cols + 10] = 0; // … masked
  for (let r = 30; r < 40; r++) f.valid[r * cols + 32] = 0; // a masked column through the second spot's patch
  f.valid[34 * cols + 30] = 0; // and a pixel next to its maximum
  const near = findPeaks(inputsOf(f), rows, cols, ESRF);
  assert.equal(near.total, 2);
  for (let i = 0; i < 2; i++) {
    const { dist } = nearest(spots, near.x[i], near.y[i]);
    assert.ok(dist < 0.3, `peak with masked pixels in its patch ${dist} px off`);
  }
  // the first spot's brightest pixel masked: the peak moves to a neighbour, its patch loses the centre
  f.valid[15 * cols + 15] = 0;
  const peaks = findPeaks(inputsOf(f), rows, cols, ESRF);
  assert.equal(peaks.total, 2);
  const errs: number[] = [];
  for (let i = 0; i < 2; i++) {
    const { dist } = nearest(spots, peaks.x[i], peaks.y[i]);
    errs.push(dist);
    assert.ok(dist < 0.6, `masked-maximum peak ${dist} px off`);
    assert.notEqual(f.valid[peaks.index[i]], 0);
  }
  console.log(`  masked maximum: centroid errors ${errs.map((e) => e.toFixed(3)).join(', ')} px`);
  // without the mask the hot pixel is high but alone: not a peak (connected 7) …
  f.valid.fill(1);
  const unmasked = findPeaks(inputsOf(f), rows, cols, ESRF);
  assert.equal(unmasked.total, 2);
  // … unless one high pixel is enough
  const one = findPeaks(inputsOf(f), rows, cols, { ...ESRF, connected: 1 });
  assert.equal(one.index[0], 40 * cols + 10, 'the hot pixel is the most intense');
});

test('findPeaks caps at max_num_peaks keeping the most intense, and counts all', () => {
  const f = busyFrame(21, 200);
  const all = findPeaks(inputsOf(f), f.rows, f.cols, ESRF);
  const capped = findPeaks(inputsOf(f), f.rows, f.cols, { ...ESRF, max_num_peaks: 10 });
  assert.ok(all.total > 30);
  assert.equal(capped.total, all.total);
  assert.equal(capped.n, 10);
  assert.deepEqual(Array.from(capped.index), Array.from(all.index.slice(0, 10)));
  assert.deepEqual(Array.from(capped.intensity), Array.from(all.intensity.slice(0, 10)));
});

test('hit decision and accumulators: receivers’ partial sums combine to the sum of all frames', () => {
  assert.equal(isHit(20, 20), true);
  assert.equal(isHit(19, 20), false);
  const size = 1000;
  const rng = new Rng(2);
  const frames = Array.from({ length: 9 }, () => Float32Array.from({ length: size }, () => rng.poisson(3)));
  const valid = Uint8Array.from({ length: size }, (_, k) => (k % 17 === 0 ? 0 : 1));
  frames[4][5] = NaN;
  const recv = [new SumImage(size), new SumImage(size), new SumImage(size)];
  frames.forEach((fr, i) => recv[i % 3].addImage(fr, valid));
  const total = combineSum(recv.map((r) => r.partial()));
  for (let k = 0; k < size; k++) {
    let s = 0;
    for (const fr of frames) if (valid[k] && Number.isFinite(fr[k])) s += fr[k];
    assert.equal(total[k], s);
  }
  assert.deepEqual(recv.map((r) => r.frames), [3, 3, 3]);
  // peaks at their nearest pixel
  const acc = new SumImage(20 * 30);
  const peaks = findPeaks(
    inputsOf(makeFrame({ rows: 20, cols: 30, background: () => 0.2, spots: [{ row: 9.6, col: 12.4, photons: 800 }], sigma: 1, seed: 3 })),
    20,
    30,
    ESRF,
  );
  acc.addPeaks(peaks, 30);
  acc.addPeaks(peaks, 30);
  const snap = acc.partial();
  assert.ok(Math.abs(snap[10 * 30 + 12] - 2 * peaks.intensity[0]) < 1e-3 * snap[10 * 30 + 12]);
  assert.equal(snap.reduce((a, x) => a + (x !== 0 ? 1 : 0), 0), 1);
});
