/**
 * One acquisition: the timing of a prepared run, frames pulled from the
 * receivers into the scan's streams, counters, and the state it is in.
 *
 * Frame i of an internal-trigger run is ready at t0 + i·period + expo_time
 * (period = expo_time + latency_time). The pump produces every frame that is
 * due, in batches, so rates above the timer resolution (5 kHz and more) are
 * honoured on average without a timer per frame.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { DaqError, type AcqState, type AcqStatus, type Counters, type RunWarning, type TriggerMode } from '../protocol/index.js';
import { DetectorFault, type DetectorRun, type PushedResult, type PushedSource, type ReceivedFrame, type Receiver } from '../detectors/plugin.js';
import { log } from '../log.js';
import type { Scan } from '../store/types.js';
import type { FrameSink, TruthRecorder } from '../processing/sink.js';
import type { ScanSaver } from '../saving/saver.js';
import { assertAllowed, type Command } from './state-machine.js';

export interface AcquisitionParams {
  nb_frames: number;
  expo_time: number;
  latency_time: number;
  trigger_mode: TriggerMode;
  nb_frames_per_trigger: number;
}

export interface PrepareParams {
  acquisition: AcquisitionParams;
  detector: Record<string, unknown>;
  processing: Record<string, unknown>;
  saving: Record<string, unknown>;
  scan: Record<string, unknown>;
}

export interface AcquisitionEvents {
  state: [AcqStatus];
  counters: [AcqStatus];
}

/** Longest a single pump turn may run before yielding to the event loop (ms). */
const PUMP_SLICE_MS = 8;
/** Unpaced runs (replays): frames read ahead of processing and saving, per receiver. */
const UNPACED_AHEAD = 8;
/** Unpaced runs: how long to wait for processing or saving to catch up before reading on (s). */
const UNPACED_WAIT = 0.001;
/** Pushed runs (real detectors): frames taken from the receivers per pump turn. */
const PUSHED_BATCH = 64;
/** Counter events per second while running. */
const COUNTER_HZ = 5;
/** The achieved rate may fall this much below the asked one (fraction) before the run says so. */
const RATE_TOLERANCE = 0.1;
/** Lateness of the last frame (s) that timers alone may cause on a busy machine: not a slow detector. */
const TIMER_SLACK = 0.05;
/** Runs shorter than this (frames) are not judged on their rate: start-up dominates. */
const MIN_FRAMES_FOR_RATE = 10;
/** Window of the live rate (`fps`), seconds. */
const FPS_WINDOW = 1;

const now = (): number => performance.now() / 1000;
/** wall clock with sub-millisecond resolution: frames' acquisition timestamps (clients compare it with their Date.now()) */
const wallClockMs = (): number => performance.timeOrigin + performance.now();

export class Acquisition extends EventEmitter<AcquisitionEvents> {
  readonly uuid = randomUUID();
  private stateValue: AcqState = 'PREPARED';
  private reasonValue: string | null = null;
  /**
   * What the run needs while it runs. Let go once the acquisition is finished: the controller keeps finished
   * acquisitions for status queries, and each still holding its detector run, receivers and processing sink
   * cost megabytes (per-pixel masks, maps), so RSS grew with every scan however small the store.
   */
  private live: { run: DetectorRun; receivers: Receiver[]; sink: FrameSink; truth: TruthRecorder; saver: ScanSaver | null } | null;
  /** true once every result is in the store and the scan is closed */
  private finishedValue = false;
  private readonly period: number;
  private t0 = 0;
  private tEnd: number | null = null;
  /** frames the detector is allowed to produce so far (grows with software triggers) */
  private armed = 0;
  /** time at which each software trigger arrived, with the first frame it covers */
  private triggers: { time: number; first: number }[] = [];
  /** cancels the pending pump turn, when one is scheduled */
  private timer: (() => void) | null = null;
  private counterTimer: NodeJS.Timeout | null = null;
  private rateSamples: { t: number; n: number }[] = [];
  /** when the newest frame was acquired (s of `now()`) */
  private tLastFrame = 0;

  constructor(
    readonly detector: string,
    readonly params: PrepareParams,
    run: DetectorRun,
    readonly scan: Scan,
    readonly counters: Counters,
    sink: FrameSink,
    truth: TruthRecorder,
    saver: ScanSaver | null = null,
  ) {
    super();
    const acq = params.acquisition;
    this.period = acq.expo_time + acq.latency_time;
    this.live = { run, receivers: [run.receiver(0, 1)], sink, truth, saver };
    sink.onFault((reason) => this.fail(reason));
    // saving that cannot go on stops the acquisition; what was acquired is still processed and what was queued still written
    saver?.onError((reason) => {
      if (this.stateValue === 'RUNNING' || this.stateValue === 'PREPARED') this.fault(reason);
    });
    scan.setState('PREPARED');
  }

  /** Fresh counters for `receivers` receivers. */
  static counters(receivers: number): Counters {
    return {
      nb_frames_acquired: 0,
      nb_frames_transferred: new Array(receivers).fill(0),
      nb_frames_processed: 0,
      nb_frames_saved: 0,
      nb_frames_dropped: 0,
      nb_frames_invalid: 0,
    };
  }

  private liveParts(): NonNullable<Acquisition['live']> {
    if (!this.live) throw new Error(`acquisition ${this.uuid} is finished: its run was released`);
    return this.live;
  }
  private get run(): DetectorRun {
    return this.liveParts().run;
  }
  private get receivers(): Receiver[] {
    return this.liveParts().receivers;
  }
  private get sink(): FrameSink {
    return this.liveParts().sink;
  }
  private get truth(): TruthRecorder {
    return this.liveParts().truth;
  }
  private get saver(): ScanSaver | null {
    return this.live?.saver ?? null;
  }

  /** Acquisition and processing are over and every result is in the (closed) scan. */
  get finished(): boolean {
    return this.finishedValue;
  }

  get state(): AcqState {
    return this.stateValue;
  }

  get reason(): string | null {
    return this.reasonValue;
  }

  get nbFrames(): number {
    return this.params.acquisition.nb_frames;
  }

  status(): AcqStatus {
    return {
      uuid: this.uuid,
      detector: this.detector,
      state: this.stateValue,
      reason: this.reasonValue,
      counters: { ...this.counters, nb_frames_transferred: [...this.counters.nb_frames_transferred] },
      nb_frames: this.nbFrames,
      scan: this.scan.key,
      elapsed: this.t0 ? (this.tEnd ?? now()) - this.t0 : null,
      fps: this.fps(),
      rate_asked: this.rateAsked(),
      rate_achieved: this.rateAchieved(),
      warnings: this.runWarnings(),
      finished: this.finishedValue,
    };
  }

  /** The frame rate the run asked for (internal trigger: 1 / (expo_time + latency_time)); null when triggers pace it. */
  private rateAsked(): number | null {
    const acq = this.params.acquisition;
    return acq.trigger_mode === 'internal' && this.period > 0 ? 1 / this.period : null;
  }

  /** Average frames acquired per second since start (to the end once stopped); null before start. */
  private rateAchieved(): number | null {
    if (!this.t0) return null;
    const dt = (this.tEnd ?? now()) - this.t0;
    return dt > 0 ? this.counters.nb_frames_acquired / dt : null;
  }

  /**
   * The frames came clearly later than their period says: the time to frame n
   * exceeds the ideal one ((n - 1) · period + expo_time) by more than
   * RATE_TOLERANCE plus the timers' slack (a loaded event loop delays the last frame a little).
   */
  private tooSlow(): boolean {
    const n = this.counters.nb_frames_acquired;
    if (!this.t0 || n < 1) return false;
    const elapsed = this.tLastFrame - this.t0; // not tEnd: a stop() between frames is not slowness
    const ideal = (n - 1) * this.period + this.params.acquisition.expo_time;
    return elapsed > ideal * (1 + RATE_TOLERANCE) + TIMER_SLACK;
  }

  /**
   * What a person must know about how the run went, for the scan's logbook:
   * frames dropped by processing, and a detector that could not keep the asked rate.
   */
  private runWarnings(): RunWarning[] {
    const c = this.counters;
    const out: RunWarning[] = [];
    if (c.nb_frames_dropped > 0) {
      const pct = (100 * c.nb_frames_dropped) / Math.max(1, c.nb_frames_acquired);
      out.push({
        kind: 'dropped_frames',
        message:
          `${c.nb_frames_dropped} of ${c.nb_frames_acquired} frames (${pct.toFixed(1)} %) were dropped: processing did not keep up. ` +
          'A detector cannot be slowed down: give it more receivers (processing.nb_receivers, topology "dynamic"), ' +
          'a larger processing.max_pending for bursts, or a lower frame rate (README: "Sizing receivers")',
      });
    }
    // a real detector: what it dropped itself (its stream buffer overflowed) beside what never reached us
    const losses = (this.lastLosses = this.live?.run.pushed?.losses?.() ?? this.lastLosses);
    if (losses && ((losses.detector_dropped ?? 0) > 0 || losses.missing_image_ids > 0)) {
      out.push({
        kind: 'detector_dropped',
        message:
          `${this.detector} dropped ${losses.detector_dropped ?? 'an unknown number of'} images by its own count (its stream buffer overflowed: ` +
          `the receivers did not take them as fast as it sent them); ${losses.missing_image_ids} image ids never reached daqlab's receivers. ` +
          'Give it more receivers (processing.nb_receivers), a lighter pipeline or a lower frame rate',
      });
    }
    const asked = this.rateAsked();
    const achieved = this.rateAchieved();
    if (asked !== null && achieved !== null && c.nb_frames_acquired >= MIN_FRAMES_FOR_RATE && this.tooSlow()) {
      out.push({
        kind: 'frame_rate',
        message:
          `${this.detector} acquired at ${achieved.toPrecision(3)} frames/s instead of the ${asked.toPrecision(3)} frames/s asked ` +
          (this.lastLosses ? '(the detector\'s images came slower than its frame rate, or were lost: see detector_series)' : '(the simulator could not make frames that fast on this machine)'),
      });
    }
    return out;
  }

  /** a real detector's losses as last read (kept once the run is released) */
  private lastLosses: { detector_dropped: number | null; missing_image_ids: number } | null = null;

  /** The detector has stopped acquiring (STOPPED or FAULT), whether or not results are still draining. */
  private ended(): boolean {
    return this.stateValue === 'STOPPED' || this.stateValue === 'FAULT';
  }

  private check(command: Command): void {
    assertAllowed(command, this.stateValue, `acquisition ${this.uuid}`);
  }

  start(): void {
    this.check('start');
    const mode = this.params.acquisition.trigger_mode;
    this.t0 = now();
    // internal and (simulated) external triggers: the detector paces itself from start
    this.armed = mode === 'software' ? 0 : this.limit();
    this.scan.setState('STARTED');
    this.scan.updateInfo({ start_time: new Date().toISOString() });
    this.setState('RUNNING');
    this.counterTimer = setInterval(() => this.emit('counters', this.status()), 1000 / COUNTER_HZ);
    const pushed = this.run.pushed;
    if (pushed) {
      // a real detector: frames come when it sends them; it is armed (and fired) now
      pushed.onReady(() => this.schedule(0));
      pushed.start().catch((err: Error) => {
        if (this.stateValue === 'RUNNING') this.fault(`detector fault: ${err.message}`);
      });
    }
    this.schedule(0);
    // the master exists from the start (a crash leaves one that opens); a master that cannot be written faults the acquisition
    this.saver?.start();
  }

  trigger(): void {
    this.check('trigger');
    const { trigger_mode, nb_frames_per_trigger } = this.params.acquisition;
    if (trigger_mode !== 'software') {
      throw new DaqError(
        'StateError',
        `trigger() is only for trigger_mode 'software'; this acquisition uses '${trigger_mode}'`,
        undefined,
        { state: this.stateValue },
      );
    }
    if (this.armed >= this.limit()) {
      throw new DaqError('StateError', `all ${this.nbFrames} frames have already been triggered`, undefined, {
        state: this.stateValue,
      });
    }
    this.triggers.push({ time: now(), first: this.armed });
    this.armed = Math.min(this.limit(), this.armed + nb_frames_per_trigger);
    this.live?.run.pushed?.trigger().catch((err: Error) => {
      if (this.stateValue === 'RUNNING') this.fault(`detector fault: trigger: ${err.message}`);
    });
    this.schedule(0);
  }

  /** Graceful stop: what was acquired is kept (and, once pipelines exist, processed). */
  stop(): void {
    if (this.ended()) return; // nothing left to stop: a finished run is not an error
    this.check('stop');
    this.detectorCommand('stop');
    this.finish('stopped');
  }

  /** Immediate stop. Frames already stored stay readable; the scan records that it was aborted. */
  abort(): void {
    if (this.ended()) return;
    this.check('abort');
    this.detectorCommand('abort');
    this.finish('aborted');
  }

  /**
   * The scan store failed (e.g. Redis unreachable, store/redis/): the acquisition FAULTs with the reason;
   * what was acquired is still processed, kept in memory and saved.
   */
  storeFault(reason: string): void {
    if (this.stateValue === 'RUNNING' || this.stateValue === 'PREPARED') this.fault(reason);
  }

  /** Release the run without starting it (a new prepare replaced it, or the server shuts down). */
  discard(reason: string): void {
    if (this.stateValue === 'RUNNING') this.finish(reason);
    else if (this.stateValue === 'PREPARED') {
      this.end('STOPPED', reason);
      this.sink.abort();
      this.close(reason);
    }
  }

  // ------------------------------------------------------------ timing

  private limit(): number {
    return this.nbFrames === 0 ? Number.POSITIVE_INFINITY : this.nbFrames;
  }

  /** When frame i is ready (end of its exposure), in seconds of `now()`. */
  private due(i: number): number {
    const expo = this.params.acquisition.expo_time;
    if (this.params.acquisition.trigger_mode !== 'software') return this.t0 + i * this.period + expo;
    // the trigger that covers frame i: the last one whose first frame is ≤ i
    let k = this.triggers.length - 1;
    while (k > 0 && this.triggers[k].first > i) k--;
    const trig = this.triggers[k];
    return trig.time + (i - trig.first) * this.period + expo;
  }

  private schedule(delaySeconds: number): void {
    if (this.timer || this.stateValue !== 'RUNNING') return;
    const fire = (): void => {
      this.timer = null;
      this.pump();
    };
    if (delaySeconds <= 0) {
      const handle = setImmediate(fire);
      this.timer = () => clearImmediate(handle);
    } else {
      const handle = setTimeout(fire, delaySeconds * 1000);
      this.timer = () => clearTimeout(handle);
    }
  }

  /** Tell a real detector to stop or abort its series; what it answers is logged, the acquisition ends anyway. */
  private detectorCommand(command: 'stop' | 'abort'): void {
    this.live?.run.pushed?.[command]().catch((err: Error) => log('warn', `${this.detector}: ${command}: ${err.message}`, { uuid: this.uuid }));
  }

  /** A real detector: store what arrived; the series' end (or fault) ends the acquisition. */
  private pumpPushed(pushed: PushedSource): void {
    for (const m of pushed.takeMaps()) {
      this.scan.createArrayStream(m.name, m.dtype, m.shape, { description: `${m.name} the detector sent with the series` }).append([m.data]);
    }
    const batch = pushed.take(PUSHED_BATCH);
    for (const f of batch) f.time ??= wallClockMs();
    this.store(batch);
    this.storeChannels(batch);
    for (const r of pushed.takeResults?.() ?? []) this.storeResult(r);
    if (batch.length === PUSHED_BATCH) return this.schedule(0);
    const ended = pushed.ended;
    if (ended?.fault) this.fault(`detector fault: ${ended.fault}`);
    else if (ended) this.finish('completed');
  }

  /** Multi-threshold detectors: the other channels go into streams `frame_<channel>`. */
  private storeChannels(batch: ReceivedFrame[]): void {
    for (const f of batch) {
      for (const [channel, data] of Object.entries(f.channels ?? {})) {
        const name = `frame_${channel}`;
        let stream = this.channelStreams.get(name);
        if (!stream) {
          stream = this.scan.createArrayStream(name, this.run.dtype, this.run.shape, { description: `detector frames of ${channel}`, detector: this.detector });
          this.channelStreams.set(name, stream);
        }
        stream.append([data], [f.valid], [f.time ?? NaN]);
      }
    }
  }

  private readonly channelStreams = new Map<string, ReturnType<Scan['createArrayStream']>>();

  /** Results the detector computed (Jungfraujoch): into streams of their names, `detector_<name>` where a pipeline has that name. */
  private storeResult(r: PushedResult): void {
    let stream = this.resultStreams.get(r.stream);
    if (!stream) {
      const name = this.scan.streams.has(r.stream) ? `detector_${r.stream}` : r.stream;
      const info = { ...r.info, detector: this.detector };
      stream = r.kind === 'event' ? this.scan.createEventStream(name, info) : this.scan.createArrayStream(name, r.dtype, r.shape, info);
      this.resultStreams.set(r.stream, stream);
    }
    if (r.kind === 'event') {
      if (r.events.length) (stream as ReturnType<Scan['createEventStream']>).append(r.events, r.frames);
    } else if (r.items.length) (stream as ReturnType<Scan['createArrayStream']>).append(r.items, undefined, undefined, r.frames);
  }

  private readonly resultStreams = new Map<string, ReturnType<Scan['createArrayStream']> | ReturnType<Scan['createEventStream']>>();

  private pump(): void {
    if (this.stateValue !== 'RUNNING') return;
    const pushed = this.run.pushed;
    if (pushed) return this.pumpPushed(pushed);
    const start = now();
    const batch: ReceivedFrame[] = [];
    let i = this.counters.nb_frames_acquired;
    const unpaced = this.run.unpaced === true;
    try {
      while (i < this.armed && (unpaced ? this.inFlight() + batch.length < this.ahead() : this.due(i) <= now())) {
        const frame = this.receivers[0].receive(i);
        frame.time = wallClockMs();
        batch.push(frame);
        i++;
        if ((now() - start) * 1000 > PUMP_SLICE_MS) break;
      }
    } catch (err) {
      this.store(batch);
      this.fault(err instanceof DetectorFault ? `detector fault: ${err.message}` : `receiver failed: ${String(err)}`);
      return;
    }
    this.store(batch);
    if (this.counters.nb_frames_acquired >= this.limit()) {
      this.finish('completed');
      return;
    }
    if (this.counters.nb_frames_acquired < this.armed) {
      this.schedule(unpaced ? (batch.length ? 0 : UNPACED_WAIT) : this.due(this.counters.nb_frames_acquired) - now());
    }
  }

  /** Frames acquired but not yet through processing (released or dropped) and saving. */
  private inFlight(): number {
    const c = this.counters;
    return c.nb_frames_acquired - c.nb_frames_processed - c.nb_frames_dropped + (this.saver?.queued ?? 0);
  }

  /**
   * Unpaced runs keep this many frames in flight: enough to keep every receiver
   * busy, bounded memory, and never more than the receivers queue (no drops).
   */
  private ahead(): number {
    const maxPending = Number(this.params.processing?.max_pending ?? Infinity);
    return Math.max(1, Math.min(UNPACED_AHEAD * this.counters.nb_frames_transferred.length, maxPending));
  }

  private store(batch: ReceivedFrame[]): void {
    if (batch.length === 0) return;
    this.tLastFrame = now();
    this.counters.nb_frames_acquired += batch.length;
    this.counters.nb_frames_invalid += batch.reduce((n, f) => n + (f.valid ? 0 : 1), 0);
    this.truth.record(batch);
    this.sink.submit(batch);
  }

  /**
   * The one rate clients show: frames acquired per second over the last
   * FPS_WINDOW seconds while running; once the detector has stopped, the average
   * over the run (rate_achieved), so the last number shown agrees with the totals.
   */
  private fps(): number {
    if (this.tEnd !== null || !this.t0) return this.rateAchieved() ?? 0;
    const s = this.rateSamples;
    const t = now();
    s.push({ t, n: this.counters.nb_frames_acquired });
    while (s.length > 2 && t - s[1].t >= FPS_WINDOW) s.shift();
    const dt = t - s[0].t;
    // first moments of the run: the average since start
    return dt > 0 ? (s[s.length - 1].n - s[0].n) / dt : (this.rateAchieved() ?? 0);
  }

  // ------------------------------------------------------------ ending

  /** The detector has stopped: processing drains in the background, then the scan closes. */
  private finish(reason: string): void {
    this.end('STOPPED', reason);
    if (reason === 'aborted') {
      this.sink.abort();
      this.close(reason);
    } else {
      this.sink.finish().then(
        () => this.close(reason),
        (err) => this.fail(`processing failed while draining: ${String(err)}`),
      );
    }
  }

  /** The detector failed: what was acquired is still processed, then the scan closes. */
  private fault(reason: string): void {
    this.end('FAULT', reason);
    this.sink.finish().then(
      () => this.close(reason),
      () => this.close(reason),
    );
  }

  /** Processing failed: stop everything now; what was released stays readable. */
  private fail(reason: string): void {
    if (this.finishedValue) return;
    this.sink.abort();
    this.end('FAULT', reason);
    this.close(reason);
  }

  /** Stop timing and the receivers; the acquisition takes `state`. */
  private end(state: AcqState, reason: string): void {
    this.timer?.();
    this.timer = null;
    if (this.counterTimer) clearInterval(this.counterTimer);
    this.counterTimer = null;
    if (this.tEnd === null) this.tEnd = now();
    this.reasonValue = reason;
    for (const r of this.receivers) r.close();
    this.run.close();
    this.setState(state);
  }

  /** Every result is in: let saving write what it has, then record how the scan ended and close it. */
  private close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.saver) return this.closed(reason);
    // the master records how the scan ended
    if (this.scan.state !== 'CLOSED') this.scan.updateInfo(this.endInfo(reason));
    this.saver.finish(reason).then(
      () => this.closed(reason),
      (err) => this.closed(`${reason}; saving failed: ${String(err)}`),
    );
  }

  private closing = false;

  /** How the run ended, for the scan info (and the master file): counters, rates asked and achieved, warnings. */
  private endInfo(reason: string): Record<string, unknown> {
    return {
      end_time: new Date().toISOString(),
      end_reason: reason,
      counters: { ...this.counters, nb_frames_transferred: [...this.counters.nb_frames_transferred] },
      frame_rate: { asked: this.rateAsked(), achieved: this.rateAchieved() },
      warnings: this.runWarnings().map((w) => w.message),
      ...(this.live?.run.pushed ? { detector_series: this.live.run.pushed.describeSeries() } : {}),
    };
  }

  private closed(reason: string): void {
    if (this.finishedValue) return;
    this.finishedValue = true;
    if (this.scan.state !== 'CLOSED') {
      this.scan.updateInfo(this.endInfo(reason));
      this.scan.setState('STOPPED');
      this.scan.close();
    }
    this.emit('counters', this.status());
    this.emit('state', this.status());
    this.live = null;
  }

  private setState(state: AcqState): void {
    this.stateValue = state;
    this.emit('state', this.status());
  }
}
