/**
 * Jungfrau 4M correction + assembly, single-threaded: ms per frame for the
 * fused kernel (WebAssembly SIMD engine, and the JavaScript one) (raw uint16 [8, 512, 1024] → float32 2164 × 2068 photons,
 * flags), the unassembled correction, one receiver's share in the
 * partial-frame topology (2 of 8 modules) and pedestal accumulation, beside
 * plain copies of the same bytes measured in the same run (the memory
 * bandwidth ceiling here). Frames come from the simulator (serial
 * crystallography hits: some pixels in G1/G2).
 *
 *   node bench/dist/jungfrau.js [--frames 200]
 */
import type * as JungfrauModule from '../daq-server/dist/src/processing/jungfrau/index.js';
import type * as SimModule from '../daq-server/dist/src/detectors/sim/index.js';
import { Recorder } from './record.js';

// bench/dist/jungfrau.js → daq-server/dist/src/ (the type imports above resolve from bench/)
const SRC = new URL('../../daq-server/dist/src/', import.meta.url);
const jf = (await import(new URL('processing/jungfrau/index.js', SRC).href)) as typeof JungfrauModule;
const sim = (await import(new URL('detectors/sim/index.js', SRC).href)) as typeof SimModule;

const arg = (name: string, def: number): number => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : def;
};
const FRAMES = arg('frames', 200);
const POOL = 4;

const plugin = sim.simulatorPlugins().find((p) => p.name === 'sim-jungfrau-4m')!;
const config = { scene: 'serial_crystallography', hit_rate: 1, spots_per_hit: 60, spot_intensity: 20000, seed: 1, pool_size: POOL };
const run = (await plugin.open(config)) as InstanceType<typeof SimModule.JungfrauRun>;
const frames = Array.from({ length: POOL }, (_, k) => run.frame(k).data as Uint16Array);
const cal = run.calibration();
const energy = run.geometry.energyKeV;

const corr = new jf.JungfrauCorrector({ pedestal: cal.pedestal, gain: cal.gain, output: 'photons', photonEnergyKeV: energy });
const corrJs = new jf.JungfrauCorrector({ pedestal: cal.pedestal, gain: cal.gain, output: 'photons', photonEnergyKeV: energy, engine: 'js' });
const image = new Float32Array(corr.imageSize), flags = new Uint8Array(corr.imageSize);
const rawOut = new Float32Array(corr.rawSize), rawFlags = new Uint8Array(corr.rawSize);
const pedestal = new jf.PedestalAccumulator(corr.rawSize);
const MODULE = 512 * 1024;
const twoModules = frames.map((f) => f.slice(2 * MODULE, 4 * MODULE));

/** ms per call: median and best over `n` calls after a warm-up. */
function time(n: number, fn: (i: number) => void): { median: number; best: number } {
  for (let i = 0; i < Math.min(10, n); i++) fn(i);
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn(i);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(n / 2)], best: t[0] };
}

/** Copies of `bytes` per call, from a source larger than the caches (like a stream of frames). */
function memcpy(bytes: number, n: number): { median: number; best: number } {
  const copies = Math.max(2, Math.ceil((256 * 1024 * 1024) / bytes));
  const src = new Uint8Array(copies * bytes).fill(1);
  const dst = new Uint8Array(bytes);
  return time(n, (i) => {
    const k = i % copies;
    dst.set(src.subarray(k * bytes, (k + 1) * bytes));
  });
}

const rawBytes = corr.rawSize * 2;
const E = corr.engine;
// [label, timing, raw bytes per call, record id, reference row (the memcpy of what it writes; none for the memcpys)]
type RowSpec = [string, { median: number; best: number }, number, string, 'raw' | 'image' | null];
const rows: RowSpec[] = [
  [`correction + assembly (photons, flags) [${E}]`, time(FRAMES, (i) => corr.correct(frames[i % POOL], image, flags)), rawBytes, 'correct_assemble', 'image'],
  [`  same, flags left in the corrector [${E}]`, time(FRAMES, (i) => corr.correct(frames[i % POOL], image)), rawBytes, 'correct_assemble_noflags', 'image'],
  ['  same, JavaScript kernel [js]', time(FRAMES, (i) => corrJs.correct(frames[i % POOL], image, flags)), rawBytes, 'correct_assemble_js', 'image'],
  [`correction, unassembled [8, 512, 1024] [${E}]`, time(FRAMES, (i) => corr.correctRaw(frames[i % POOL], rawOut, rawFlags)), rawBytes, 'correct_raw', 'raw'],
  [`correctModules: 2 of 8 modules into the image [${E}]`, time(FRAMES, (i) => corr.correctModules(twoModules[i % POOL], image, [2, 3], flags)), rawBytes / 4, 'correct_modules_2of8', 'image'],
  ['pedestal accumulation (dark frame)', time(Math.min(FRAMES, 50), (i) => pedestal.add(frames[i % POOL])), rawBytes, 'pedestal_add', 'raw'],
  ['memcpy of the raw frame (8 MiB)', memcpy(rawBytes, FRAMES), rawBytes, 'memcpy_raw', null],
  ['memcpy of the output image (17.1 MiB float32)', memcpy(corr.imageSize * 4, FRAMES), corr.imageSize * 4, 'memcpy_image', null],
];

console.log(`Jungfrau 4M, one thread, ${FRAMES} frames (Node ${process.version}, ${process.arch})`);
console.log(`${'kernel'.padEnd(52)} ${'median ms'.padStart(10)} ${'best ms'.padStart(9)} ${'frames/s'.padStart(9)} ${'raw GB/s'.padStart(9)}`);
for (const [name, t, bytes] of rows) {
  console.log(`${name.padEnd(52)} ${t.median.toFixed(2).padStart(10)} ${t.best.toFixed(2).padStart(9)} ${(1000 / t.median).toFixed(0).padStart(9)} ${(bytes / t.median / 1e6).toFixed(2).padStart(9)}`);
}
const rec = new Recorder('jungfrau');
const refs = { raw: rows.find((r) => r[3] === 'memcpy_raw')!, image: rows.find((r) => r[3] === 'memcpy_image')! };
for (const [name, t, , id, refKey] of rows) {
  const ref = refKey ? refs[refKey] : null;
  for (const stat of ['median', 'best'] as const) {
    rec.figure(`${id}.${stat}_ms`, {
      label: `${name.trim()}, ${stat} ms per frame, ${FRAMES} frames`,
      value: t[stat],
      unit: 'ms',
      higherIsBetter: false,
      reference: ref ? { name: `${ref[0]}, ${stat}`, value: ref[1][stat] } : undefined,
      target: id === 'correct_assemble' && stat === 'median' ? 6 : undefined, // issue 15: ≤ 6 ms per frame per core
    });
  }
}
run.close();
