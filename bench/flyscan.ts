/**
 * A P06-like fly mesh in the server: N × N points at 1 kHz (samx flies, samy steps, back and forth)
 * with the simulated EIGER 500k taking a frame per trigger through the smx pipeline, the MCA (4096
 * channels, Fe and Cu ROIs), i0 and diode (4 counters with the ROIs), and samx/samy interferometers
 * sampled at 10 kHz. Prints points/s beside the trigger rate (during the lines, and overall with the
 * turnarounds), frames acquired/dropped, fast samples, and the event loop's delay meanwhile.
 *
 * Run: node bench/dist/flyscan.js [--size 100] [--hz 1000] [--pipeline smx|azint] [--max-pending 256] [--no-detector]
 * (`--max-pending`: frames the pipeline may queue before it drops, as in bench/pipelines.ts)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DaqService, selectPlugins } from '@daqlab/daq-server';
import { Recorder } from './record.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const N = Number(arg('--size', '100'));
const HZ = Number(arg('--hz', '1000'));
const PIPELINE = arg('--pipeline', 'smx');
const MAX_PENDING = Number(arg('--max-pending', '256'));
// `--no-detector`: the scan engine alone (counters, MCA, interferometers), to tell its cost from the pipeline's
const WITH_DETECTOR = !process.argv.includes('--no-detector');
const DETECTOR = 'sim-eiger-500k';
const STEP = 0.005; // mm: samx flies at STEP × HZ = 5 mm/s (its velocity is 10)

const service = new DaqService({ plugins: selectPlugins([DETECTOR]), memoryBudget: 4 * 1024 ** 3 });
const mca = service.devices.mca('mca');
mca.addRoi('Fe', 6300, 6500);
mca.addRoi('Cu', 7950, 8150);
const processing = { pipeline: PIPELINE === 'azint' ? 'azint' : 'smx', npt: 500, keep_frames: false, max_pending: MAX_PENDING };

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const t0 = performance.now();
const started = await service.scanning.run({
  type: 'fmesh',
  axes: [
    { axis: 'samx', start: -(N * STEP) / 2, step: STEP, npoints: N },
    { axis: 'samy', start: -(N * STEP) / 2, step: STEP, npoints: N },
  ],
  acq_time: 1 / HZ,
  backnforth: true,
  counters: ['i0', 'diode', 'mca', ...(WITH_DETECTOR ? [DETECTOR] : [])],
  fast_counters: ['samx_interf', 'samy_interf'],
  fast_rate: 10_000,
  processing,
});
let status = started;
while (status.state === 'RUNNING') status = await service.scanning.wait(started.scan, 60);
const seconds = (performance.now() - t0) / 1000;
lag.disable();
const scan = service.store.scan(started.scan);
const info = scan.info as Record<string, unknown>;
const frames = (info.detector_frames as Record<string, { acquired: number; dropped: number }>)[DETECTOR] ?? { acquired: N * N, dropped: 0 };
const what = WITH_DETECTOR ? `${DETECTOR} + ${PIPELINE}` : 'no detector';
const points = status.points_done;
// wall seconds from each line's first trigger to its last point appended, summed (the run measures it)
const lineSeconds = info.cruise_seconds as number;
const elapsed = scan.stream('elapsed_time');
const fast = scan.stream('fast:trigger').length;
// points/s while flying (≤ the trigger rate: the last point of a line lands at the next tick); overall includes turnarounds
const perSecondOverall = points / seconds;
const perSecondLines = points / lineSeconds;

console.log(`\nFly mesh ${N} × ${N} at ${HZ} Hz, ${what} (max_pending ${MAX_PENDING}), MCA 4096 + i0, diode, mca:Fe, mca:Cu, 2 interferometers at 10 kHz`);
console.table([
  {
    state: status.state,
    points: `${points}/${N * N}`,
    'trigger Hz': HZ,
    'points/s (lines)': Number(perSecondLines.toFixed(0)),
    'points/s (overall)': Number(perSecondOverall.toFixed(0)),
    seconds: Number(seconds.toFixed(1)),
    frames: frames.acquired,
    dropped: frames.dropped,
    'fast samples': fast,
    'loop delay p99 ms': Number((lag.percentile(99) / 1e6).toFixed(1)),
    'loop delay max ms': Number((lag.max / 1e6).toFixed(1)),
  },
]);
console.log(`per-trigger channels: ${elapsed.length} items each; nothing dropped: ${points === N * N && frames.acquired === N * N && frames.dropped === 0 && fast === Math.round((N * N * 10_000) / HZ)}`);
const rec = new Recorder('flyscan');
rec.figure(`fmesh_${N}x${N}.${WITH_DETECTOR ? PIPELINE : 'nodetector'}.points_per_s_overall`, {
  label: `fly mesh ${N}x${N} at ${HZ} Hz with ${DETECTOR} + ${PIPELINE}, MCA, 4 counters, 10 kHz interferometers: points/s overall`,
  value: perSecondOverall,
  unit: 'points/s',
  higherIsBetter: true,
  reference: { name: 'trigger rate', value: HZ },
});
rec.figure(`fmesh_${N}x${N}.${WITH_DETECTOR ? PIPELINE : 'nodetector'}.points_per_s_lines`, {
  label: `fly mesh ${N}x${N} at ${HZ} Hz: points/s while flying (first trigger to last point appended, per line)`,
  value: perSecondLines,
  unit: 'points/s',
  higherIsBetter: true,
  reference: { name: 'trigger rate', value: HZ },
});
rec.figure(`fmesh_${N}x${N}.${WITH_DETECTOR ? PIPELINE : 'nodetector'}.dropped`, {
  label: `fly mesh ${N}x${N}: frames dropped`,
  value: frames.dropped + (N * N - frames.acquired),
  unit: 'frames',
  higherIsBetter: false,
});
service.shutdown();
process.exit(status.state === 'DONE' ? 0 : 1);
