/**
 * Whole pipelines in the server, frames/s sustained with 1 and 2 receivers,
 * beside the detector rate asked for (the simulator replays its pool, so the
 * figure is the processing, not the simulation). Run: node bench/dist/pipelines.js [--frames N]
 *
 * Sustained mode: node bench/dist/pipelines.js --sustained 10000 [--hz 40] [--receivers 2]
 * acquires that many Jungfrau 4M frames through smx at the internal trigger
 * rate asked for (frames the receivers cannot take are queued up to
 * max_pending, default 256, then dropped and counted), and prints the rate
 * achieved, frames processed and dropped, and the memory high-water mark.
 */
import { DaqService, selectPlugins } from '@daqlab/daq-server';
import { Recorder } from './record.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const FRAMES = arg('--frames', 400);

interface Case {
  label: string;
  /** the record's id */
  id: string;
  detector: string;
  hz: number;
  scene: Record<string, unknown>;
  processing: Record<string, unknown>;
}

const SMX = { scene: 'serial_crystallography', seed: 1, hit_rate: 0.3, spots_per_hit: 40, spot_intensity: 600, pool_size: 16 };
const CASES: Case[] = [
  { label: 'jungfrau correction + assembly (legacy)', id: 'legacy_jungfrau4m', detector: 'sim-jungfrau-4m', hz: 1000, scene: { scene: 'dark', pool_size: 8 }, processing: { pipeline: 'legacy', keep_frames: false } },
  { label: 'smx on Jungfrau 4M', id: 'smx_jungfrau4m', detector: 'sim-jungfrau-4m', hz: 1000, scene: SMX, processing: { pipeline: 'smx', npt: 500, keep_frames: false } },
  { label: 'azint (bbox) on Eiger 4M', id: 'azint_bbox_eiger4m', detector: 'sim-eiger-4m', hz: 750, scene: { scene: 'powder', pool_size: 8 }, processing: { pipeline: 'azint', npt: 1000, keep_frames: false } },
  { label: 'smx on Eiger 500k', id: 'smx_eiger500k', detector: 'sim-eiger-500k', hz: 5000, scene: { ...SMX, pool_size: 64 }, processing: { pipeline: 'smx', npt: 500, keep_frames: false } },
];

async function measure(c: Case, receivers: number): Promise<{ fps: number; dropped: number }> {
  const service = new DaqService({ plugins: selectPlugins([c.detector]), memoryBudget: 8 * 1024 ** 3 });
  const ctl = service.detector(c.detector);
  const acq = await ctl.prepare({
    acquisition: { nb_frames: FRAMES, expo_time: 1 / c.hz },
    detector: c.scene,
    processing: { ...c.processing, nb_receivers: receivers, max_pending: FRAMES },
  });
  const done = new Promise<void>((resolve) => acq.on('state', (s) => s.finished && resolve()));
  const t0 = performance.now();
  ctl.start(acq.uuid);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const s = acq.status();
  service.shutdown();
  return { fps: s.counters.nb_frames_processed / seconds, dropped: s.counters.nb_frames_dropped };
}

const SUSTAINED = arg('--sustained', 0);
if (SUSTAINED > 0) {
  const hz = arg('--hz', 40);
  const receivers = arg('--receivers', 2);
  const c = CASES[1];
  // the server's default memory budget (4 GiB): the store trims old items beyond it
  const service = new DaqService({ plugins: selectPlugins([c.detector]), memoryBudget: 4 * 1024 ** 3 });
  const ctl = service.detector(c.detector);
  const acq = await ctl.prepare({
    acquisition: { nb_frames: SUSTAINED, expo_time: 1 / hz },
    detector: c.scene,
    processing: { ...c.processing, nb_receivers: receivers },
  });
  let rss = 0, heap = 0, ext = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    ext = Math.max(ext, m.external); // includes the ArrayBuffers
  };
  const sampler = setInterval(sample, 100);
  let lastLog = 0;
  const done = new Promise<void>((resolve) => acq.on('state', (s) => s.finished && resolve()));
  const progress = setInterval(() => {
    const s = acq.status();
    const n = s.counters.nb_frames_processed;
    if (n - lastLog >= 1000) {
      lastLog = n;
      console.log(`  ${n} processed, ${s.counters.nb_frames_acquired} acquired, ${s.counters.nb_frames_dropped} dropped`);
    }
  }, 1000);
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  ctl.start(acq.uuid);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  clearInterval(sampler);
  clearInterval(progress);
  sample();
  const s = acq.status();
  service.shutdown();
  const mib = (b: number): number => Math.round(b / 2 ** 20);
  new Recorder('pipelines').figure(`sustained.${c.id}.fps`, {
    label: `sustained: ${c.label}, ${SUSTAINED} frames, ${receivers} receivers`,
    value: s.counters.nb_frames_processed / seconds,
    unit: 'frames/s',
    higherIsBetter: true,
    reference: { name: 'internal trigger rate', value: hz },
  });
  console.log(`\nSustained: ${c.label}, ${SUSTAINED} frames, internal trigger ${hz} Hz, ${receivers} receivers`);
  console.table([
    {
      'trigger Hz': hz,
      'achieved fps': Number((s.counters.nb_frames_processed / seconds).toFixed(1)),
      seconds: Number(seconds.toFixed(1)),
      acquired: s.counters.nb_frames_acquired,
      processed: s.counters.nb_frames_processed,
      dropped: s.counters.nb_frames_dropped,
      'RSS high-water MiB': mib(rss),
      'heap high-water MiB': mib(heap),
      'external (buffers) high-water MiB': mib(ext),
      'main thread busy': `${Math.round(100 * elu)} %`,
    },
  ]);
  process.exit(s.counters.nb_frames_dropped === 0 && s.counters.nb_frames_processed === SUSTAINED ? 0 : 1);
}

const rows = [];
const rec = new Recorder('pipelines');
for (const c of CASES) {
  const one = await measure(c, 1);
  const two = await measure(c, 2);
  for (const [n, m] of [[1, one], [2, two]] as const) {
    rec.figure(`${c.id}.fps_${n}receiver${n > 1 ? 's' : ''}`, {
      label: `${c.label}, ${n} receiver(s), ${FRAMES} frames`,
      value: m.fps,
      unit: 'frames/s',
      higherIsBetter: true,
      reference: { name: 'detector rate asked for', value: c.hz },
    });
  }
  rows.push({
    pipeline: c.label,
    frames: FRAMES,
    'detector Hz': c.hz,
    'fps, 1 receiver': Math.round(one.fps),
    'fps, 2 receivers': Math.round(two.fps),
    speedup: Number((two.fps / one.fps).toFixed(2)),
    dropped: one.dropped + two.dropped,
  });
}
console.log(`\nWhole pipelines (${FRAMES} frames each; the detector asks for more than the processing can do, queues absorb it)`);
console.table(rows);
process.exit(0);
