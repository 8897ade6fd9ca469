/**
 * Shared helpers of the azimuthal-integration tests: the pyFAI reference
 * runner (test/azint/pyfai_ref.py in the project venv — a missing python
 * or pyFAI fails the test, it is never skipped), simulated images, and
 * comparisons.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../../src/protocol/index.js';
import { dtypeOf } from '../../src/protocol/index.js';
import { PyFAIGeometry, type PoniParameters } from '../../src/detectors/geometry/pyfai-geometry.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
export const PYFAI_REF = join(REPO_ROOT, 'daq-server', 'test', 'azint', 'pyfai_ref.py');

export interface Setup {
  shape: [number, number];
  pixel: [number, number];
  poni: PoniParameters;
}

export const geometryOf = (s: Setup): PyFAIGeometry => PyFAIGeometry.forDetector(s.poni, s.shape, s.pixel);

/** A pyFAI job: named arrays (written as raw files) and operations. */
export interface PyfaiJob {
  setup: Setup;
  arrays: Record<string, TypedArray>;
  ops: Record<string, unknown>[];
}

export interface PyfaiOutput {
  version: string;
  results: Record<string, Record<string, unknown>>;
  /** directory of the job (files written by "arrays"/"csr" ops live here until `cleanup`) */
  dir: string;
  cleanup(): void;
}

/** Run pyFAI on a job; `files(dir)` lets ops name output files inside the job directory. */
export function runPyfai(job: PyfaiJob | ((dir: string) => PyfaiJob)): PyfaiOutput {
  assert.ok(existsSync(PYTHON), `python interpreter missing: ${PYTHON} (the cross-checks need the project venv with pyFAI)`);
  assert.ok(existsSync(PYFAI_REF), `reference script missing: ${PYFAI_REF}`);
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-azint-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const j = typeof job === 'function' ? job(dir) : job;
    const arrays: Record<string, { file: string; dtype: string }> = {};
    for (const [name, a] of Object.entries(j.arrays)) {
      const file = join(dir, `${name}.bin`);
      writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      arrays[name] = { file, dtype: dtypeOf(a) };
    }
    const spec = {
      detector: { pixel1: j.setup.pixel[0], pixel2: j.setup.pixel[1], shape: j.setup.shape },
      poni: j.setup.poni,
      arrays,
      ops: j.ops,
    };
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(spec));
    // one OpenMP thread: pyFAI's bbox sigma clipping depends on the thread count (bins share pixels)
    const env = { ...process.env, OMP_NUM_THREADS: '1' };
    const res = spawnSync(PYTHON, [PYFAI_REF, jobFile], { encoding: 'utf8', maxBuffer: 1 << 28, env });
    assert.equal(res.error, undefined, `could not run ${PYTHON}: ${res.error}`);
    assert.equal(res.status, 0, `pyFAI reference failed (status ${res.status}):\n${res.stdout.slice(-2000)}\n${res.stderr.slice(-4000)}`);
    const parsed = JSON.parse(res.stdout.trim().split('\n').pop()!) as { pyfai_version: string; results: PyfaiOutput['results'] };
    return { version: parsed.pyfai_version, results: parsed.results, dir, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

export const readF64 = (path: string): Float64Array => {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
export const readI32 = (path: string): Int32Array => {
  const b = readFileSync(path);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
export const readF32 = (path: string): Float32Array => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

import { rng } from '../rng.js';
export { rng };

/** Poisson deviate (Knuth below 30, rounded normal above). */
export function poisson(lambda: number, u: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    const L = Math.exp(-lambda);
    let k = 0, p = 1;
    do {
      k++;
      p *= u();
    } while (p > L);
    return k - 1;
  }
  const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
}

/**
 * Powder image: Gaussian rings in 2θ on a smooth background, scaled by
 * the solid angle and polarization like a real detector, with Poisson noise.
 */
export function powderImage(g: PyFAIGeometry, o: { seed: number; rings?: { tth: number; width: number; height: number }[]; background?: number; polarization?: number }): Float32Array {
  const tth = g.tth(), sa = g.solidAngle();
  const pol = g.polarization(o.polarization ?? 0.95);
  const u = rng(o.seed);
  const rings = o.rings ?? [
    { tth: 0.08, width: 0.002, height: 400 },
    { tth: 0.14, width: 0.003, height: 250 },
    { tth: 0.21, width: 0.0025, height: 600 },
  ];
  const bg = o.background ?? 50;
  const out = new Float32Array(g.count);
  for (let k = 0; k < out.length; k++) {
    let v = bg * (1 + 0.5 * Math.exp(-tth[k] / 0.1));
    for (const r of rings) v += r.height * Math.exp(-0.5 * ((tth[k] - r.tth) / r.width) ** 2);
    out[k] = poisson(v * sa[k] * pol[k], u);
  }
  return out;
}

/** Crystallography frame: smooth radial background with Poisson noise plus bright Gaussian spots. */
export function braggImage(g: PyFAIGeometry, o: { seed: number; spots?: number; background?: number }): Float32Array {
  const tth = g.tth(), sa = g.solidAngle();
  const [rows, cols] = g.pixels.shape!;
  const u = rng(o.seed);
  const bg = o.background ?? 20;
  const out = new Float32Array(g.count);
  for (let k = 0; k < out.length; k++) out[k] = poisson(bg * (1 + 2 * Math.exp(-tth[k] / 0.05)) * sa[k], u);
  const n = o.spots ?? 150;
  for (let s = 0; s < n; s++) {
    const ci = u() * rows, cj = u() * cols, h = 200 + 3000 * u(), w = 0.7 + 0.8 * u();
    for (let i = Math.max(0, Math.floor(ci - 4)); i < Math.min(rows, Math.ceil(ci + 4)); i++) {
      for (let j = Math.max(0, Math.floor(cj - 4)); j < Math.min(cols, Math.ceil(cj + 4)); j++) {
        out[i * cols + j] += Math.round(h * Math.exp(-0.5 * (((i + 0.5 - ci) / w) ** 2 + ((j + 0.5 - cj) / w) ** 2)));
      }
    }
  }
  return out;
}

/** Largest relative difference |a − b| / |b| over the indices `where` accepts (b ≠ 0). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, where: (i: number) => boolean = () => true): { max: number; at: number } {
  assert.equal(a.length, b.length, 'array lengths differ');
  let max = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    if (!where(i)) continue;
    const d = b[i] === 0 ? Math.abs(a[i]) : Math.abs(a[i] - b[i]) / Math.abs(b[i]);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

export const asNumbers = (x: unknown): number[] => x as number[];
