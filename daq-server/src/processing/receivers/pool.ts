/**
 * N receiver workers and the dispatch of frames to them, by topology:
 * single, round_robin (frame i → receiver i mod N) or dynamic (the receiver
 * with the fewest frames in flight; the frame → receiver table is kept).
 * Each receiver has a bounded number of frames in flight; beyond it frames
 * wait in a bounded queue, and beyond that they are dropped — counted and
 * reported, never lost silently.
 */
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { TYPED_ARRAY, type FieldError, type TypedArray } from '../../protocol/index.js';
import type { ImageSpec } from '../types.js';
import type { ReceivedFrame } from '../../detectors/plugin.js';
import type { FrameResult } from '../chain.js';
import type { Topology } from '../pipelines.js';
import type { FromWorker, InitMessage } from './messages.js';

/** Frames a receiver may hold at once: enough to hide message latency, small enough to bound memory. */
const IN_FLIGHT = 4;

export interface PoolEvents {
  result: [FrameResult];
  item: [string, TypedArray | Record<string, unknown>];
  dropped: [number];
  failed: [string];
}

export type ReadyInfo = Extract<FromWorker, { type: 'ready' }>;

/**
 * What the pipeline sink needs of the receivers processing its frames: worker threads of this process
 * (ReceiverPool) or receiver hosts that pull their frames themselves (remote/remote-pool.ts).
 */
export interface FramePool extends EventEmitter<PoolEvents> {
  readonly topology: Topology;
  /** frames handed to each receiver (global rank) */
  readonly transferred: number[];
  /**
   * true: frames are submitted in index order, so an index skipped was never received (a real detector's lost
   * images) and the sink need not wait for it. false: submitted frames are markers in arrival order (receiver
   * hosts), and the pool itself reports the frames no host received as dropped.
   */
  readonly submitsInOrder: boolean;
  submit(frame: ReceivedFrame): void;
  partials(final?: boolean): Promise<Record<string, TypedArray>[]>;
  drainSteps(): Promise<void>;
  drained(): Promise<void>;
  terminate(): void;
}

export class InitError extends Error {
  constructor(
    message: string,
    readonly fields: FieldError[],
  ) {
    super(message);
  }
}

interface Receiver {
  rank: number;
  worker: Worker;
  inFlight: number;
  queue: ReceivedFrame[];
}

export class ReceiverPool extends EventEmitter<PoolEvents> implements FramePool {
  readonly submitsInOrder = true;
  private readonly receivers: Receiver[] = [];
  /** frames waiting for any receiver (dynamic topology) */
  private readonly shared: ReceivedFrame[] = [];
  private partialRequests = new Map<number, { wanted: number; got: Record<string, TypedArray>[]; resolve: (p: Record<string, TypedArray>[]) => void }>();
  private nextRequest = 1;
  private drainWait: { missing: number; resolve: () => void } | null = null;
  private closed = false;
  readonly transferred: number[];
  /** dynamic topology: receiver of each frame */
  readonly lookup = new Map<number, number>();
  /** partial topology: the image every receiver writes its part of (size and type of the head step's output) */
  private partImage: { dtype: ImageSpec['dtype']; length: number } | null = null;
  /** partial topology: frames whose parts are being processed, with the parts still to come */
  private readonly parts = new Map<number, { frame: ReceivedFrame; out: TypedArray; flags: Uint8Array; missing: number }>();

  private constructor(
    readonly topology: Topology,
    readonly size: number,
    private readonly maxPending: number,
  ) {
    super();
    this.transferred = new Array(size).fill(0);
  }

  /** Start `size` workers and initialise them; rejects with InitError when the chain cannot be built. */
  static async start(
    init: Omit<InitMessage, 'type' | 'rank'>,
    topology: Topology,
    size: number,
    maxPending: number,
  ): Promise<{ pool: ReceiverPool; info: ReadyInfo }> {
    const pool = new ReceiverPool(topology, size, maxPending);
    try {
      // receiver 0 first: a chain that cannot be built fails once, with its field errors
      const info = await pool.spawn(0, init);
      await Promise.all(Array.from({ length: size - 1 }, (_, k) => pool.spawn(k + 1, init)));
      if (topology === 'partial') {
        const shape = info.headOutput.shape;
        pool.partImage = { dtype: info.headOutput.dtype, length: shape.reduce((a, b) => a * b, 1) };
      }
      return { pool, info };
    } catch (err) {
      pool.terminate();
      throw err;
    }
  }

  private spawn(rank: number, init: Omit<InitMessage, 'type' | 'rank'>): Promise<ReadyInfo> {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    const r: Receiver = { rank, worker, inFlight: 0, queue: [] };
    this.receivers[rank] = r;
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        if (!ready) {
          if (m.type === 'ready') {
            ready = true;
            resolve(m);
          } else if (m.type === 'error') {
            reject(new InitError(`receiver ${rank} could not build the pipeline: ${m.message.split('\n')[0]}`, m.fields ?? []));
          }
          return;
        }
        this.onMessage(r, m);
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.fail(`receiver ${rank} crashed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new Error(`receiver ${rank} exited during setup (code ${code})`));
        else if (!this.closed) this.fail(`receiver ${rank} exited unexpectedly (code ${code})`);
      });
      worker.postMessage({ type: 'init', rank, ...init } satisfies InitMessage);
    });
  }

  private onMessage(r: Receiver, m: FromWorker): void {
    switch (m.type) {
      case 'part_done': {
        r.inFlight--;
        const p = this.parts.get(m.index);
        if (p && --p.missing === 0) {
          this.parts.delete(m.index);
          // every part is in: the owner finishes the frame with the rest of the chain
          const owner = this.receivers[m.index % this.size];
          owner.inFlight++;
          this.transferred[owner.rank]++;
          owner.worker.postMessage({ type: 'frame', index: m.index, data: p.out, valid: p.frame.valid, from: 1, mask: p.flags });
        }
        this.pumpPartial();
        return;
      }
      case 'result': {
        r.inFlight--;
        const { type: _type, ...result } = m;
        this.emit('result', result);
        this.pump(r);
        return;
      }
      case 'partials': {
        const req = this.partialRequests.get(m.id);
        if (!req) return;
        req.got.push(m.partials);
        if (req.got.length === req.wanted) {
          this.partialRequests.delete(m.id);
          req.resolve(req.got);
        }
        return;
      }
      case 'item':
        this.emit('item', m.stream, m.item);
        return;
      case 'drained':
        if (this.drainWait && --this.drainWait.missing === 0) {
          this.drainWait.resolve();
          this.drainWait = null;
        }
        return;
      case 'error':
        this.fail(`receiver ${r.rank} failed${m.index === null ? '' : ` on frame ${m.index}`}: ${m.message.split('\n')[0]}`);
        return;
      default:
        return;
    }
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.emit('failed', reason);
  }

  get pending(): number {
    return this.shared.length + this.receivers.reduce((n, r) => n + r.queue.length, 0);
  }

  get inFlight(): number {
    return this.receivers.reduce((n, r) => n + r.inFlight, 0);
  }

  /** Hand a frame to its receiver, queue it, or drop it when the queues are full. */
  submit(frame: ReceivedFrame): void {
    if (this.closed) return;
    if (this.topology === 'partial') {
      if (this.pending < this.maxPending) this.shared.push(frame);
      else this.emit('dropped', frame.index);
      this.pumpPartial();
      return;
    }
    if (this.topology === 'dynamic') {
      const free = this.receivers.reduce<Receiver | null>((best, r) => (r.inFlight < IN_FLIGHT && (!best || r.inFlight < best.inFlight) ? r : best), null);
      if (free && this.shared.length === 0) this.send(free, frame);
      else if (this.pending < this.maxPending) this.shared.push(frame);
      else this.emit('dropped', frame.index);
      return;
    }
    const r = this.receivers[frame.index % this.size];
    if (r.inFlight < IN_FLIGHT && r.queue.length === 0) this.send(r, frame);
    else if (this.pending < this.maxPending) r.queue.push(frame);
    else this.emit('dropped', frame.index);
  }

  /** Partial topology: a frame starts when every receiver can take its part. */
  private pumpPartial(): void {
    const image = this.partImage!;
    while (this.shared.length && this.receivers.every((r) => r.inFlight < IN_FLIGHT)) {
      const frame = this.shared.shift()!;
      const T = TYPED_ARRAY[image.dtype];
      const out = new T(new SharedArrayBuffer(image.length * T.BYTES_PER_ELEMENT), 0, image.length);
      const flags = new Uint8Array(new SharedArrayBuffer(image.length));
      this.parts.set(frame.index, { frame, out, flags, missing: this.size });
      for (const r of this.receivers) {
        r.inFlight++;
        r.worker.postMessage({ type: 'part', index: frame.index, data: frame.data, out, flags, part: r.rank, parts: this.size });
      }
    }
  }

  private pump(r: Receiver): void {
    if (this.topology === 'partial') return this.pumpPartial();
    const queue = this.topology === 'dynamic' ? this.shared : r.queue;
    while (r.inFlight < IN_FLIGHT && queue.length) this.send(r, queue.shift()!);
  }

  private send(r: Receiver, frame: ReceivedFrame): void {
    r.inFlight++;
    this.transferred[r.rank]++;
    if (this.topology === 'dynamic') this.lookup.set(frame.index, r.rank);
    // shared-memory frames are shared, not copied; others move to the worker
    const transfer = frame.data.buffer instanceof SharedArrayBuffer ? [] : [frame.data.buffer as ArrayBuffer];
    r.worker.postMessage({ type: 'frame', index: frame.index, data: frame.data, valid: frame.valid }, transfer);
  }

  /** Ask every receiver for its partial accumulated results (`final`: after flushing its steps). */
  partials(final = false): Promise<Record<string, TypedArray>[]> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.partialRequests.set(id, { wanted: this.size, got: [], resolve });
      for (const r of this.receivers) r.worker.postMessage({ type: 'partials', id, final });
    });
  }

  /** Run the steps' `drain` in every receiver (items arrive as `item` events); resolves when all are done or the pool closes. */
  drainSteps(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWait = { missing: this.size, resolve };
      for (const r of this.receivers) r.worker.postMessage({ type: 'drain' });
    });
  }

  /** Resolves once nothing is queued or in flight. */
  async drained(): Promise<void> {
    while (!this.closed && (this.inFlight > 0 || this.pending > 0 || this.parts.size > 0)) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  terminate(): void {
    this.closed = true;
    for (const r of this.receivers) void r?.worker.terminate();
    for (const req of this.partialRequests.values()) req.resolve([]);
    this.drainWait?.resolve();
    this.drainWait = null;
    this.partialRequests.clear();
  }
}
