/** q-ring ROIs and the `xpcs` step: geometry, parameter checks, streams, and g2 of the simulator's xpcs scene. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulatorPlugins } from '../../src/detectors/sim/index.js';
import type { SimRun } from '../../src/detectors/sim/run.js';
import { PyFAIGeometry } from '../../src/detectors/geometry/pyfai-geometry.js';
import type { FrameContext, ImageSpec, StepEnvironment } from '../../src/processing/types.js';
import type { TypedArray } from '../../src/protocol/index.js';
import { buildQRings, xpcsStep, XpcsStep, type QRings } from '../../src/processing/xpcs/index.js';

async function openSim(name: string, config: Record<string, unknown>): Promise<SimRun> {
  const p = simulatorPlugins().find((x) => x.name === name);
  if (!p) throw new Error(`no simulator ${name}`);
  return (await p.open(config)) as SimRun;
}

const EIGER500K: ImageSpec = { dtype: 'uint32', shape: [514, 1030], pixelSize: [75e-6, 75e-6], dummy: 4294967295 };

/** The environment a step gets for a simulator run. */
const envOf = (run: SimRun, maps: StepEnvironment['maps'] = {}): StepEnvironment => ({ detector: run.describe(), maps });

function ctxOf(index: number, image: TypedArray, valid = true, events: Record<string, unknown>[] = []): FrameContext {
  return {
    index,
    receiver: 0,
    valid,
    image,
    vars: new Map(),
    veto: false,
    emit(stream, item) {
      assert.equal(stream, 'fill_factor');
      events.push(item as Record<string, unknown>);
    },
  };
}

test('q rings: labels follow the pixel q of the simulator geometry; mask and nb_rings/q_range', async () => {
  const run = await openSim('sim-eiger-500k', { scene: 'xpcs' });
  const env = envOf(run);
  const r = buildQRings({ q_rings: [[2, 3], [5, 5.5], [3, 4]] }, EIGER500K, env) as QRings;
  assert.ok(!('errors' in r));
  const g = run.describe().geometry as { dist: number; poni1: number; poni2: number; wavelength: number };
  const geo = PyFAIGeometry.forDetector({ ...g, rot1: 0, rot2: 0, rot3: 0 }, [514, 1030], [75e-6, 75e-6]);
  const q = geo.q();
  const counts = [0, 0, 0];
  for (let k = 0; k < q.length; k++) {
    const want = q[k] >= 2 && q[k] < 3 ? 0 : q[k] >= 5 && q[k] < 5.5 ? 1 : q[k] >= 3 && q[k] < 4 ? 2 : -1;
    assert.equal(r.labels[k], want, `pixel ${k}, q ${q[k]}`);
    if (want >= 0) counts[want]++;
  }
  assert.deepEqual(Array.from(r.counts), counts);
  assert.ok(r.meanQ[0] > 2 && r.meanQ[0] < 3 && r.meanQ[2] > 3 && r.meanQ[2] < 4);
  assert.deepEqual(Array.from(r.centres), [2.5, 5.25, 3.5]);
  // a mask removes pixels (non-zero = masked)
  const mask = new Uint8Array(514 * 1030);
  for (let k = 0; k < mask.length; k += 2) mask[k] = 1;
  const rm = buildQRings({ q_rings: [[2, 3]] }, EIGER500K, envOf(run, { mask: { dtype: 'uint8', shape: [514, 1030], data: mask } })) as QRings;
  assert.ok(Math.abs(rm.counts[0] - counts[0] / 2) <= 2);
  for (let k = 0; k < mask.length; k += 2) assert.equal(rm.labels[k], -1);
  // equal rings over q_range, and over the whole range by default
  const eq = buildQRings({ nb_rings: 4, q_range: [2, 6] }, EIGER500K, env) as QRings;
  assert.deepEqual(eq.edges, [[2, 3], [3, 4], [4, 5], [5, 6]]);
  assert.equal(eq.counts[0], counts[0]);
  const all = buildQRings({ nb_rings: 5 }, EIGER500K, env) as QRings;
  assert.equal(all.counts.reduce((a, b) => a + b, 0), 514 * 1030, 'default rings cover every pixel');
  assert.ok(all.range[0] < 0.05 && all.range[1] > 30);
  // other units
  const mm = buildQRings({ q_rings: [[5, 10]], unit: 'r_mm' }, EIGER500K, env) as QRings;
  const rr = geo.r();
  let n = 0;
  for (let k = 0; k < rr.length; k++) if (rr[k] >= 5e-3 && rr[k] < 10e-3) n++;
  assert.equal(mm.counts[0], n);
  run.close();
});

test('check: rings outside the q range, empty, overlapping, missing geometry, memory — errors name the field', async () => {
  const run = await openSim('sim-eiger-500k', { scene: 'xpcs' });
  const env = envOf(run);
  const errs = (p: Record<string, unknown>, e: StepEnvironment = env, input: ImageSpec = EIGER500K) => xpcsStep.check!(p as never, input, e);
  assert.deepEqual(errs({ q_rings: [[2, 3], [3, 4]] }), []);
  const out = errs({ q_rings: [[2, 3], [3, 4], [50, 60]] });
  assert.equal(out.length, 1);
  assert.equal(out[0].field, 'q_rings[2]');
  assert.match(out[0].message, /outside the detector's range \[0\.0\d+, 30\.\d+\] q_nm\^-1/);
  // a ring between two pixels' q: inside the range but empty
  const empty = errs({ q_rings: [[0.05, 0.09]] }); // between the 4 pixels around the beam (q 0.042) and the next 8 (q 0.093)
  assert.equal(empty[0].field, 'q_rings[0]');
  assert.match(empty[0].message, /no valid pixel/);
  // masked ring
  const mask = new Uint8Array(514 * 1030).fill(1);
  const masked = errs({ q_rings: [[2, 3]] }, envOf(run, { mask: { dtype: 'uint8', shape: [514, 1030], data: mask } }));
  assert.equal(masked[0].field, 'q_rings');
  assert.deepEqual(errs({ q_rings: [[2, 3], [2.5, 4]] }).map((e) => e.field), ['q_rings[1]']);
  assert.deepEqual(errs({ q_rings: [[3, 2]] }).map((e) => e.field), ['q_rings[0]']);
  assert.deepEqual(errs({ q_rings: null, nb_rings: 4, q_range: [40, 50] }).map((e) => e.field), ['q_range', 'q_range', 'q_range', 'q_range']);
  assert.deepEqual(errs({ q_rings: [[2, 3]], m: 15 }).map((e) => e.field), ['m']);
  // no geometry anywhere
  const none = errs({ q_rings: [[2, 3]] }, { detector: {}, maps: {} });
  assert.equal(none[0].field, 'poni');
  // explicit poni (object, then .poni text) works without a detector description
  const poni = { dist: 0.08, poni1: 0.019275, poni2: 0.038625, wavelength: 1e-10 };
  assert.deepEqual(errs({ q_rings: [[2, 3]], poni }, { detector: {}, maps: {} }), []);
  assert.deepEqual(errs({ q_rings: [[2, 3]] }, { detector: { poni: run.describe().poni }, maps: {} }), []);
  // q needs a wavelength; r does not
  assert.equal(errs({ q_rings: [[2, 3]], poni: { dist: 0.08, poni1: 0.01, poni2: 0.01 } }, { detector: {}, maps: {} })[0].field, 'poni');
  assert.deepEqual(errs({ q_rings: [[2, 3]], unit: 'r_mm', poni: { dist: 0.08, poni1: 0.01, poni2: 0.01 } }, { detector: {}, maps: {} }), []);
  // a cropped image does not match the detector geometry
  assert.equal(errs({ q_rings: [[2, 3]] }, env, { ...EIGER500K, shape: [256, 256] })[0].field, 'poni');
  // binned 2×2: same area, geometry still valid
  assert.deepEqual(errs({ q_rings: [[2, 3]] }, env, { ...EIGER500K, shape: [257, 515], pixelSize: [150e-6, 150e-6] }), []);
  assert.equal(errs({ q_rings: [[2, 3]] }, env, { ...EIGER500K, shape: [8, 514, 1030] })[0].field, 'input');
  // memory limit
  const big = errs({ q_rings: null, nb_rings: 2, max_memory_mb: 100 });
  assert.deepEqual(big.map((e) => e.field), ['nb_rings', 'm', 'levels']);
  assert.match(big[0].message, /correlator [0-9.]+ [MG]iB.*more than the limit of 100 MiB \(max_memory_mb\)/);
  assert.throws(() => xpcsStep.create({ q_rings: [[50, 60]] } as never, EIGER500K, env), /q_rings\[0\]/);
  run.close();
});

test('step: streams, statics, fill factor events, snapshots every update_every frames, gaps', async () => {
  const run = await openSim('sim-eiger-500k', { scene: 'xpcs', pool_size: 8 });
  const env = { detector: { ...run.describe(), frame_period: 0.002 }, maps: {} };
  const b = xpcsStep.create({ q_rings: [[2, 3], [3, 4]], m: 8, levels: 4, update_every: 5 } as never, EIGER500K, env);
  const step = b.step as XpcsStep;
  assert.deepEqual(b.output, EIGER500K);
  const byName = Object.fromEntries(b.streams.map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(byName).sort(), ['fill_factor', 'g2', 'g2_err', 'q', 'tau']);
  assert.deepEqual(byName.g2.shape, [2, 8 + 3 * 4]);
  assert.equal(byName.g2.cadence, 'accumulated');
  assert.equal(byName.tau.cadence, 'static');
  assert.equal(byName.fill_factor.kind, 'event');
  assert.deepEqual(Array.from(b.statics!.tau as Float64Array).slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 10, 12]);
  assert.deepEqual(Array.from(b.statics!.q as Float64Array), [2.5, 3.5]);
  assert.equal((byName.tau.info!.tau_s as number[])[9], 0.024);
  const events: Record<string, unknown>[] = [];
  assert.ok(step.partial!().g2.every((v) => Number.isNaN(v)), 'no snapshot yet');
  const want: number[] = [];
  const labels = step.rings.labels;
  for (let i = 0; i < 12; i++) {
    const f = run.frame(i);
    step.process(ctxOf(i, f.data, i !== 7, events));
    let nz = 0, n = 0;
    for (let k = 0; k < labels.length; k++) if (labels[k] >= 0) {
      n++;
      if (f.data[k] !== 0) nz++;
    }
    if (i !== 7) want.push(nz / n);
  }
  assert.deepEqual(events.map((e) => e.frame_idx), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
  // default xpcs_intensity (2 photons at q → 0): a sparse regime, 0.1–0.4 photons per pixel in these rings
  assert.deepEqual(events.map((e) => e.fill_factor), want);
  assert.ok(want.every((f) => f > 0.02 && f < 0.6), `fill factors ${want}`);
  // snapshot after frame 9 (10 frames): frames 10, 11 not in it yet
  assert.equal(step.snapshot()!.nframes, 10);
  assert.equal(step.snapshot()!.nvalid, 9);
  const fin = step.finish();
  assert.equal(fin.nframes, 12);
  assert.deepEqual(step.partial!().g2, fin.g2);
  assert.ok(Number.isFinite(fin.g2[0]) && Number.isNaN(fin.g2[19]));
  run.close();
});

/**
 * The simulator's field: A(i) = cos(πf/2)·K_n + sin(πf/2)·K_{n+1}, n = ⌊i/τ⌋, f = i/τ − n,
 * so g1(i, j) = Σ_n w_n(i)·w_n(j); the multi-tau value at level l, lag k is
 * 1 + β·⟨g1²⟩ over the frame pairs of two 2^l-frame blocks k blocks apart,
 * averaged over block positions.
 */
function simTheory(tauC: number, level: number, k: number): number {
  const w = (i: number): [number, number, number] => {
    const n = Math.floor(i / tauC), f = i / tauC - n;
    return [n, Math.cos((Math.PI / 2) * f), Math.sin((Math.PI / 2) * f)];
  };
  const g1 = (i: number, j: number): number => {
    const [n1, a1, b1] = w(i), [n2, a2, b2] = w(j);
    if (n1 === n2) return a1 * a2 + b1 * b2;
    if (n2 === n1 + 1) return b1 * a2;
    return 0;
  };
  const B = 2 ** level;
  let sum = 0, cnt = 0;
  for (let s = 0; s < 4 * tauC; s++) {
    const a0 = s * B, b0 = (s + k) * B;
    for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) {
      sum += g1(a0 + i, b0 + j) ** 2;
      cnt++;
    }
  }
  // the ratio of block averages: numerator = mean of I_i·I_j over the pairs
  return sum / cnt;
}

test('simulator xpcs scene: g2 starts near 1 + β and decays to ≈ 1 by lag ≈ correlation_frames', async () => {
  const tauC = 8, beta = 0.8, T = 256;
  const run = await openSim('sim-eiger-500k', {
    scene: 'xpcs',
    correlation_frames: tauC,
    contrast: beta,
    xpcs_intensity: 3000,
    background: 0,
    pool_size: T,
  });
  await run.prefill!();
  const env = envOf(run);
  const m = 16, levels = 4;
  const b = xpcsStep.create({ q_rings: [[1.5, 2.5], [2.5, 4], [4, 6]], m, levels, update_every: 64 } as never, EIGER500K, env);
  const step = b.step as XpcsStep;
  const t0 = performance.now();
  for (let i = 0; i < T; i++) step.process(ctxOf(i, run.frame(i).data));
  const dt = performance.now() - t0;
  const s = step.finish();
  console.log(`simulator xpcs: ${step.correlator.pixelCount} ring pixels, ${(T / (dt / 1000)).toFixed(0)} frames/s`);
  const lagLevel = (i: number): [number, number] => (i < m ? [0, i + 1] : [1 + Math.floor((i - m) / (m / 2)), m / 2 + 1 + ((i - m) % (m / 2))]);
  for (let r = 0; r < 3; r++) {
    const row = s.g2.subarray(r * s.nTau, (r + 1) * s.nTau);
    // decorrelated from 2τc on: the baseline. Per-pixel normalisation over a finite run puts it slightly below 1
    // (the per-pixel mean fluctuates by ≈ β·τc/T, depending on the overlap T − τ): model g2 = baseline + β_eff·⟨g1²⟩
    // for τ ≤ T/4, where the overlap is nearly the whole run.
    const tail: number[] = [];
    for (let i = 0; i < s.nTau; i++) if (s.tau[i] >= 2 * tauC + 4 && s.tau[i] <= T / 4) tail.push(row[i]);
    assert.ok(tail.length >= 10);
    const baseline = tail.reduce((a, v) => a + v, 0) / tail.length;
    assert.ok(Math.abs(baseline - 1) < 0.04, `baseline ${baseline}`);
    for (const v of tail) assert.ok(Math.abs(v - baseline) < 0.012, `tail ${v} vs baseline ${baseline}`);
    const betaEff = (row[0] - baseline) / simTheory(tauC, 0, 1);
    const lines: string[] = [];
    for (let i = 0; i < s.nTau; i++) {
      const [l, k] = lagLevel(i);
      if (s.tau[i] > T / 4) {
        assert.ok(Math.abs(row[i] - 1) < 0.04, `ring ${r} τ=${s.tau[i]}: g2 ${row[i]}`);
        continue;
      }
      const want = baseline + betaEff * simTheory(tauC, l, k);
      lines.push(`${s.tau[i]}:${row[i].toFixed(3)}/${want.toFixed(3)}`);
      assert.ok(Math.abs(row[i] - want) < 0.03, `ring ${r} τ=${s.tau[i]}: g2 ${row[i]}, model ${want}`);
    }
    console.log(`ring ${r} (q ${(b.statics!.q as Float64Array)[r]} nm⁻¹): baseline ${baseline.toFixed(3)}, β_eff ${betaEff.toFixed(3)}; τ:g2/model ${lines.slice(0, 20).join(' ')}`);
    // contrast close to the configured β (4-pixel speckles are resolved)
    assert.ok(betaEff > 0.75 * beta && betaEff < 1.05 * beta, `β_eff ${betaEff}`);
    // decayed by τ ≈ correlation time: g2(τc) − 1 is ~1/8 of g2(1) − 1
    assert.ok(row[tauC - 1] - baseline < 0.2 * (row[0] - baseline), `g2(τc) ${row[tauC - 1]}`);
  }
  run.close();
});
