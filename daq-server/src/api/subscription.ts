/**
 * A client's subscription to one stream.
 *
 * - lossless: every item in order; paced by the client's `sub.ack` window so a
 *   slow client never makes the server buffer without bound; items that were
 *   trimmed before they could be sent are reported as a `sub.gap` event.
 * - latest: each message carries the newest item; never slows the producer.
 * - group: lossless over a consumer group, each item to one member.
 */
import type { ArrayItems, ConsumerGroup, Cursor, EventItems, GroupMember, Stream } from '../store/types.js';
import type { Compression, SubMode, TypedArray } from '../protocol/index.js';
import { MAX_MESSAGE_BYTES, dtypeSize, perItemHeader, product } from '../protocol/index.js';
import { encodeEvents, encodeItems, type IpcChunks } from './arrow-encode.js';
import { itemsFrameStats, makeTransform, type ItemTransform } from './transform.js';
import { MAX_EVENTS_PER_PAYLOAD, MAX_ITEMS_PER_PAYLOAD, type Outbox } from './outbox.js';

/** Items are grouped into payloads of about this size (large frames go one per payload). */
const PAYLOAD_TARGET = MAX_MESSAGE_BYTES * 0.75;
/** How long a blocking read waits before re-checking whether the subscription was cancelled (ms). */
const POLL_MS = 250;

export interface SubscriptionOptions {
  id: string;
  scanKey: string;
  stream: Stream;
  start: number;
  stop: number | null;
  mode: SubMode;
  roi: [number, number, number, number] | null;
  binning: number;
  every: number;
  maxRate: number;
  window: number;
  group: string | null;
  member: string | null;
  /** array streams: how items travel */
  compression: Compression;
  /** array streams: the percentiles of the whole items to send with each (`frame_stats`), or null */
  frameStats: [number, number] | null;
}

type Batch = { indexes: number[]; items: TypedArray[]; valid: boolean[]; events: unknown[]; times: number[]; frames: number[] };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Subscription {
  private msg = 0;
  private acked = -1;
  private closed = false;
  private ackWaiter: (() => void) | null = null;
  private lastSentAt = 0;
  private readonly transform: ItemTransform | null;
  private readonly member: GroupMember<ArrayItems | EventItems> | null = null;
  /** group mode: indexes carried by each unacknowledged message */
  private readonly inflight = new Map<number, number[]>();
  /** aborts blocking store reads when the subscription is cancelled */
  private readonly abort = new AbortController();

  constructor(
    private readonly opts: SubscriptionOptions,
    private readonly out: Outbox,
  ) {
    const s = opts.stream;
    this.transform = s.kind === 'array' ? makeTransform(s.dtype, s.shape, { roi: opts.roi, binning: opts.binning }) : null;
    if (opts.group) {
      const group = (s.group as (name: string) => ConsumerGroup<ArrayItems | EventItems>)(opts.group);
      this.member = group.join(opts.member ?? opts.id);
    }
  }

  /** What the client is told about the items it will receive. */
  describe(): Record<string, unknown> {
    return {
      sub: this.opts.id,
      kind: this.opts.stream.kind,
      dtype: this.transform?.dtype ?? null,
      shape: this.transform?.shape ?? null,
      first: this.opts.start,
      mode: this.opts.mode,
      window: this.opts.window,
      compression: this.opts.compression,
    };
  }

  ack(msg: number): void {
    if (msg > this.acked) {
      if (this.member) {
        for (const [m, indexes] of this.inflight) {
          if (m <= msg) {
            this.member.ack(indexes);
            this.inflight.delete(m);
          }
        }
      }
      this.acked = msg;
    }
    this.ackWaiter?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.member?.leave();
    this.ackWaiter?.();
  }

  /** Runs until the end of the stream, `stop`, or cancellation. */
  async run(): Promise<void> {
    try {
      if (this.opts.mode === 'latest') await this.runLatest();
      else if (this.member) await this.runGroup(this.member);
      else await this.runLossless();
    } finally {
      this.close();
    }
  }

  private async waitWindow(): Promise<void> {
    while (!this.closed && this.msg - 1 - this.acked >= this.opts.window) {
      await new Promise<void>((resolve) => {
        this.ackWaiter = resolve;
        setTimeout(resolve, POLL_MS);
      });
      this.ackWaiter = null;
    }
  }

  private async throttle(): Promise<void> {
    if (this.opts.maxRate <= 0) return;
    const wait = this.lastSentAt + 1000 / this.opts.maxRate - Date.now();
    if (wait > 0) await sleep(wait);
    this.lastSentAt = Date.now();
  }

  private itemsPerPayload(): number {
    // rate-limited subscriptions are for viewers: one item per message, each message paced
    if (this.opts.maxRate > 0) return 1;
    const t = this.transform;
    if (!t) return MAX_EVENTS_PER_PAYLOAD;
    const bytes = product(t.shape) * dtypeSize(t.dtype);
    return Math.min(MAX_ITEMS_PER_PAYLOAD, Math.max(1, Math.floor(PAYLOAD_TARGET / Math.max(1, bytes))));
  }

  /** About the bytes of a payload of n items (for the connection's queue accounting). */
  private payloadBytes(n: number): number {
    const t = this.transform;
    return t ? n * product(t.shape) * dtypeSize(t.dtype) : n * 256;
  }

  private end(): void {
    this.out.json({ event: 'sub.end', sub: this.opts.id, length: this.opts.stream.length });
  }

  private gap(from: number, to: number, reason: string): void {
    this.out.json({ event: 'sub.gap', sub: this.opts.id, from, to, reason });
  }

  private wanted(index: number): boolean {
    return index % this.opts.every === 0 && (this.opts.stop === null || index < this.opts.stop);
  }

  /** Turn a cursor batch into what is sent, dropping decimated items. */
  private select(batch: ArrayItems | EventItems): Batch {
    const out: Batch = { indexes: [], items: [], valid: [], events: [], times: [], frames: [] };
    const times = (batch as ArrayItems).times;
    const frames = batch.frames;
    // group batches may carry redelivered items out of order: they list their indexes
    const listed = (batch as { indexes?: number[] }).indexes;
    batch.items.forEach((item, k) => {
      const index = listed ? listed[k] : batch.first + k * (batch.step ?? 1);
      if (!this.wanted(index)) return;
      out.indexes.push(index);
      out.frames.push(frames ? frames[k] : NaN);
      if (this.opts.stream.kind === 'array') {
        out.items.push(item as TypedArray); // transformed per payload in send(): one payload of copies at a time
        out.valid.push((batch as ArrayItems).valid[k]);
        out.times.push(times ? times[k] : NaN);
      } else out.events.push(item);
    });
    return out;
  }

  private async send(batch: Batch): Promise<void> {
    const { stream, scanKey } = this.opts;
    const per = this.itemsPerPayload();
    for (let k = 0; k < batch.indexes.length && !this.closed; k += per) {
      await this.waitWindow();
      if (this.closed) return;
      await this.throttle();
      const indexes = batch.indexes.slice(k, k + per);
      // encode only once the connection can take it: a client that does not read holds no copies
      if (!(await this.out.room(this.payloadBytes(indexes.length))) || this.closed) return;
      let chunks: IpcChunks;
      let stats: ReturnType<typeof itemsFrameStats> = null;
      if (stream.kind === 'array') {
        stats = itemsFrameStats(batch.items.slice(k, k + per), stream.dtype, this.opts.frameStats);
        chunks = encodeItems(
          {
            scan: scanKey,
            stream: stream.name,
            dtype: this.transform!.dtype,
            shape: this.transform!.shape,
            view: JSON.stringify([this.opts.roi, this.opts.binning]),
          },
          this.opts.compression,
          indexes,
          batch.items.slice(k, k + per).map((x) => this.transform!.apply(x)),
          batch.valid.slice(k, k + per),
        );
      } else {
        chunks = encodeEvents(scanKey, stream.name, indexes[0], batch.events.slice(k, k + per));
      }
      const msg = this.msg++;
      if (this.member) this.inflight.set(msg, indexes);
      const perItem = perItemHeader(k, per, batch.times, batch.frames);
      await this.out.data(
        { sub: this.opts.id, scan: scanKey, stream: stream.name, kind: stream.kind, first: indexes[0], count: indexes.length, msg, ...perItem, ...(stats ? { frame_stats: stats } : {}) },
        chunks,
      );
    }
  }

  private async runLossless(): Promise<void> {
    const { stream, start, stop } = this.opts;
    const cursor = (stream.cursor as (a: number, b?: number) => Cursor<ArrayItems | EventItems>)(start, stop ?? undefined);
    const signal = this.abort.signal;
    while (!this.closed && this.out.open) {
      await this.waitWindow();
      const res = await cursor.read({ block: true, timeout: POLL_MS, maxCount: this.itemsPerPayload() * 4, signal });
      if (res.kind === 'end') break;
      if (res.kind === 'none') continue;
      for (const g of res.gaps ?? []) this.gap(g.from, g.to, 'trimmed from memory before it could be sent');
      if (res.batch.items.length) await this.send(this.select(res.batch));
    }
    if (!this.closed && this.out.open) this.end();
  }

  private async runGroup(member: GroupMember<ArrayItems | EventItems>): Promise<void> {
    while (!this.closed && this.out.open) {
      await this.waitWindow();
      const res = await member.next({ block: true, timeout: POLL_MS, maxCount: this.itemsPerPayload(), signal: this.abort.signal });
      if (res.kind === 'end') break;
      if (res.kind === 'none') continue;
      for (const g of res.gaps ?? []) this.gap(g.from, g.to, 'trimmed from memory before it could be sent');
      if (!res.batch.items.length) continue;
      await this.send(this.select(res.batch));
    }
    if (!this.closed && this.out.open) this.end();
  }

  private async runLatest(): Promise<void> {
    const stream = this.opts.stream;
    let next = this.opts.start;
    while (!this.closed && this.out.open) {
      await this.waitWindow();
      if (this.closed) break;
      const arrived = await stream.waitFor(next, POLL_MS, this.abort.signal);
      if (!arrived) {
        if (stream.sealed && stream.length <= next) break;
        continue;
      }
      let newest = stream.length - 1;
      if (this.opts.stop !== null) newest = Math.min(newest, this.opts.stop - 1);
      if (newest < stream.first) {
        next = stream.length;
        continue;
      }
      const slice = (stream.slice as (a: number, b: number) => ArrayItems | EventItems)(newest, newest + 1);
      await this.send(this.select({ ...slice, first: newest } as ArrayItems | EventItems));
      next = newest + 1;
      if (this.opts.stop !== null && next >= this.opts.stop) break;
    }
    if (!this.closed && this.out.open) this.end();
  }
}
