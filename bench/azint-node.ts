/**
 * Node side of bench/azint.py: times daqlab's azimuthal-integration engine
 * on an image written by the Python side, and prints one JSON object.
 *
 *   node bench/dist/azint-node.js CONFIG.json
 *
 * CONFIG: {image, dtype, shape, pixel: [p1, p2], poni: {...}, npt, unit,
 *          dummy, delta_dummy, repeat, cases: [{method, error_model, kind}]}
 * kind: "integrate1d" (default) or "sigma_clip" (cycle/cutoff_clip/error_model).
 * Per case: build time, then per-frame times (min and median of `repeat`
 * runs after a warm-up), and the result (intensity / background average)
 * so that the Python side can compare it with pyFAI's.
 * `throughput: {workers, frames, cases}`: also integrate with `workers`
 * worker threads at once (each its own integrator, as the server's
 * receivers do), `frames` frames each, and report frames/s.
 */
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

type Azint = typeof import('../daq-server/dist/src/processing/azint/index.js');
type Geom = typeof import('../daq-server/dist/src/detectors/geometry/pyfai-geometry.js');

interface Case {
  method: 'no' | 'bbox';
  error_model: 'poisson' | 'azimuthal' | null;
  kind?: 'integrate1d' | 'sigma_clip';
  cycle?: number;
  cutoff_clip?: number;
}

interface Config {
  image: string;
  dtype: 'uint32' | 'uint16' | 'float32';
  shape: [number, number];
  pixel: [number, number];
  poni: { dist: number; poni1: number; poni2: number; rot1: number; rot2: number; rot3: number; wavelength: number };
  npt: number;
  unit: string;
  dummy: number | null;
  delta_dummy: number | null;
  repeat: number;
  cases: Case[];
  throughput?: { workers: number; frames: number; cases: Case[] };
}

function timeIt(fn: () => void, repeat: number): { min: number; median: number } {
  for (let i = 0; i < 3; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { min: t[0], median: t[Math.floor(t.length / 2)] };
}

async function load(cfg: Config) {
  // the engine is imported from the daq-server build next to this workspace (bench/dist → ../../daq-server)
  const azint = (await import(new URL('../../daq-server/dist/src/processing/azint/index.js', import.meta.url).href)) as Azint;
  const geom = (await import(new URL('../../daq-server/dist/src/detectors/geometry/pyfai-geometry.js', import.meta.url).href)) as Geom;
  const buf = readFileSync(cfg.image);
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const image = cfg.dtype === 'uint32' ? new Uint32Array(bytes) : cfg.dtype === 'uint16' ? new Uint16Array(bytes) : new Float32Array(bytes);
  const g = geom.PyFAIGeometry.forDetector(cfg.poni, cfg.shape, cfg.pixel);
  return { azint, image, g };
}

/** Worker side of the throughput run: build, say ready, integrate `frames` frames on "go", report the time. */
async function worker(): Promise<void> {
  const { cfg, c, frames } = workerData as { cfg: Config; c: Case; frames: number };
  const { azint, image, g } = await load(cfg);
  const integ = new azint.Integrator(g, { npt: cfg.npt, unit: cfg.unit as never, method: c.method, dummy: cfg.dummy, deltaDummy: cfg.delta_dummy });
  const clip = c.kind === 'sigma_clip' ? new azint.SigmaClipper(integ, { cycle: c.cycle ?? 5, cutoff: c.cutoff_clip ?? 0, errorModel: c.error_model ?? 'poisson' }) : null;
  const once = (): void => {
    if (clip) clip.clip(image);
    else integ.integrate1d(image, { errorModel: c.error_model });
  };
  for (let i = 0; i < 3; i++) once();
  parentPort!.postMessage('ready');
  parentPort!.once('message', () => {
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) once();
    parentPort!.postMessage(performance.now() - t0);
  });
}

async function throughput(cfg: Config, c: Case, workers: number, frames: number): Promise<number> {
  const ws = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), { workerData: { cfg, c, frames } }));
  await Promise.all(ws.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const done = ws.map((w) => new Promise<number>((resolve) => w.once('message', resolve)));
  const t0 = performance.now();
  for (const w of ws) w.postMessage('go');
  await Promise.all(done);
  const wall = performance.now() - t0;
  await Promise.all(ws.map((w) => w.terminate()));
  return (workers * frames) / (wall / 1000);
}

async function main(): Promise<void> {
  const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Config;
  const { azint, image, g } = await load(cfg);
  const out: Record<string, unknown>[] = [];
  const integrators = new Map<string, InstanceType<Azint['Integrator']>>();
  for (const c of cfg.cases) {
    const t0 = performance.now();
    let integ = integrators.get(c.method);
    if (!integ) {
      integ = new azint.Integrator(g, { npt: cfg.npt, unit: cfg.unit as never, method: c.method, dummy: cfg.dummy, deltaDummy: cfg.delta_dummy });
      integrators.set(c.method, integ);
    }
    const it = integ;
    if (c.kind === 'sigma_clip') {
      const clip = new azint.SigmaClipper(it, { cycle: c.cycle ?? 5, cutoff: c.cutoff_clip ?? 0, errorModel: c.error_model ?? 'poisson' });
      const build = performance.now() - t0;
      const t = timeIt(() => clip.clip(image), cfg.repeat);
      const r = clip.clip(image);
      out.push({ ...c, build_ms: build, min_ms: t.min, median_ms: t.median, intensity: Array.from(r.average), std: Array.from(r.std), count: Array.from(r.count) });
    } else {
      const build = performance.now() - t0;
      const t = timeIt(() => it.integrate1d(image, { errorModel: c.error_model }), cfg.repeat);
      const r = it.integrate1d(image, { errorModel: c.error_model });
      out.push({ ...c, build_ms: build, min_ms: t.min, median_ms: t.median, radial: Array.from(r.radial), intensity: Array.from(r.intensity), sigma: r.sigma ? Array.from(r.sigma) : null, count: Array.from(r.count) });
    }
  }
  const rates: Record<string, unknown>[] = [];
  if (cfg.throughput) {
    integrators.clear(); // free the memory of the single-thread cases
    for (const c of cfg.throughput.cases) {
      const fps1 = await throughput(cfg, c, 1, cfg.throughput.frames);
      const fpsN = await throughput(cfg, c, cfg.throughput.workers, cfg.throughput.frames);
      rates.push({ ...c, workers: cfg.throughput.workers, fps_1: fps1, fps_n: fpsN });
    }
  }
  process.stdout.write(JSON.stringify({ node: process.version, cases: out, throughput: rates }) + '\n');
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  worker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
