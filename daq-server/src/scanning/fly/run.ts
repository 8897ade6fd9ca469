/**
 * A fly scan (fscan, fmesh): the fast axis cruises through each line at constant speed while the
 * counters and MCAs count at every trigger (by time or by encoder position) and the detectors take
 * one frame per trigger at their own pace; fast counters (interferometers, monitors) are sampled
 * continuously at up to 10 kHz beside them, each sample tagged with the trigger it falls in.
 *
 * Nothing runs per sample on the event loop: a timer wakes every TICK_MS, computes from the axis's
 * motion profile which triggers and samples have happened since, and appends them as one block of
 * typed arrays per channel (and per block to the BLISS file).
 */
import { DaqError, type TypedArray } from '../../protocol/index.js';
import type { FlyScanRequest, StepScanState, StepScanStatus } from '../../protocol/scanning.js';
import type { ArrayStream, Scan, ScanStore } from '../../store/types.js';
import type { DeviceRegistry } from '../../devices/registry.js';
import type { SimAxis } from '../../devices/axis.js';
import type { Counter } from '../../devices/counters.js';
import { SimMca } from '../../devices/mca.js';
import { Rng, keyOf, mix32 } from '../../devices/random.js';
import type { FlyDetector, ScanDetector } from '../detectors.js';
import { BlissScanFile, blissFileName } from '../bliss-file.js';
import type { Path } from '../../devices/profile.js';
import { flyLine, triggerTimes, type FlyLine } from './trajectory.js';
import { existsSync } from 'node:fs';

/** How often the run wakes to append what happened since (ms): the block size is rate × TICK. */
const TICK_MS = 20;
/** An interferometer's noise (its units, here mm): 1 nm rms. */
const INTERF_NOISE = 1e-6;
/** How long the end waits for detector frames beyond the scan's own duration (ms). */
const FRAME_GRACE_MS = 30_000;

class Aborted extends Error {}

export interface FlyDeps {
  store: ScanStore;
  devices: DeviceRegistry;
  detectorOf: (name: string) => ScanDetector | null;
  /** a client's save_dir, confined to the data roots (ParameterError otherwise) */
  saveDir: (dir: string) => Promise<string>;
}

/** A fast channel: a counter sampled at the fast rate, or an axis's interferometer. */
type FastSource = { name: string; counter: Counter } | { name: string; axis: SimAxis };

const fmt = (x: number): string => String(Number(x.toPrecision(10)));
const fail = (field: string, message: string) => new DaqError('ParameterError', `${field}: ${message}`, [{ field, message }]);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class FlyScanRun {
  state: StepScanState = 'RUNNING';
  reason: string | null = null;
  pointsDone = 0;
  endTime: string | null = null;
  readonly abort = new AbortController();
  done!: Promise<void>;
  readonly startTime = new Date().toISOString();
  readonly npoints: number;
  readonly nLines: number;
  readonly perLine: number;
  private fastDone = 0;
  /** wall seconds from each line's first trigger to its last point appended (points/s while flying) */
  private cruiseSeconds = 0;
  private t0 = 0;
  private readonly rng = new Rng(0);

  private constructor(
    private readonly deps: FlyDeps,
    readonly req: FlyScanRequest,
    readonly scan: Scan,
    readonly title: string,
    readonly axes: SimAxis[],
    private readonly counters: (Counter | SimMca)[],
    private readonly fast: FastSource[],
    private readonly fastRate: number,
    readonly channels: string[],
    private readonly detectors: FlyDetector[],
    private file: BlissScanFile | null,
  ) {
    this.perLine = req.axes[0].npoints;
    this.nLines = req.axes[1]?.npoints ?? 1;
    this.npoints = this.perLine * this.nLines;
  }

  status(): StepScanStatus {
    return {
      scan: this.scan.key,
      number: this.scan.identity.number,
      title: this.title,
      type: this.req.type,
      state: this.state,
      points_done: this.pointsDone,
      npoints: this.npoints,
      reason: this.reason,
      channels: this.channels,
      start_time: this.startTime,
      end_time: this.endTime,
    };
  }

  /** Check everything (axes, limits, speeds, counters, the detectors' rates), then arm and create the scan. */
  static async prepare(req: FlyScanRequest, deps: FlyDeps, onEnd: (run: FlyScanRun) => void): Promise<FlyScanRun> {
    const { devices, store } = deps;
    const axes = req.axes.map((a, k) => {
      try {
        return devices.axis(a.axis);
      } catch (err) {
        throw fail(`axes[${k}].axis`, (err as Error).message);
      }
    });
    for (const a of axes) {
      if (a.state === 'MOVING' || a.state === 'FAULT') throw new DaqError('StateError', `${a.name} is ${a.state}${a.state === 'FAULT' ? ' (reset it first)' : ''}; the scan did not start`);
    }
    // the fast axis's ramps lie outside the scanned range: they must fit in its limits too
    const lines = [flyLine(req.axes[0], req.acq_time, axes[0].dynamics), flyLine(req.axes[0], req.acq_time, axes[0].dynamics, true)];
    for (const x of [lines[0].from, lines[0].to, ...(req.backnforth ? [lines[1].from, lines[1].to] : [])]) axes[0].checkTarget(x, 'axes[0].start');
    if (req.axes[1]) {
      const s = req.axes[1];
      for (const x of [s.start, s.start + (s.npoints - 1) * s.step]) axes[1].checkTarget(x, 'axes[1].start');
    }

    const triggerRate = 1 / req.acq_time;
    const counters: (Counter | SimMca)[] = [];
    const dets: ScanDetector[] = [];
    const names = req.counters?.length ? req.counters : devices.countable().map((c) => c.name);
    names.forEach((n, k) => {
      const d = devices.has(n) ? devices.get(n) : null;
      const det = d ? null : deps.detectorOf(n);
      if (det) {
        if (triggerRate > det.maxFrameRate) {
          throw fail(`counters[${k}]`, `${n} takes at most ${det.maxFrameRate} Hz; the fly scan triggers at ${fmt(triggerRate)} Hz (acq_time ${req.acq_time} s): it cannot keep up`);
        }
        return void dets.push(det);
      }
      if (!d || d.kind === 'axis') throw fail(`counters[${k}]`, `unknown counter ${JSON.stringify(n)}; counters: ${devices.countable().map((c) => c.name).join(', ')} and the detectors`);
      counters.push(d as Counter | SimMca);
    });
    const fast: FastSource[] = (req.fast_counters ?? []).map((n, k) => {
      if (n.endsWith('_interf') && devices.has(n.slice(0, -7)) && devices.get(n.slice(0, -7)).kind === 'axis') return { name: n, axis: devices.axis(n.slice(0, -7)) };
      const d = devices.has(n) ? devices.get(n) : null;
      if (d?.kind === 'counter') return { name: n, counter: d as Counter };
      const options = [...devices.countable().filter((c) => c.kind === 'counter').map((c) => c.name), ...devices.axes().map((a) => `${a.name}_interf`)];
      throw fail(`fast_counters[${k}]`, `unknown fast counter ${JSON.stringify(n)}; fast counters: ${options.join(', ')}`);
    });
    const fastRate = req.fast_rate ?? 10_000;

    const identity = { name: req.name ?? req.type, ...(req.session ? { session: req.session } : {}), ...(req.sample ? { sample: req.sample } : {}), ...(req.proposal ? { proposal: req.proposal } : {}) };
    const saveDir = req.save_dir === undefined ? null : await deps.saveDir(req.save_dir);
    const number = store.nextNumber(identity);
    if (saveDir && existsSync(blissFileName(saveDir, number))) throw fail('save_dir', `${blissFileName(saveDir, number)} exists already; scans are never overwritten`);
    const words = req.axes.map((a) => `${a.axis} ${fmt(a.start)} ${fmt(a.step)} ${a.npoints}`);
    const title = `${req.type} ${words.join(' ')} ${fmt(req.acq_time)}` + (req.backnforth ? ' backnforth' : '');

    const armed: FlyDetector[] = [];
    try {
      for (const d of dets) armed.push(await d.armFly(req.axes[1]?.npoints ?? 1, req.axes[0].npoints, req.acq_time, title, { number, ...(req.session ? { session: req.session } : {}) }, req.processing));
    } catch (err) {
      for (const a of armed) a.end(true);
      throw err;
    }
    const grid = req.axes[1]
      ? { axes: req.axes.map((a) => ({ axis: a.axis, start: a.start, stop: a.start + (a.npoints - 1) * a.step, intervals: a.npoints - 1 })), backnforth: Boolean(req.backnforth) }
      : null;
    const scan = store.createScan({ ...identity, number }, {
      title,
      type: req.type,
      scan_engine: 'fly',
      acq_time: req.acq_time,
      count_time: req.acq_time,
      scan_mode: req.scan_mode,
      trigger_rate: triggerRate,
      npoints: req.axes.reduce((n, a) => n * a.npoints, 1),
      axes: req.axes.map((a) => a.axis),
      fly: { axes: req.axes, velocity: lines[0].velocity, ramps: [lines[0].from, lines[0].to] },
      counters: [...counters.map((c) => c.name), ...armed.map((d) => d.name)],
      fast: { rate: fastRate, channels: fast.map((f) => `fast:${f.name}`), trigger: 'fast:trigger', time: 'fast:elapsed_time' },
      detectors: Object.fromEntries(armed.map((d) => [d.name, { scan: d.scanKey, acquisition: d.uuid, frame_of_trigger: 'frame k is trigger k' }])),
      start_time: new Date().toISOString(),
      plotselect: null,
      ...(grid ? { grid } : {}),
    });
    const channels = createChannels(scan, axes, counters, fast);
    const y = channels.find((c) => !req.axes.some((a) => a.axis === c) && !['trigger', 'elapsed_time', 'epoch'].includes(c) && !c.startsWith('fast:') && !c.endsWith(':spectrum')) ?? null;
    scan.updateInfo({ plotselect: { x: req.axes[0].axis, y }, channels });
    let file: BlissScanFile | null = null;
    if (saveDir) {
      const path = blissFileName(saveDir, number);
      try {
        file = new BlissScanFile(path, scan, Object.fromEntries(devices.axes().map((a) => [a.name, a.position])));
      } catch (err) {
        for (const d of armed) d.end(true);
        scan.updateInfo({ end_state: 'FAULT', end_reason: `cannot create ${path}: ${(err as Error).message}` });
        scan.close();
        throw fail('save_dir', `cannot create ${path}: ${(err as Error).message}`);
      }
      scan.updateInfo({ saving: { master: path, layout: 'bliss' } });
    }
    const run = new FlyScanRun(deps, req, scan, title, axes, counters, fast, fastRate, channels, armed, file);
    run.done = run.loop(lines).finally(() => onEnd(run));
    return run;
  }

  private stream(name: string): ArrayStream {
    return this.scan.stream(name) as ArrayStream;
  }

  private async loop(lines: FlyLine[]): Promise<void> {
    const { req, axes, scan } = this;
    const signal = this.abort.signal;
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Aborted()), { once: true }));
    aborted.catch(() => undefined);
    this.t0 = performance.now() / 1000;
    try {
      scan.setState('STARTED');
      for (let j = 0; j < this.nLines; j++) {
        const line = lines[req.backnforth && j % 2 === 1 ? 1 : 0];
        // to the line's start (the slow axis to its row) at the axes' own speed
        const slow = req.axes[1] ? req.axes[1].start + j * req.axes[1].step : null;
        await Promise.race([Promise.all([axes[0].move(line.from), ...(slow === null ? [] : [axes[1].move(slow)])]), aborted]);
        this.checkAxes(j);
        await this.flyLine(j, line);
        this.checkAxes(j);
      }
      await this.waitFrames(aborted);
      this.state = 'DONE';
    } catch (err) {
      this.state = err instanceof Aborted ? 'ABORTED' : 'FAULT';
      this.reason = err instanceof Aborted ? 'aborted' : (err as Error).message;
    } finally {
      for (const a of axes) a.stop();
      for (const d of this.detectors) d.end(this.state !== 'DONE');
      this.endTime = new Date().toISOString();
      scan.updateInfo({
        end_time: this.endTime,
        end_state: this.state,
        end_reason: this.reason,
        points_done: this.pointsDone,
        fast_samples: this.fastDone,
        cruise_seconds: this.cruiseSeconds,
        detector_frames: Object.fromEntries(this.detectors.map((d) => [d.name, d.counts()])),
      });
      this.endFile();
      scan.close();
    }
  }

  private checkAxes(line: number): void {
    for (const a of this.axes) {
      if (a.state === 'FAULT' || a.state === 'LIMIT') throw new DaqError('FaultError', `${a.name} ${a.state} on line ${line} after ${this.pointsDone} points: ${a.info().reason}`);
    }
  }

  /** One line: start the cruise, then append every TICK_MS what has been measured, until the move ends. */
  private async flyLine(j: number, line: FlyLine): Promise<void> {
    const fastAxis = this.axes[0];
    const moved = fastAxis.move(line.to, line.velocity);
    const m = fastAxis.trajectory()!;
    const times = triggerTimes(line, m.path, this.req.scan_mode, this.req.acq_time);
    // a trigger past a fault's halt never fires: the line ends there
    const end = m.halt ? m.halt.t : m.path.duration;
    const moveStart = m.started;
    const offset = moveStart - this.t0; // the move's start in seconds since the scan's
    let next = 0; // next trigger of this line
    let nextFast = 0; // next fast sample of this line
    const fastEnd = times[0] + line.npoints * this.req.acq_time;
    let detTimer: NodeJS.Timeout | null = null;
    if (this.detectors.length) {
      detTimer = setTimeout(() => this.detectors.forEach((d) => d.line()), Math.max(0, (times[0] - (m.now - moveStart)) * 1000));
    }
    let finished = false;
    void moved.then(() => (finished = true));
    try {
      for (;;) {
        const t = finished ? end : Math.min(end, performance.now() / 1000 - moveStart);
        // points whose exposure has ended by t, then the fast samples inside them
        let upto = next;
        while (upto < line.npoints && times[upto] + this.req.acq_time <= t + 1e-9) upto++;
        if (upto > next) {
          this.emitPoints(j, line, times, next, upto, m.path, offset);
          next = upto;
          if (next === line.npoints) this.cruiseSeconds += Math.max(0, performance.now() / 1000 - (moveStart + times[0]));
        }
        const covered = next > 0 ? Math.min(fastEnd, times[next - 1] + this.req.acq_time) : times[0];
        const nFast = Math.max(0, Math.ceil((covered - times[0]) * this.fastRate - 1e-9));
        if (this.fast.length && nFast > nextFast) {
          this.emitFast(j, times, nextFast, nFast, m.path, offset);
          nextFast = nFast;
        }
        this.deps.store.enforceBudget();
        if (finished || this.abort.signal.aborted) break;
        await Promise.race([sleep(TICK_MS, this.abort.signal).catch(() => undefined), moved]);
      }
      if (this.abort.signal.aborted) throw new Aborted();
    } finally {
      if (detTimer) clearTimeout(detTimer);
    }
  }

  /** Triggers [a, b) of line j: positions at the trigger, counts over the exposure, all as blocks. */
  private emitPoints(j: number, line: FlyLine, times: Float64Array, a: number, b: number, path: Path, offset: number): void {
    const n = b - a;
    const acq = this.req.acq_time;
    const [fastAxis, slowAxis] = this.axes;
    const q = fastAxis.encoderResolution;
    const first = j * this.perLine + a;
    const enc = new Float64Array(n);
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    const elapsed = new Float64Array(n);
    const epoch = new Float64Array(n);
    const trig = new Uint32Array(n);
    const beam = this.deps.devices.beam();
    const epoch0 = Date.now() / 1000 - (performance.now() / 1000 - this.t0);
    for (let k = 0; k < n; k++) {
      const t = times[a + k];
      enc[k] = Math.round(path.positionAt(t) / q) * q;
      const mid = path.positionAt(t + acq / 2); // the sample seen during the exposure
      xs[k] = fastAxis.name === 'samx' ? mid : slowAxis?.name === 'samx' ? slowAxis.position : beam.x;
      ys[k] = fastAxis.name === 'samy' ? mid : slowAxis?.name === 'samy' ? slowAxis.position : beam.y;
      elapsed[k] = offset + t;
      epoch[k] = epoch0 + offset + t;
      trig[k] = first + k;
    }
    const block = new Map<string, TypedArray>([[fastAxis.name, enc], ['trigger', trig], ['elapsed_time', elapsed], ['epoch', epoch]]);
    if (slowAxis) block.set(slowAxis.name, new Float64Array(n).fill(slowAxis.encoder));
    const number = this.scan.identity.number;
    for (const c of this.counters) {
      if (c instanceof SimMca) {
        const spectra = new Uint32Array(n * c.channels);
        const dead = new Float64Array(n);
        const base = keyOf(this.deps.devices.sample?.seed ?? 0, c.name, 'fly', number);
        for (let k = 0; k < n; k++) dead[k] = c.acquireInto(xs[k], ys[k], acq, this.rng.reseed(mix32(base ^ mix32(first + k))), spectra, k * c.channels);
        block.set(`${c.name}:spectrum`, spectra);
        block.set(`${c.name}:deadtime`, dead);
        const rois = c.rois;
        c.roiChannels(rois).forEach(([lo, hi], r) => {
          const sums = new Float64Array(n);
          for (let k = 0; k < n; k++) {
            let s = 0;
            for (let ch = lo, o = k * c.channels; ch <= hi; ch++) s += spectra[o + ch];
            sums[k] = s;
          }
          if (this.scan.streams.has(`${c.name}:${rois[r].name}`)) block.set(`${c.name}:${rois[r].name}`, sums);
        });
      } else {
        const out = new Float64Array(n);
        c.readBlock(n, xs, ys, acq, number, first, out, this.rng);
        block.set(c.name, out);
      }
    }
    for (const [name, data] of block) this.stream(name).append(data);
    this.saveBlock(block);
    this.pointsDone = first + n;
  }

  /** Fast samples [a, b) of line j: at fastRate from the line's first trigger, each tagged with its trigger. */
  private emitFast(j: number, times: Float64Array, a: number, b: number, path: Path, offset: number): void {
    const n = b - a;
    const dt = 1 / this.fastRate;
    const fastAxis = this.axes[0];
    const slowAxis = this.axes[1];
    const trig = new Uint32Array(n);
    const elapsed = new Float64Array(n);
    const pos = new Float64Array(n);
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    const beam = this.deps.devices.beam();
    let k = 0; // the trigger whose exposure holds the sample (times ascend)
    for (let i = 0; i < n; i++) {
      const t = times[0] + (a + i) * dt;
      while (k + 1 < times.length && times[k + 1] <= t) k++;
      trig[i] = j * this.perLine + k;
      elapsed[i] = offset + t;
      pos[i] = path.positionAt(t);
      xs[i] = fastAxis.name === 'samx' ? pos[i] : slowAxis?.name === 'samx' ? slowAxis.position : beam.x;
      ys[i] = fastAxis.name === 'samy' ? pos[i] : slowAxis?.name === 'samy' ? slowAxis.position : beam.y;
    }
    const block = new Map<string, TypedArray>([['fast:trigger', trig], ['fast:elapsed_time', elapsed]]);
    const first = this.fastDone;
    const number = this.scan.identity.number;
    for (const f of this.fast) {
      const out = new Float64Array(n);
      if ('counter' in f) f.counter.readBlock(n, xs, ys, dt, number, first, out, this.rng, 'fast');
      else {
        const base = keyOf(this.deps.devices.sample?.seed ?? 0, f.name, 'fly', number);
        const own = f.axis === fastAxis ? null : f.axis.position;
        for (let i = 0; i < n; i++) out[i] = (own ?? pos[i]) + INTERF_NOISE * this.rng.reseed(mix32(base ^ mix32(first + i))).normal();
      }
      block.set(`fast:${f.name}`, out);
    }
    for (const [name, data] of block) this.stream(name).append(data);
    this.saveBlock(block);
    this.fastDone += n;
  }

  /** Frames still on their way after the last line (a detector runs at its own pace). */
  private async waitFrames(aborted: Promise<never>): Promise<void> {
    for (const d of this.detectors) {
      const ok = await Promise.race([d.waitFrames(this.npoints, FRAME_GRACE_MS + this.npoints * this.req.acq_time * 1000), aborted]);
      if (!ok) throw new DaqError('FaultError', `${d.name}: ${d.counts().acquired} of ${this.npoints} frames arrived`);
    }
  }

  private saveBlock(block: Map<string, TypedArray>): void {
    if (!this.file) return;
    try {
      this.file.block(block);
    } catch (err) {
      this.file.abandon();
      this.file = null;
      this.scan.updateInfo({ saving_error: (err as Error).message });
    }
  }

  private endFile(): void {
    if (!this.file) return;
    try {
      this.file.end(this.scan.info.plotselect as { x: string; y: string | null }, this.state);
    } catch (err) {
      this.file.abandon();
      this.scan.updateInfo({ saving_error: (err as Error).message });
    }
  }
}

/** Per trigger: axes (encoder), trigger index, time, counters, MCA spectra/ROIs/dead time; per fast sample: its trigger, time, values. */
function createChannels(scan: Scan, axes: SimAxis[], counters: (Counter | SimMca)[], fast: FastSource[]): string[] {
  scan.setState('PREPARED');
  const names: string[] = [];
  const add = (name: string, info: Record<string, unknown>, dtype: 'float64' | 'uint32' = 'float64', shape: number[] = []) => {
    scan.createArrayStream(name, dtype, shape, info);
    names.push(name);
  };
  for (const a of axes) add(a.name, { device: a.name, kind: 'axis', unit: a.unit, description: `${a.name} encoder at each trigger` });
  add('trigger', { kind: 'trigger', description: 'trigger index (fast channels and detector frames join on it)' }, 'uint32');
  add('elapsed_time', { unit: 's', description: 'seconds since the scan started, at each trigger' });
  add('epoch', { unit: 's', description: 'Unix time at each trigger' });
  for (const c of counters) {
    if (c instanceof SimMca) {
      add(`${c.name}:spectrum`, { device: c.name, kind: 'mca', calibration: c.calibration, unit: 'counts' }, 'uint32', [c.channels]);
      for (const r of c.rois) add(`${c.name}:${r.name}`, { device: c.name, kind: 'roi', roi: r, unit: 'counts' });
      add(`${c.name}:deadtime`, { device: c.name, kind: 'deadtime', unit: 'fraction' });
    } else {
      const info = c.info();
      add(c.name, { device: c.name, kind: 'counter', unit: info.unit, description: info.description });
    }
  }
  if (fast.length) {
    add('fast:trigger', { kind: 'fast_trigger', description: 'the trigger each fast sample falls in' }, 'uint32');
    add('fast:elapsed_time', { kind: 'fast_time', unit: 's', description: 'seconds since the scan started, at each fast sample' });
    for (const f of fast) add(`fast:${f.name}`, { device: 'axis' in f ? f.axis.name : f.counter.name, kind: 'fast', unit: 'axis' in f ? f.axis.unit : 'counts' });
  }
  return names;
}
