/**
 * Node side of bench/tomo.py: builds the sinograms of a few slices of the 3D
 * Shepp–Logan phantom (exact line integrals, `projections` angles over 180°
 * both ends included, `cols` columns), writes them for the Python side, and
 * times daqlab's filtered back-projection: one slice on one thread (filter
 * and back-projection apart), then every slice on `threads` worker threads
 * as the `tomo` step runs them. Prints one JSON object.
 *
 *   node bench/dist/tomo-node.js CONFIG.json
 *
 * CONFIG: {cols, projections, slices, threads, filter, sino: path.npy, recon: path.npy, repeat,
 *          check_every, check: path.npy}
 * `check`: slice 0 reconstructed from every `check_every`-th angle only, for the
 * Python side to compare with its own FBP of the same angles (NumPy is too slow
 * to back-project all 1800 angles of a 1024² slice in a short benchmark).
 */
import { readFileSync } from 'node:fs';

type Tomo = typeof import('../daq-server/dist/src/processing/tomo/index.js');
type Sim = typeof import('../daq-server/dist/src/detectors/sim/tomo.js');
type Npy = typeof import('../daq-server/dist/src/processing/steps/npy.js');

interface Config {
  cols: number;
  projections: number;
  slices: number;
  threads: number;
  filter: 'ramp' | 'shepp-logan' | 'hann';
  sino: string;
  recon: string;
  repeat: number;
  check_every: number;
  check: string;
}

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Config;
const load = async <T>(path: string): Promise<T> => (await import(new URL(`../../daq-server/dist/src/${path}`, import.meta.url).href)) as T;
const tomo = await load<Tomo>('processing/tomo/index.js');
const sim = await load<Sim>('detectors/sim/tomo.js');
const npy = await load<Npy>('processing/steps/npy.js');

const { cols, projections: m, slices } = cfg;
const stride = cols + 1;
const angles = Array.from({ length: m }, (_, k) => (k * 180) / (m - 1));
const center = (cols - 1) / 2;
// a cube of cols³ with the slices in its middle rows
const phantom = new sim.Phantom(sim.SHEPP_LOGAN_3D, cols, cols, 2);
const first = Math.floor(cols / 2) - Math.floor(slices / 2);
const t0 = performance.now();
const packed = new Float32Array(slices * m * cols);
const rows = new Float64Array(slices * cols);
for (let k = 0; k < m; k++) {
  phantom.project(angles[k], center, rows, first, first + slices);
  for (let z = 0; z < slices; z++) for (let c = 0; c < cols; c++) packed[(z * m + k) * cols + c] = rows[z * cols + c];
}
const tProject = performance.now() - t0;
npy.writeNpy(cfg.sino, packed, [slices, m, cols]);

/** The shared, padded layout the step uses. */
function layout(): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(slices * m * stride * 4));
  for (let z = 0; z < slices; z++) for (let k = 0; k < m; k++) s.set(packed.subarray((z * m + k) * cols, (z * m + k + 1) * cols), (z * m + k) * stride);
  return s;
}

const geometry = { cols, stride, angles, center, filter: cfg.filter };
const min = (x: number[]): number => Math.min(...x);
const one = new Float32Array(cols * cols);

/** One slice on this thread: filter and back-projection timed apart (min of `repeat`). */
function oneThread(kernel: 'js' | 'scalar' | 'simd'): { filter_ms: number; backproject_ms: number; slices_per_s: number; kernel: string } {
  const rec = new tomo.SliceReconstructor({ ...geometry, kernel });
  const filterMs: number[] = [], bpMs: number[] = [];
  rec.filterRows(layout(), 0); // warm-up: the FFT compiled before it is timed
  for (let r = 0; r < cfg.repeat; r++) {
    const s = layout();
    const a = performance.now();
    rec.filterRows(s, 0);
    const b = performance.now();
    rec.backproject(s, 0, one);
    filterMs.push(b - a);
    bpMs.push(performance.now() - b);
  }
  return { filter_ms: min(filterMs), backproject_ms: min(bpMs), slices_per_s: 1000 / (min(filterMs) + min(bpMs)), kernel: rec.kernel };
}
const js = oneThread('js');
const scalar = oneThread('scalar');
const simd = oneThread('simd');

// the check slice: every check_every-th angle
const sub = angles.map((_, k) => k).filter((k) => k % cfg.check_every === 0);
const subSino = new Float32Array(sub.length * stride);
sub.forEach((k, j) => subSino.set(packed.subarray(k * cols, (k + 1) * cols), j * stride));
const check = new Float32Array(cols * cols);
new tomo.SliceReconstructor({ ...geometry, angles: sub.map((k) => angles[k]) }).slice(subSino, 0, check);
npy.writeNpy(cfg.check, check, [cols, cols]);

const sino = layout();
const vol = new Float32Array(slices * cols * cols);
const t1 = performance.now();
let firstSliceMs = 0;
await tomo.reconstructVolume(geometry, sino, slices, m * stride, cfg.threads, (z, data) => {
  if (z === 0) firstSliceMs = performance.now() - t1;
  vol.set(data, z * cols * cols);
});
const wall = performance.now() - t1;
npy.writeNpy(cfg.recon, vol, [slices, cols, cols]);

console.log(
  JSON.stringify({
    project_ms: tProject,
    js,
    scalar,
    simd,
    threads: { threads: cfg.threads, slices, wall_ms: wall, first_slice_ms: firstSliceMs, slices_per_s: (1000 * slices) / wall },
  }),
);
