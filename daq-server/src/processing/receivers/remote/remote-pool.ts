/**
 * Receivers on other hosts, seen by the control server's pipeline sink as one pool (FramePool): each host
 * PULLs its share of the detector's stream and runs the pipeline itself; this pool only takes the results
 * the hosts send back and hands them, frame by frame, to the sink, whose frame-ordered merge is the one a
 * single host uses. It knows the series is over when every frame is accounted for, or when the detector's
 * end message came through a host: then it asks every host to finish (drain, final partials) and counts the
 * frames no host received as dropped. A host lost before that (connection closed, heartbeat silent) fails
 * the pool with the host's name and the last frame it delivered; what was merged before stays.
 */
import { EventEmitter } from 'node:events';
import type { TypedArray } from '../../../protocol/index.js';
import type { ReceivedFrame } from '../../../detectors/plugin.js';
import type { FramePool, PoolEvents, ReadyInfo } from '../pool.js';
import type { HostChannel } from './channel.js';
import { decodeRecord, decodeValue, type RemoteFinished, type RemotePrepare, type RemoteReady, type ResultBatch } from './wire.js';

/** How long a host may take to build its chain and connect its sockets, and to finish a run (ms). */
const PREPARE_TIMEOUT_MS = 60_000;
const FINISH_TIMEOUT_MS = 120_000;
const PARTIALS_TIMEOUT_MS = 30_000;
/**
 * After the detector's end message (it comes through one host), images dealt to the other hosts may still
 * be on their way (sockets, decoding threads): the hosts are asked to finish once every frame is in, or
 * once no frame came for this long.
 */
const QUIET_AFTER_END_MS = 2000;

/** What the control knows of each host during a run (counters per host, in the scan info). */
export interface HostCounters {
  receivers: [number, number];
  frames_processed: number;
  frames_dropped: number;
  /** highest frame index it delivered (−1: none) */
  last_frame: number;
  /** what the host said at the end: frames its sockets received */
  frames_received: number | null;
  state: 'running' | 'finished' | 'lost';
}

interface Placed {
  channel: HostChannel;
  counters: HostCounters;
  /** this run's listeners on the host's channel (removed when the run ends: the channel outlives runs) */
  listeners?: { results: (b: ResultBatch) => void; closed: (reason: string) => void };
}

export class RemotePool extends EventEmitter<PoolEvents> implements FramePool {
  readonly topology = 'dynamic' as const;
  /** markers come in arrival order, host by host: an index not seen yet may still come from another host */
  readonly submitsInOrder = false;
  readonly transferred: number[];
  private readonly arrived: Uint8Array;
  private nbArrived = 0;
  /** frames whose results came, for the acquisition's counters (the frames themselves stay on the hosts) */
  private markers: ReceivedFrame[] = [];
  private finishing: Promise<void> | null = null;
  private finals: Record<string, TypedArray>[] = [];
  private closed = false;
  private readyListeners: (() => void)[] = [];
  /** set once every host finished: the series is over */
  done = false;

  private constructor(
    readonly run: string,
    private readonly hosts: Placed[],
    private readonly nbFrames: number,
    size: number,
  ) {
    super();
    this.transferred = new Array(size).fill(0);
    this.arrived = new Uint8Array(nbFrames);
  }

  /**
   * Prepare the run on every host (`counts[k]` receivers on host k) and wait until each has built its chain
   * and connected its sockets; on any failure every host is told to close and the error names the host.
   */
  static async start(
    channels: HostChannel[],
    counts: number[],
    base: Omit<RemotePrepare, 'run' | 'receivers' | 'rankOffset'>,
    run: string,
    nbFrames: number,
    /** what the chain produces, as the control built it itself */
    info: ReadyInfo,
  ): Promise<RemotePool> {
    let offset = 0;
    const placed: Placed[] = channels.map((channel, k) => {
      const p: Placed = { channel, counters: { receivers: [offset, counts[k]], frames_processed: 0, frames_dropped: 0, last_frame: -1, frames_received: null, state: 'running' } };
      offset += counts[k];
      return p;
    });
    const pool = new RemotePool(run, placed, nbFrames, offset);
    for (const h of placed) {
      h.listeners = { results: pool.onResults(h), closed: (reason) => pool.lost(h, reason) };
      h.channel.on('results', h.listeners.results);
      h.channel.once('closed', h.listeners.closed);
    }
    try {
      const ready = await Promise.all(
        placed.map((h) => h.channel.request({ op: 'remote.prepare', ...base, run, receivers: h.counters.receivers[1], rankOffset: h.counters.receivers[0] }, PREPARE_TIMEOUT_MS) as Promise<RemoteReady>),
      );
      const mine = info.streams.map((d) => d.name).join(',');
      ready.forEach((r, k) => {
        if (r.streams.join(',') !== mine) throw new Error(`receiver host ${placed[k].channel.name} builds streams ${r.streams.join(',')}, not ${mine}`);
      });
      return pool;
    } catch (err) {
      pool.terminate();
      throw err;
    }
  }

  /** Per-host counters, for the scan info. */
  describe(): Record<string, HostCounters> {
    return Object.fromEntries(this.hosts.map((h) => [h.channel.name, { ...h.counters }]));
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  private notify(): void {
    for (const l of this.readyListeners) l();
  }

  /** Frames processed on the hosts since the last call, at most `max` (data-less: the pixels stayed there). */
  takeMarkers(max: number): ReceivedFrame[] {
    return this.markers.splice(0, max);
  }

  private onResults(h: Placed) {
    return (b: ResultBatch): void => {
      // stopped by a client: what came after the stop is not taken (as a single host closes its sockets)
      if (this.closed || this.frozen || b.run !== this.run) return;
      try {
        for (const r of b.results) {
          if (!this.ofSeries(r.s) || !this.account(r.i)) continue;
          h.counters.frames_processed++;
          h.counters.last_frame = Math.max(h.counters.last_frame, r.i);
          if (r.r >= 0 && r.r < this.transferred.length) this.transferred[r.r]++;
          const items = r.items.map((x) => ({ stream: x.s, item: decodeValue(x.x) }));
          this.markers.push({ index: r.i, data: new Uint8Array(0), valid: r.v });
          this.emit('result', { index: r.i, receiver: r.r, valid: r.v, veto: r.o, image: null, items });
        }
        for (const [i, s] of b.dropped) {
          if (!this.ofSeries(s) || !this.account(i)) continue;
          h.counters.frames_dropped++;
          this.markers.push({ index: i, data: new Uint8Array(0), valid: false });
          this.emit('dropped', i);
        }
        for (const x of b.items) this.emit('item', x.s, decodeValue(x.x));
      } catch (err) {
        return this.fail(`receiver host ${h.channel.name} sent results that do not decode: ${(err as Error).message}`);
      }
      if (b.failed) return this.fail(`receiver host ${h.channel.name}: ${b.failed}`);
      if (b.results.length || b.dropped.length) this.lastArrival = Date.now();
      if (this.nbArrived >= this.nbFrames) void this.finishHosts();
      else if (b.end) this.awaitStragglers();
      this.notify();
    };
  }

  private lastArrival = Date.now();
  private stragglers: NodeJS.Timeout | null = null;

  /** The end came: finish when every frame is in or none came for QUIET_AFTER_END_MS. */
  private awaitStragglers(): void {
    if (this.stragglers || this.finishing) return;
    this.lastArrival = Date.now();
    const check = (): void => {
      if (this.closed || this.finishing) return;
      if (Date.now() - this.lastArrival >= QUIET_AFTER_END_MS) void this.finishHosts();
      else this.stragglers = setTimeout(check, 100);
    };
    this.stragglers = setTimeout(check, 100);
  }

  /** the armed series' id, once the detector answered the arm (set by the run) */
  seriesId: () => number | null = () => null;
  /** images of the previous series may still sit in a socket: counted, not merged */
  leftovers = 0;

  private ofSeries(s: number): boolean {
    const armed = this.seriesId();
    if (armed === null || s === armed) return true;
    this.leftovers++;
    return false;
  }

  /** Tell the hosts which series the detector was armed for (they skip the leftovers of others). */
  announceSeries(series: number): void {
    for (const h of this.hosts) h.channel.request({ op: 'remote.series', run: this.run, series }, PARTIALS_TIMEOUT_MS).catch(() => undefined);
  }

  /** First news of frame i (a duplicate or an index beyond the series is ignored): true. */
  private account(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.nbFrames || this.arrived[i]) return false;
    this.arrived[i] = 1;
    this.nbArrived++;
    return true;
  }

  private lost(h: Placed, reason: string): void {
    if (this.closed || this.done) return;
    h.counters.state = 'lost';
    const last = h.counters.last_frame;
    this.fail(
      `receiver host ${h.channel.name} lost (${reason}) ${last < 0 ? 'before its first frame' : `after frame ${last}, the last it delivered`}; ` +
        `${h.counters.frames_processed} frames came through it, ${this.nbArrived} of ${this.nbFrames} in all`,
    );
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.emit('failed', reason);
  }

  /** Ask every host to finish (once); then frames nobody received count as dropped and the series is over. */
  private finishHosts(stopped = false): Promise<void> {
    this.finishing ??= (async () => {
      if (this.stragglers) clearTimeout(this.stragglers);
      const answers = await Promise.allSettled(this.hosts.map((h) => h.channel.request({ op: 'remote.finish', run: this.run, stop: stopped }, FINISH_TIMEOUT_MS) as Promise<RemoteFinished>));
      answers.forEach((a, k) => {
        const h = this.hosts[k];
        if (a.status !== 'fulfilled') return;
        h.counters.state = 'finished';
        h.counters.frames_received = a.value.received;
        this.finals.push(decodeRecord(a.value.partials) as Record<string, TypedArray>);
      });
      // the results sent before each answer are in (one connection per host, in order): the rest never came.
      // A series stopped early merges its frames up to the first gap, as a single host does.
      for (let i = 0; i < (stopped ? 0 : this.nbFrames); i++) {
        if (this.arrived[i]) continue;
        this.arrived[i] = 1;
        this.markers.push({ index: i, data: new Uint8Array(0), valid: false });
        this.emit('dropped', i);
      }
      this.done = true;
      this.notify();
    })();
    return this.finishing;
  }

  submit(): void {
    // frames never pass through the control server: each host pulls its own from the detector
  }

  async partials(final = false): Promise<Record<string, TypedArray>[]> {
    if (final) {
      await this.finishHosts();
      return this.finals;
    }
    const got = await Promise.allSettled(this.hosts.map((h) => h.channel.request({ op: 'remote.partials', run: this.run }, PARTIALS_TIMEOUT_MS)));
    return got.filter((g) => g.status === 'fulfilled').map((g) => decodeRecord((g as PromiseFulfilledResult<Record<string, never>>).value) as Record<string, TypedArray>);
  }

  /** The hosts ran their steps' drain when they finished: the end items are in. */
  drainSteps(): Promise<void> {
    return this.finishHosts();
  }

  /** The acquisition drains: after the series' end (finishing already), or stopped early by a client. */
  drained(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.finishing) this.frozen = true;
    return this.finishHosts(this.frozen);
  }

  /** a client stopped the series before its end: later results are not taken */
  private frozen = false;

  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stragglers) clearTimeout(this.stragglers);
    for (const h of this.hosts) {
      h.channel.request({ op: 'remote.close', run: this.run }, 5000).catch(() => undefined);
      if (h.listeners) {
        h.channel.off('results', h.listeners.results);
        h.channel.off('closed', h.listeners.closed);
      }
    }
    this.notify();
  }
}
