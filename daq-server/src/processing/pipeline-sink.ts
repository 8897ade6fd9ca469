/**
 * Frames through a pipeline on receiver workers, results into the store in
 * frame order. Receivers finish frames out of order; the merger keeps them
 * until every earlier frame is in (or known dropped) and releases only the
 * contiguous prefix, so every stream is ordered whatever the topology.
 * Accumulated results (sums over frames) are combined across receivers and
 * published every `publish_every` frames and at the end.
 */
import { TYPED_ARRAY, dtypeOf, type Counters, type TypedArray } from '../protocol/index.js';
import type { ReceivedFrame } from '../detectors/plugin.js';
import type { ArrayStream, EventStream, Scan, Stream } from '../store/types.js';
import type { FrameResult } from './chain.js';
import type { FrameSink } from './sink.js';
import type { FrameTap } from '../saving/saver.js';
import type { StreamDecl } from './types.js';
import type { FramePool } from './receivers/pool.js';

export interface PipelineSinkOptions {
  keepFrames: boolean;
  publishEvery: number;
}

export class PipelineSink implements FrameSink {
  private next = 0;
  private readonly waiting = new Map<number, FrameResult | 'dropped'>();
  /** the index the next submitted frame should have: a real detector's lost images leave gaps */
  private nextSubmitted = 0;
  /** acquisition time of each frame in flight (the workers do not carry it) */
  private readonly times = new Map<number, number>();
  private readonly streams = new Map<string, Stream>();
  private readonly accumulated: StreamDecl[];
  private readonly hasEnd: boolean;
  private sinceSnapshot = 0;
  private snapshot: Promise<void> = Promise.resolve();
  private faultListeners: ((reason: string) => void)[] = [];
  private failed = false;
  private readonly dispatch: EventStream | null;
  /** saving, when enabled: sees every frame appended to the `frame` stream */
  tap: FrameTap | null = null;

  constructor(
    private readonly pool: FramePool,
    private readonly scan: Scan,
    decls: StreamDecl[],
    private readonly frames: ArrayStream | null,
    private readonly counters: Counters,
    private readonly options: PipelineSinkOptions,
  ) {
    for (const d of decls) this.streams.set(d.name, scan.stream(d.name));
    this.accumulated = decls.filter((d) => d.cadence === 'accumulated');
    this.hasEnd = decls.some((d) => d.cadence === 'end');
    pool.on('item', (stream, item) => this.endItem(stream, item));
    this.dispatch =
      pool.topology === 'dynamic'
        ? scan.createEventStream('dispatch', { description: 'dynamic dispatch lookup table: frame index → receiver' })
        : null;
    pool.on('result', (r) => this.arrived(r.index, r));
    pool.on('dropped', (index) => {
      this.counters.nb_frames_dropped++;
      this.arrived(index, 'dropped');
    });
    pool.on('failed', (reason) => this.fail(reason));
  }

  onFault(listener: (reason: string) => void): void {
    this.faultListeners.push(listener);
  }

  submit(frames: ReceivedFrame[]): void {
    for (const f of frames) {
      // frames come in index order; indexes never submitted (images a real detector lost) are not waited for.
      // Not so with receiver hosts: their markers come in arrival order and the pool reports the drops itself.
      if (this.pool.submitsInOrder) {
        for (let i = this.nextSubmitted; i < f.index; i++) this.arrived(i, 'dropped');
        this.nextSubmitted = Math.max(this.nextSubmitted, f.index + 1);
      }
      if (f.time !== undefined) this.times.set(f.index, f.time);
      this.pool.submit(f);
    }
    this.counters.nb_frames_transferred = [...this.pool.transferred];
  }

  private arrived(index: number, result: FrameResult | 'dropped'): void {
    // an index already merged (or passed as dropped) is not held: it would wait forever
    if (this.failed || index < this.next) return;
    this.waiting.set(index, result);
    const released: FrameResult[] = [];
    while (this.waiting.has(this.next)) {
      const r = this.waiting.get(this.next)!;
      this.waiting.delete(this.next);
      if (r === 'dropped') this.times.delete(this.next);
      else released.push(r);
      this.next++;
    }
    if (released.length) this.release(released);
  }

  /** Append the results of consecutive frames to their streams, batched per stream. */
  private release(results: FrameResult[]): void {
    if (this.frames && this.options.keepFrames) {
      const kept = results.filter((r) => r.image !== null);
      if (kept.length) {
        const images = kept.map((r) => r.image!);
        const valid = kept.map((r) => r.valid);
        this.frames.append(images, valid, kept.map((r) => this.times.get(r.index) ?? NaN), kept.map((r) => r.index));
        this.tap?.frames(images, kept.map((r) => r.index), kept.map((r) => r.receiver), valid);
      }
    }
    // per-frame results carry the acquisition frame they come from: item positions differ once frames were dropped
    const perStream = new Map<string, { items: (TypedArray | Record<string, unknown>)[]; frames: number[] }>();
    for (const r of results) {
      for (const { stream, item } of r.items) {
        let list = perStream.get(stream);
        if (!list) perStream.set(stream, (list = { items: [], frames: [] }));
        list.items.push(item);
        list.frames.push(r.index);
      }
    }
    for (const r of results) this.times.delete(r.index);
    for (const [name, { items, frames }] of perStream) {
      const s = this.streams.get(name)!;
      if (s.kind === 'array') (s as ArrayStream).append(items as TypedArray[], undefined, undefined, frames);
      else (s as EventStream).append(items, frames);
    }
    if (this.dispatch) {
      this.dispatch.append(
        results.map((r) => ({ frame_idx: r.index, receiver: r.receiver })),
        results.map((r) => r.index),
      );
    }
    this.counters.nb_frames_processed += results.length;
    this.counters.nb_frames_transferred = [...this.pool.transferred];
    this.sinceSnapshot += results.length;
    if (this.accumulated.length && this.sinceSnapshot >= this.options.publishEvery) {
      this.sinceSnapshot = 0;
      this.snapshot = this.snapshot.then(() => this.publishAccumulated());
    }
  }

  /** Combine every receiver's partial results and append one snapshot per accumulated stream. */
  private async publishAccumulated(final = false): Promise<void> {
    if (this.failed || !this.accumulated.length) return;
    const partials = await this.pool.partials(final);
    for (const d of this.accumulated) {
      const parts = partials.map((p) => p[d.name]).filter((x): x is TypedArray => x !== undefined);
      if (!parts.length || this.scan.stream(d.name).sealed) continue;
      (this.streams.get(d.name) as ArrayStream).append([combine(parts, d.combine ?? 'sum')]);
    }
  }

  /** An item of an `end` stream (after the last frame), appended as it arrives. */
  private endItem(stream: string, item: TypedArray | Record<string, unknown>): void {
    const s = this.streams.get(stream);
    if (this.failed || !s || s.sealed) return;
    if (s.kind === 'array') (s as ArrayStream).append([item as TypedArray]);
    else (s as EventStream).append([item]);
  }

  async finish(): Promise<void> {
    await this.pool.drained();
    if (this.hasEnd) await this.pool.drainSteps();
    await this.snapshot;
    await this.publishAccumulated(true);
    this.pool.terminate();
  }

  abort(): void {
    this.pool.terminate();
  }

  private fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.pool.terminate();
    for (const l of this.faultListeners) l(reason);
  }
}

/** Combine receivers' partial results of an accumulated stream (also across receiver hosts). */
export function combine(parts: TypedArray[], how: 'sum' | 'max'): TypedArray {
  const out = new TYPED_ARRAY[dtypeOf(parts[0])](parts[0].length);
  out.set(parts[0] as never);
  for (let k = 1; k < parts.length; k++) {
    const p = parts[k];
    if (how === 'sum') for (let i = 0; i < out.length; i++) out[i] += p[i];
    else for (let i = 0; i < out.length; i++) if (p[i] > out[i]) out[i] = p[i];
  }
  return out;
}
