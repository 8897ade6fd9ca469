/**
 * One run on a receiver host (`daqlab-server --role receiver`): PULL sockets on the detector's stream (the
 * DECTRIS receiver threads, detectors/dectris/receiver-worker.ts), the pipeline on local worker threads (the
 * same ReceiverPool a single-host server uses), and the results sent to the control server in bounded
 * batches, each acknowledged before the next goes (the link's backpressure). The control server merges
 * every host's results in frame order; this host never reorders and never decides when the series is over.
 */
import { Worker } from 'node:worker_threads';
import { TYPED_ARRAY, type TypedArray } from '../../../protocol/index.js';
import { log } from '../../../log.js';
import type { FromReceiver, ReceiverInit } from '../../../detectors/dectris/worker-messages.js';
import { ReceiverPool } from '../pool.js';
import { combine } from '../../pipeline-sink.js';
import type { StepRegistry } from '../../registry.js';
import type { StreamDecl } from '../../types.js';
import { MAX_BATCH_BYTES, encodeRecord, encodeValue, type RemoteFinished, type RemotePrepare, type RemoteReady, type ResultBatch, type WireResult } from './wire.js';

/** Results waiting for the link beyond this many frames: new frames are dropped (counted), memory stays bounded. */
const MAX_BACKLOG = 1024;
/** After the control says the series is over, frames still in the sockets may come for this long (ms). */
const FINISH_GRACE_MS = 300;

type ImageMsg = Extract<FromReceiver, { type: 'image' }>;

export class HostRun {
  private readonly sockets: Worker[] = [];
  private backlog: WireResult[] = [];
  private dropped: [number, number][] = [];
  private items: ResultBatch['items'] = [];
  private end = false;
  private failed: string | null = null;
  private sending = false;
  private flushWaiters: (() => void)[] = [];
  private closed = false;
  received = 0;
  droppedTotal = 0;
  /** the series the control armed, once it said (until then every image is processed; the control filters) */
  armedSeries: number | null = null;
  /** series of each frame in the pipeline (the workers do not carry it) */
  private readonly series = new Map<number, number>();

  private constructor(
    readonly req: RemotePrepare,
    private readonly pool: ReceiverPool,
    private readonly streams: StreamDecl[],
    /** send one batch to the control server; resolves on its acknowledgement */
    private readonly sendBatch: (batch: ResultBatch) => Promise<void>,
  ) {}

  /** Build the chain on `req.receivers` threads, connect as many PULL sockets; rejects when the chain cannot be built. */
  static async start(req: RemotePrepare, steps: StepRegistry, sendBatch: (batch: ResultBatch) => Promise<void>): Promise<{ run: HostRun; ready: RemoteReady }> {
    const files = Object.fromEntries(Object.entries(req.files).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]));
    const { pool, info } = await ReceiverPool.start(
      { specs: req.specs, input: req.input, env: { detector: req.detector, maps: {}, files }, plugins: steps.pluginPaths, keepFrames: false },
      req.receivers > 1 ? 'dynamic' : 'single',
      req.receivers,
      req.maxPending,
    );
    const run = new HostRun(req, pool, info.streams, sendBatch);
    pool.on('result', (r) => {
      const s = run.series.get(r.index) ?? -1;
      run.series.delete(r.index);
      const result: WireResult = { i: r.index, r: req.rankOffset + r.receiver, v: r.valid, s, o: r.veto, items: r.items.map(({ stream, item }) => ({ s: stream, x: encodeValue(item) })) };
      // one frame's results must fit in a batch: a pipeline with larger per-frame items stays on one host
      if (JSON.stringify(result).length > MAX_BATCH_BYTES) run.failed = `the results of frame ${r.index} are larger than a result batch (${MAX_BATCH_BYTES} bytes): run this pipeline on the control host`;
      else run.backlog.push(result);
      run.pump();
    });
    pool.on('item', (stream, item) => {
      const it = { s: stream, x: encodeValue(item) };
      if (JSON.stringify(it).length > MAX_BATCH_BYTES) run.failed = `an item of ${stream} is larger than a result batch (${MAX_BATCH_BYTES} bytes): run this pipeline on the control host`;
      else run.items.push(it);
      run.pump();
    });
    pool.on('dropped', (index) => run.drop(index));
    pool.on('failed', (reason) => {
      run.failed = reason;
      run.pump();
    });
    try {
      await run.connect();
    } catch (err) {
      run.close();
      throw err;
    }
    return { run, ready: { streams: info.streams.map((d) => d.name) } };
  }

  /** One PULL socket per receiver: the detector deals its images round robin between every host's sockets. */
  private connect(): Promise<void> {
    const pixels = this.req.input.shape.reduce((a, b) => a * b, 1);
    const ready: Promise<void>[] = [];
    for (let rank = 0; rank < this.req.receivers; rank++) {
      const init: ReceiverInit = { rank, address: this.req.stream, format: this.req.format, maxPixels: pixels };
      const w = new Worker(new URL('../../../detectors/dectris/receiver-worker.js', import.meta.url), { workerData: init });
      this.sockets.push(w);
      ready.push(
        new Promise((resolve, reject) => {
          w.once('error', reject);
          w.on('message', (m: FromReceiver) => {
            if (m.type === 'ready') resolve();
            else this.onStream(m);
          });
        }),
      );
    }
    return Promise.all(ready).then(() => undefined);
  }

  private onStream(m: FromReceiver): void {
    if (this.closed || !this.sockets.length) return;
    if (m.type === 'image') this.image(m);
    else if (m.type === 'end') {
      this.end = true;
      this.pump();
    } else if (m.type === 'failed') {
      this.failed = `the detector's stream failed: ${m.message}`;
      this.pump();
    } else if (m.type === 'bad') log('warn', 'receiver host: undecodable stream message', { message: m.message });
  }

  /** A frame of the detector: into the pipeline, or dropped (counted) when the link is behind. */
  private image(m: ImageMsg): void {
    // another series' leftovers (a stream backed up by an aborted series) are not worth processing
    if (this.armedSeries !== null && m.series_id !== this.armedSeries) return;
    this.received++;
    // the control knows which series it armed: each frame says its own (leftovers of another are dropped there)
    this.series.set(m.image_id, m.series_id);
    if (this.backlog.length >= MAX_BACKLOG) return this.drop(m.image_id);
    const { dtype, shape } = this.req.input;
    const first = Object.keys(m.channels)[0];
    const c = first === undefined ? undefined : m.channels[first];
    const pixels = shape.reduce((a, b) => a * b, 1);
    const fits = c?.data && !c.error && c.data.length === pixels && c.data.constructor === TYPED_ARRAY[dtype];
    const data = fits ? (c!.data as TypedArray) : new TYPED_ARRAY[dtype](pixels);
    this.pool.submit({ index: m.image_id, data, valid: Boolean(fits) });
  }

  private drop(index: number): void {
    this.droppedTotal++;
    this.dropped.push([index, this.series.get(index) ?? -1]);
    this.series.delete(index);
    this.pump();
  }

  /** Send what is waiting, one batch at a time, each acknowledged before the next. */
  private pump(): void {
    if (this.sending || this.closed) return;
    const batch = this.takeBatch();
    if (!batch) {
      for (const w of this.flushWaiters.splice(0)) w();
      return;
    }
    this.sending = true;
    this.sendBatch(batch).then(
      () => {
        this.sending = false;
        this.pump();
      },
      (err: Error) => {
        this.sending = false;
        log('warn', 'receiver host: results not delivered', { error: err.message });
        this.close();
      },
    );
  }

  private takeBatch(): ResultBatch | null {
    if (!this.backlog.length && !this.dropped.length && !this.items.length && !this.end && !this.failed) return null;
    const results: WireResult[] = [];
    let bytes = 0;
    while (this.backlog.length && (results.length === 0 || bytes < MAX_BATCH_BYTES / 2)) {
      const r = this.backlog.shift()!;
      bytes += JSON.stringify(r).length;
      results.push(r);
    }
    const batch: ResultBatch = { run: this.req.run, results, dropped: this.dropped.splice(0), items: [] };
    while (this.items.length && (batch.items.length === 0 || bytes < MAX_BATCH_BYTES / 2)) {
      const it = this.items.shift()!;
      bytes += JSON.stringify(it).length;
      batch.items.push(it);
    }
    if (this.end) batch.end = true;
    if (this.failed) batch.failed = this.failed;
    this.end = false;
    this.failed = null;
    return batch;
  }

  /** Resolves once everything produced so far reached the control server. */
  private flushed(): Promise<void> {
    if (!this.sending && !this.takeBatchPending()) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push(resolve);
      this.pump();
    });
  }

  private takeBatchPending(): boolean {
    return this.backlog.length > 0 || this.dropped.length > 0 || this.items.length > 0 || this.end || this.failed !== null;
  }

  /** Accumulated partials of every local receiver, combined (the control combines the hosts'). */
  async partials(final = false): Promise<Record<string, TypedArray>> {
    const parts = await this.pool.partials(final);
    const out: Record<string, TypedArray> = {};
    for (const d of this.streams.filter((s) => s.cadence === 'accumulated')) {
      const mine = parts.map((p) => p[d.name]).filter((x): x is TypedArray => x !== undefined);
      if (mine.length) out[d.name] = combine(mine, d.combine ?? 'sum');
    }
    return out;
  }

  /** The series is over: process what came, run the steps' drain, send everything, answer with the final partials. */
  async finish(stop = false): Promise<RemoteFinished> {
    if (stop) this.closeSockets();
    else await new Promise((r) => setTimeout(r, FINISH_GRACE_MS));
    await this.pool.drained();
    if (this.streams.some((s) => s.cadence === 'end')) await this.pool.drainSteps();
    const partials = await this.partials(true);
    await this.flushed();
    return { partials: encodeRecord(partials), received: this.received, dropped: this.droppedTotal };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.terminate();
    this.closeSockets();
    for (const w of this.flushWaiters.splice(0)) w();
  }

  /** Take no more frames from the detector. */
  private closeSockets(): void {
    for (const w of this.sockets.splice(0)) {
      w.postMessage({ type: 'close' });
      setTimeout(() => void w.terminate(), 200).unref();
    }
  }
}
