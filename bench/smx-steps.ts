/**
 * The smx pipeline on Jungfrau 4M frames step by step, in this thread: ms per
 * frame for each step of the chain (jungfrau_correction, mask, sigma_clip,
 * sparsify, peakfinder, accumulate_corrected), median over the frames after
 * a warm-up, with a plain copy of the assembled image (17 MiB) timed in the
 * same run as a reference for the machine's state. Times are CPU time (see cpuMs). Same scene as
 * bench/pipelines.ts (serial crystallography, hit rate 0.3).
 *
 *   node bench/dist/smx-steps.js [--frames 60]
 */
import type * as SimModule from '../daq-server/dist/src/detectors/sim/index.js';
import type * as SetupModule from '../daq-server/dist/src/processing/setup.js';
import type * as ChainModule from '../daq-server/dist/src/processing/chain.js';
import type * as RegistryModule from '../daq-server/dist/src/processing/registry.js';
import type * as ValidateModule from '../daq-server/dist/src/control/validate.js';
import type * as ClipModule from '../daq-server/dist/src/processing/azint/sigma-clip.js';
import type * as AccModule from '../daq-server/dist/src/processing/smx/accumulate.js';

const SRC = new URL('../../daq-server/dist/src/', import.meta.url);
const sim = (await import(new URL('detectors/sim/index.js', SRC).href)) as typeof SimModule;
const setup = (await import(new URL('processing/setup.js', SRC).href)) as typeof SetupModule;
const chainMod = (await import(new URL('processing/chain.js', SRC).href)) as typeof ChainModule;
const reg = (await import(new URL('processing/registry.js', SRC).href)) as typeof RegistryModule;
const val = (await import(new URL('control/validate.js', SRC).href)) as typeof ValidateModule;
const clipMod = (await import(new URL('processing/azint/sigma-clip.js', SRC).href)) as typeof ClipModule;
const accMod = (await import(new URL('processing/smx/accumulate.js', SRC).href)) as typeof AccModule;

const arg = (name: string, def: number): number => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : def;
};
const FRAMES = arg('frames', 60);
/**
 * CPU time of the process in ms: on a shared machine wall time counts the
 * time other jobs hold the core; the chain runs in this thread and the
 * simulator's threads are idle once their pool is filled, so this is the chain's own time.
 */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const WARM = 8;

const plugin = sim.simulatorPlugins().find((p) => p.name === 'sim-jungfrau-4m')!;
const config = val.validate(plugin.configSchema(), { scene: 'serial_crystallography', seed: 1, hit_rate: 0.3, spots_per_hit: 40, spot_intensity: 600, pool_size: 16 }, 'detector');
const run = await plugin.open(config);
await run.prefill?.();
const info = plugin.info();
const input = { dtype: run.dtype, shape: run.shape, pixelSize: info.pixel_size, dummy: info.dummy };
const registry = await reg.registryWith([]);
const { plan, errors } = setup.planProcessing({ pipeline: 'smx', npt: 500, keep_frames: false }, input, registry);
if (!plan) throw new Error(JSON.stringify(errors));
const env = await setup.stepEnvironment(plan, plugin, run);
const BEFORE = process.argv.includes('--before');
let before = false;
if (BEFORE) {
  // the replaced algorithms, switched on while the reference chain runs
  type Any = Record<string, (...a: unknown[]) => unknown> & { integrator: { frameValidity(m: unknown): unknown; kernelTable(): { frac: unknown; list: { pix: { length: number } } } } };
  const clipProto = clipMod.SigmaClipper.prototype as unknown as Any;
  const clipWith = clipProto.clipWith;
  clipProto.clipWith = function (this: Any, image: unknown, mask: unknown, valid: unknown, states: unknown) {
    if (!before) return clipWith.call(this, image, mask, valid, states);
    const fv = this.integrator.frameValidity(mask);
    const t = this.integrator.kernelTable();
    const r = this.clipGeneral(image, fv, t.frac === null && t.list.pix.length === 0) as { state: Uint8Array };
    const v = valid as Uint8Array;
    for (let k = 0; k < v.length; k++) v[k] = r.state[k] === 2 || r.state[k] === 4 ? 0 : 1;
    return r;
  };
  const accProto = accMod.SumImage.prototype as unknown as { addImage(image: ArrayLike<number>, valid: Uint8Array | null): void };
  const addImage = accProto.addImage;
  accProto.addImage = function (this: { data: Float64Array; frames: number }, image: ArrayLike<number>, valid: Uint8Array | null) {
    if (!before) return addImage.call(this, image, valid);
    const d = this.data;
    for (let k = 0; k < d.length; k++) {
      if (valid !== null && valid[k] === 0) continue;
      const x = image[k];
      if (x - x === 0) d[k] += x;
    }
    this.frames++;
  };
}
const names = plan.specs.map((s) => s.name);
function timedChain(reference: boolean): { chain: ChainModule.StepChain; times: number[][]; total: number[] } {
  const built = chainMod.StepChain.build(plan!.specs, input, env, registry);
  if (!built.chain) throw new Error(JSON.stringify(built.errors));
  const times: number[][] = names.map(() => []);
  built.chain.steps.forEach((step, i) => {
    const process = step.process.bind(step);
    step.process = (ctx) => {
      const t0 = cpuMs();
      process(ctx);
      // the reference chain: the smx steps interpolate the background at every pixel, as before
      if (reference && names[i] === 'sigma_clip') ctx.vars.delete('background_on_demand');
      times[i].push(cpuMs() - t0);
    };
  });
  return { chain: built.chain, times, total: [] };
}
const now = timedChain(false);
const ref = BEFORE ? timedChain(true) : null;
const receiver = run.receiver(0, 1);
let compared = 0, differ = 0;
for (let i = 0; i < WARM + FRAMES; i++) {
  const f = receiver.receive(i);
  const out: string[] = [];
  for (const c of ref ? [ref, now] : [now]) {
    before = c === ref;
    const t0 = cpuMs();
    const r = c.chain.run(i, 0, f.data, f.valid);
    c.total.push(cpuMs() - t0);
    if (ref) out.push(JSON.stringify(r.items, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
  }
  before = false;
  if (ref) {
    compared++;
    if (out[0] !== out[1]) differ++;
  }
}
const median = (a: number[]): number => {
  const s = a.slice(WARM).sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
// reference: copy of the assembled image, from a source larger than the caches
const bytes = 2164 * 2068 * 4;
const src = new Uint8Array(8 * bytes).fill(1);
const dst = new Uint8Array(bytes);
const copy: number[] = [];
for (let i = 0; i < WARM + 40; i++) {
  const t0 = cpuMs();
  dst.set(src.subarray((i % 8) * bytes, ((i % 8) + 1) * bytes));
  copy.push(cpuMs() - t0);
}
const col = (c: { times: number[][] }, i: number): string => median(c.times[i]).toFixed(2).padStart(8);
console.log(`smx on Jungfrau 4M, one thread, ${FRAMES} frames (median ms of CPU time per frame; Node ${process.version})`);
console.log(`  ${'step'.padEnd(24)} ${ref ? `${'before'.padStart(8)} ` : ''}${'now'.padStart(8)}`);
names.forEach((n, i) => console.log(`  ${n.padEnd(24)} ${ref ? `${col(ref, i)} ` : ''}${col(now, i)}`));
const fps = (c: { total: number[] }): string => `${median(c.total).toFixed(2).padStart(8)}`;
console.log(`  ${'whole chain'.padEnd(24)} ${ref ? `${fps(ref)} ` : ''}${fps(now)}   (${ref ? `${(1000 / median(ref.total)).toFixed(1)} → ` : ''}${(1000 / median(now.total)).toFixed(1)} frames/s per core)`);
console.log(`  ${'ref: memcpy 17 MiB'.padEnd(24)} ${median(copy).toFixed(2).padStart(8)}`);
if (ref) console.log(`  emitted items (background, sparse frames, peaks, counters) identical before/now on ${compared - differ} of ${compared} frames`);
receiver.close();
run.close();
process.exit(0);
