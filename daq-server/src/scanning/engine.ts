/**
 * The step-scan engine: moves the axes to each point, counts for the count time, and appends
 * every channel (axis positions, counters, MCA spectrum, ROIs, dead time, time) to the streams of
 * ONE scan in the store. One scan at a time; abort or a fault stops the axes, relative scans
 * return to where they started, and the scan is closed with what it measured.
 */
import { EventEmitter } from 'node:events';
import { DaqError, type TypedArray } from '../protocol/index.js';
import { SCAN_LIMITS, type StepScanState, type StepScanStatus } from '../protocol/scanning.js';
import type { Scan, ScanStore, ArrayStream } from '../store/types.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { SimAxis } from '../devices/axis.js';
import type { Counter } from '../devices/counters.js';
import { SimMca } from '../devices/mca.js';
import { parseStepScan } from './request.js';
import { buildPlan, type Plan } from './plan.js';
import type { ArmedDetector, ScanDetector } from './detectors.js';
import { BlissScanFile, blissFileName } from './bliss-file.js';
import { confine } from '../files/roots.js';
import { existsSync } from 'node:fs';
import { isFlyType, parseFlyScan } from './fly/request.js';
import { FlyScanRun } from './fly/run.js';

/** What the engine keeps of a step or fly scan: one runs at a time. */
interface ActiveScan {
  readonly scan: Scan;
  readonly axes: SimAxis[];
  state: StepScanState;
  readonly abort: AbortController;
  done: Promise<void>;
  status(): StepScanStatus;
}

/** Runs kept for `scanning.status` after they end. */
const KEEP_RUNS = 64;

class Aborted extends Error {}

/** Resolve after `ms`, or reject with Aborted when `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(new Aborted());
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface Channel {
  stream: ArrayStream;
  value: (r: PointReading) => number | TypedArray;
}

interface PointReading {
  positions: number[];
  counters: Map<string, number>;
  mca: Map<string, ReturnType<SimMca['acquire']>>;
  images: Map<string, { data: TypedArray; valid: boolean }>;
  elapsed: number;
  epoch: number;
}

class StepScanRun {
  state: StepScanState = 'RUNNING';
  reason: string | null = null;
  pointsDone = 0;
  endTime: string | null = null;
  readonly abort = new AbortController();
  done!: Promise<void>;
  readonly startTime = new Date().toISOString();

  constructor(
    readonly scan: Scan,
    readonly plan: Plan,
    readonly type: StepScanStatus['type'],
    readonly axes: SimAxis[],
    readonly counters: (Counter | SimMca)[],
    readonly channels: string[],
    readonly detectors: ArmedDetector[],
    public file: BlissScanFile | null,
  ) {}

  status(): StepScanStatus {
    return {
      scan: this.scan.key,
      number: this.scan.identity.number,
      title: this.plan.title,
      type: this.type,
      state: this.state,
      points_done: this.pointsDone,
      npoints: this.plan.npoints,
      reason: this.reason,
      channels: this.channels,
      start_time: this.startTime,
      end_time: this.endTime,
    };
  }
}

export class ScanEngine extends EventEmitter<{ status: [StepScanStatus] }> {
  private current: ActiveScan | null = null;
  private readonly runs = new Map<string, ActiveScan>();

  /** a scan is being armed (detectors prepare asynchronously): no second one may start meanwhile */
  private starting = false;

  constructor(
    private readonly store: ScanStore,
    private readonly devices: DeviceRegistry,
    /** detectors by name, to count with (null: no such detector) */
    private readonly detectorOf: (name: string) => ScanDetector | null = () => null,
    /** folders clients may save scans in */
    private readonly dataRoots: readonly string[] = [],
  ) {
    super();
  }

  /** Is this axis driven by the running scan? (a client's move of it is refused meanwhile) */
  busyAxis(name: string): StepScanStatus | null {
    const run = this.current;
    return run && run.axes.some((a) => a.name === name) ? run.status() : null;
  }

  /** Validate everything, then start the scan; returns at once with its number and key. */
  async run(raw: Record<string, unknown>): Promise<StepScanStatus> {
    if (isFlyType(raw.type)) return this.runFly(raw);
    const req = parseStepScan(raw);
    this.checkIdle();
    const axes = (req.axes ?? []).map((a, k) => {
      try {
        return this.devices.axis(a.axis);
      } catch (err) {
        throw new DaqError('ParameterError', `axes[${k}].axis: ${(err as Error).message}`, [{ field: `axes[${k}].axis`, message: (err as Error).message }]);
      }
    });
    for (const a of axes) {
      if (a.state === 'MOVING' || a.state === 'FAULT') throw new DaqError('StateError', `${a.name} is ${a.state}${a.state === 'FAULT' ? ' (reset it first)' : ''}; the scan did not start`);
    }
    const { counters, detectors } = this.countersOf(req.counters);
    const plan = buildPlan(req, (name) => this.devices.axis(name).position);
    for (const e of plan.extremes) this.devices.axis(e.axis).checkTarget(e.value, e.field);
    if (detectors.length && plan.npoints === null) {
      throw new DaqError('ParameterError', 'counters: detectors count a known number of points; give timescan an npoints', [{ field: 'counters', message: 'a detector needs npoints > 0' }]);
    }
    const saveDir = req.save_dir === undefined ? null : await this.saveDir(req.save_dir);
    const identity = { name: req.name ?? req.type, ...(req.session ? { session: req.session } : {}), ...(req.sample ? { sample: req.sample } : {}), ...(req.proposal ? { proposal: req.proposal } : {}) };
    if (saveDir && existsSync(blissFileName(saveDir, this.store.nextNumber(identity)))) {
      const path = blissFileName(saveDir, this.store.nextNumber(identity));
      throw new DaqError('ParameterError', `save_dir: ${path} exists already; scans are never overwritten`, [{ field: 'save_dir', message: `${path} exists` }]);
    }
    // the detectors' acquisition scans carry the step scan's number (created first, they would take it)
    const number = this.store.nextNumber(identity);
    const armed = await this.arm(detectors, plan, req.count_time, { number, ...(req.session ? { session: req.session } : {}) });

    const scan = this.store.createScan({ ...identity, number }, {
        title: plan.title,
        type: req.type,
        scan_engine: 'step',
        count_time: req.count_time,
        npoints: plan.npoints,
        axes: plan.axes,
        counters: [...counters.map((c) => c.name), ...armed.map((d) => d.name)],
        detectors: Object.fromEntries(armed.map((d) => [d.name, { scan: d.scanKey, acquisition: d.uuid }])),
        start_time: new Date().toISOString(),
        plotselect: null,
        ...(plan.grid ? { grid: plan.grid } : {}),
      });
    const channels = this.createChannels(scan, axes, counters, armed);
    const firstCounter = channels.find((c) => !plan.axes.includes(c) && c !== 'elapsed_time' && c !== 'epoch' && !c.endsWith(':spectrum')) ?? null;
    scan.updateInfo({ plotselect: { x: plan.xAxis ?? 'elapsed_time', y: firstCounter }, channels });
    let file: BlissScanFile | null = null;
    if (saveDir) {
      const path = blissFileName(saveDir, scan.identity.number);
      try {
        file = new BlissScanFile(path, scan, Object.fromEntries(this.devices.axes().map((a) => [a.name, a.position])));
      } catch (err) {
        for (const d of armed) d.end(true);
        scan.updateInfo({ end_state: 'FAULT', end_reason: `cannot create ${path}: ${(err as Error).message}` });
        scan.close();
        throw new DaqError('ParameterError', `save_dir: cannot create ${path}: ${(err as Error).message}`, [{ field: 'save_dir', message: (err as Error).message }]);
      }
      scan.updateInfo({ saving: { master: path, layout: 'bliss' } });
    }
    const run = new StepScanRun(scan, plan, req.type, axes, counters, channels, armed, file);
    this.current = run;
    this.runs.set(scan.key, run);
    while (this.runs.size > KEEP_RUNS) this.runs.delete(this.runs.keys().next().value!);
    run.done = this.loop(run, req.count_time, req.sleep_time ?? 0);
    this.emit('status', run.status());
    return run.status();
  }

  private checkIdle(): void {
    if (this.starting) throw new DaqError('StateError', 'another scan is being prepared; wait for it or abort it');
    if (this.current) {
      throw new DaqError('StateError', `scan ${this.current.scan.identity.number} (${this.current.status().title}) is running; wait for it or abort it`);
    }
  }

  /** fscan / fmesh: scanning/fly/ checks, arms and runs it; here it is one scan among the others. */
  private async runFly(raw: Record<string, unknown>): Promise<StepScanStatus> {
    const req = parseFlyScan(raw);
    this.checkIdle();
    this.starting = true;
    let run: FlyScanRun;
    try {
      run = await FlyScanRun.prepare(
        req,
        { store: this.store, devices: this.devices, detectorOf: this.detectorOf, saveDir: (d) => this.saveDir(d) },
        (r) => {
          if (this.current === r) this.current = null;
          this.emit('status', r.status());
        },
      );
    } finally {
      this.starting = false;
    }
    if (run.state === 'RUNNING') this.current = run; // (it cannot have ended yet; never left as current if it did)
    this.runs.set(run.scan.key, run);
    while (this.runs.size > KEEP_RUNS) this.runs.delete(this.runs.keys().next().value!);
    this.emit('status', run.status());
    return run.status();
  }

  /** The folder a client names for its files: absolute, inside the data roots. */
  private async saveDir(dir: string): Promise<string> {
    try {
      return await confine(dir, this.dataRoots);
    } catch (err) {
      throw new DaqError('ParameterError', `save_dir: ${(err as Error).message}`, [{ field: 'save_dir', message: (err as Error).message }]);
    }
  }

  /** Counters and MCAs of the registry, and detectors, by name (none named: every counter and MCA). */
  private countersOf(names: string[] | undefined): { counters: (Counter | SimMca)[]; detectors: ScanDetector[] } {
    if (!names || names.length === 0) return { counters: this.devices.countable(), detectors: [] };
    const counters: (Counter | SimMca)[] = [];
    const detectors: ScanDetector[] = [];
    names.forEach((n, k) => {
      const d = this.devices.has(n) ? this.devices.get(n) : null;
      const det = d ? null : this.detectorOf(n);
      if (det) return void detectors.push(det);
      if (!d || d.kind === 'axis') {
        const known = this.devices.countable().map((c) => c.name);
        throw new DaqError('ParameterError', `counters[${k}]: unknown counter ${JSON.stringify(n)}; counters: ${known.join(', ')} and the detectors`, [
          { field: `counters[${k}]`, message: `unknown counter ${JSON.stringify(n)}` },
        ]);
      }
      counters.push(d as Counter | SimMca);
    });
    return { counters, detectors };
  }

  /** Prepare and start every detector for the scan's points; on a failure, stop those already armed. */
  private async arm(detectors: ScanDetector[], plan: Plan, countTime: number, identity: { number: number; session?: string }): Promise<ArmedDetector[]> {
    const armed: ArmedDetector[] = [];
    this.starting = true;
    try {
      for (const d of detectors) armed.push(await d.arm(plan.npoints!, countTime, plan.title, identity));
      return armed;
    } catch (err) {
      for (const a of armed) a.end(true);
      throw err;
    } finally {
      this.starting = false;
    }
  }

  /** One scalar stream per axis and counter, the spectrum, ROIs and dead time per MCA, and time. */
  private createChannels(scan: Scan, axes: SimAxis[], counters: (Counter | SimMca)[], detectors: ArmedDetector[]): string[] {
    scan.setState('PREPARED');
    const names: string[] = [];
    const scalar = (name: string, info: Record<string, unknown>) => {
      scan.createArrayStream(name, 'float64', [], info);
      names.push(name);
    };
    for (const a of axes) scalar(a.name, { device: a.name, kind: 'axis', unit: a.unit, description: `${a.name} position` });
    scalar('elapsed_time', { unit: 's', description: 'seconds since the scan started, at the end of each point' });
    scalar('epoch', { unit: 's', description: 'Unix time at the end of each point' });
    for (const c of counters) {
      if (c instanceof SimMca) {
        scan.createArrayStream(`${c.name}:spectrum`, 'uint32', [c.channels], { device: c.name, kind: 'mca', calibration: c.calibration, unit: 'counts' });
        names.push(`${c.name}:spectrum`);
        for (const r of c.rois) scalar(`${c.name}:${r.name}`, { device: c.name, kind: 'roi', roi: r, unit: 'counts' });
        scalar(`${c.name}:deadtime`, { device: c.name, kind: 'deadtime', unit: 'fraction' });
      } else {
        const info = c.info();
        scalar(c.name, { device: c.name, kind: 'counter', unit: info.unit, description: info.description });
      }
    }
    for (const d of detectors) {
      scan.createArrayStream(`${d.name}:image`, d.dtype, d.shape, { device: d.name, kind: 'image', acquisition_scan: d.scanKey });
      names.push(`${d.name}:image`);
    }
    return names;
  }

  private async loop(run: StepScanRun, countTime: number, sleepTime: number): Promise<void> {
    const { scan, plan, axes, abort } = run;
    const signal = abort.signal;
    const t0 = performance.now();
    const channels = this.channelWriters(run);
    const rois = new Map(run.counters.filter((c): c is SimMca => c instanceof SimMca).map((m) => [m.name, m.rois]));
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Aborted()), { once: true }));
    aborted.catch(() => undefined);
    try {
      scan.setState('STARTED');
      for (let i = 0; plan.npoints === null || i < plan.npoints; i++) {
        if (signal.aborted) throw new Aborted();
        const target = plan.point(i);
        await Promise.race([Promise.all(axes.map((a, k) => (a.position === target[k] && a.state === 'READY' ? undefined : a.move(target[k])))), aborted]);
        for (const a of axes) {
          if (a.state === 'FAULT' || a.state === 'LIMIT') throw new DaqError('FaultError', `${a.name} ${a.state} at point ${i}: ${a.info().reason}`);
        }
        const positions = axes.map((a) => a.position);
        // detectors expose during the count: triggered with it, their frames awaited after it
        const frames = run.detectors.map((d) => d.trigger(i, countTime));
        frames.forEach((f) => f.catch(() => undefined));
        if (countTime > 0) await sleep(countTime * 1000, signal);
        else await new Promise((r) => setImmediate(r)); // a 0 s count still lets the server breathe
        const images = new Map((await Promise.race([Promise.all(frames), aborted])).map((f, k) => [run.detectors[k].name, f]));
        const beam = this.devices.beam();
        const exposure = { seconds: countTime, x: beam.x, y: beam.y, scan: scan.identity.number, point: i };
        const reading: PointReading = { positions, counters: new Map(), mca: new Map(), images, elapsed: (performance.now() - t0) / 1000, epoch: Date.now() / 1000 };
        for (const c of run.counters) {
          if (c instanceof SimMca) reading.mca.set(c.name, c.acquire(exposure, rois.get(c.name)));
          else reading.counters.set(c.name, c.read(exposure));
        }
        const row = new Map<string, number | TypedArray>();
        for (const ch of channels) {
          const v = ch.value(reading);
          row.set(ch.stream.name, v);
          ch.stream.append(typeof v === 'number' ? new Float64Array([v]) : [v], undefined, [reading.epoch * 1000]);
        }
        this.saveRow(run, row);
        this.store.enforceBudget();
        run.pointsDone = i + 1;
        if (sleepTime > 0 && (plan.npoints === null || i + 1 < plan.npoints)) await sleep(sleepTime * 1000, signal);
      }
      run.state = 'DONE';
    } catch (err) {
      run.state = err instanceof Aborted ? 'ABORTED' : 'FAULT';
      run.reason = err instanceof Aborted ? 'aborted' : (err as Error).message;
    } finally {
      for (const a of axes) a.stop();
      for (const d of run.detectors) d.end(run.state !== 'DONE');
      await this.returnToOrigin(run);
      run.endTime = new Date().toISOString();
      scan.updateInfo({ end_time: run.endTime, end_state: run.state, end_reason: run.reason, points_done: run.pointsDone });
      this.endFile(run);
      scan.close();
      this.current = null;
      this.emit('status', run.status());
    }
  }

  /** A file that fails mid-scan is given up (said in the scan's info); the scan and its streams go on. */
  private saveRow(run: StepScanRun, row: Map<string, number | TypedArray>): void {
    if (!run.file) return;
    try {
      run.file.point(row);
    } catch (err) {
      run.file.abandon();
      run.file = null;
      run.scan.updateInfo({ saving_error: (err as Error).message });
    }
  }

  /** Close the scan's file; a file that cannot be finished is said in the scan's info, the scan stays intact. */
  private endFile(run: StepScanRun): void {
    if (!run.file) return;
    try {
      run.file.end(run.scan.info.plotselect as { x: string; y: string | null }, run.state);
    } catch (err) {
      run.file.abandon();
      run.scan.updateInfo({ saving_error: (err as Error).message });
    }
  }

  /** Relative scans put their axes back where they started (a faulted axis stays where it is). */
  private async returnToOrigin(run: StepScanRun): Promise<void> {
    if (!run.plan.origin) return;
    await Promise.all(
      run.axes.map(async (a, k) => {
        if (a.state !== 'READY' && a.state !== 'LIMIT') return;
        try {
          await a.move(run.plan.origin![k]);
        } catch (err) {
          run.reason = `${run.reason ? `${run.reason}; ` : ''}${a.name} did not return to ${run.plan.origin![k]}: ${(err as Error).message}`;
        }
      }),
    );
  }

  private channelWriters(run: StepScanRun): Channel[] {
    const s = (name: string) => run.scan.stream(name) as ArrayStream;
    const out: Channel[] = run.axes.map((a, k) => ({ stream: s(a.name), value: (r) => r.positions[k] }));
    out.push({ stream: s('elapsed_time'), value: (r) => r.elapsed }, { stream: s('epoch'), value: (r) => r.epoch });
    for (const c of run.counters) {
      if (c instanceof SimMca) {
        out.push({ stream: s(`${c.name}:spectrum`), value: (r) => r.mca.get(c.name)!.spectrum });
        run.scan.streams.forEach((stream, name) => {
          const roi = stream.info.roi as { name: string } | undefined;
          if (stream.info.device === c.name && roi) {
            const k = c.rois.findIndex((x) => x.name === roi.name);
            out.push({ stream: s(name), value: (r) => r.mca.get(c.name)!.rois[k] });
          }
        });
        out.push({ stream: s(`${c.name}:deadtime`), value: (r) => r.mca.get(c.name)!.dead_time });
      } else {
        out.push({ stream: s(c.name), value: (r) => r.counters.get(c.name)! });
      }
    }
    for (const d of run.detectors) out.push({ stream: s(`${d.name}:image`), value: (r) => r.images.get(d.name)!.data });
    return out;
  }

  private run_(key: unknown): ActiveScan {
    if (key === undefined || key === null) {
      if (this.current) return this.current;
      const last = [...this.runs.values()].pop();
      if (last) return last;
      throw new DaqError('NotFoundError', 'no step scan has run yet');
    }
    const run = typeof key === 'string' ? this.runs.get(key) : undefined;
    if (!run) throw new DaqError('NotFoundError', `no step scan ${JSON.stringify(key)} (the last ${KEEP_RUNS} are kept)`);
    return run;
  }

  status(key?: unknown): StepScanStatus {
    return this.run_(key).status();
  }

  /** Wait until the scan ends or `timeout` seconds pass (at most SCAN_LIMITS.maxWait). */
  async wait(key: unknown, timeout: number): Promise<StepScanStatus> {
    const run = this.run_(key);
    const ac = new AbortController();
    await Promise.race([run.done, sleep(Math.min(timeout, SCAN_LIMITS.maxWait) * 1000, ac.signal).catch(() => undefined)]);
    ac.abort();
    return run.status();
  }

  /** Abort the running scan (or the one named): the axes stop, relative scans return. */
  async abort(key?: unknown): Promise<StepScanStatus> {
    const run = this.run_(key);
    if (run.state === 'RUNNING') {
      run.abort.abort();
      await run.done;
    }
    return run.status();
  }

  shutdown(): void {
    this.current?.abort.abort();
  }
}
