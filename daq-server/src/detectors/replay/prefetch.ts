/**
 * Frames of a saved scan read ahead by reader threads, handed out in order
 * to the (synchronous) receiver of the replay detector. Decompression is the
 * costly part of reading (HDF5 filters in WebAssembly), so several readers
 * run in parallel and the main thread only waits when they fall behind.
 *
 * The receiver interface is synchronous: frames arrive on a MessagePort read
 * with `receiveMessageOnPort`, and the main thread blocks on an Atomics
 * counter the readers bump after each message until the frame it needs is in.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { TypedArray } from '../../protocol/index.js';
import { SourceError } from './master-reader.js';
import type { ReaderInit, ReaderMessage } from './reader-worker.js';

/** Seconds without any frame from the readers before the replay gives up. */
const STALL_SECONDS = 120;

export class FramePrefetcher {
  private readonly workers: Worker[] = [];
  /** one channel per reader, drained synchronously by `take` */
  private readonly ports: MessagePort[] = [];
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly ready = new Map<number, TypedArray>();
  private failure: string | null = null;

  /** Read frames [start, stop) of `path` with `readers` threads, at most `ahead` frames ahead of the one taken. */
  constructor(
    path: string,
    private readonly start: number,
    private readonly stop: number,
    readers: number,
    private readonly ahead: number,
  ) {
    Atomics.store(this.control, 1, start + ahead);
    for (let rank = 0; rank < readers; rank++) {
      const { port1, port2 } = new MessageChannel();
      this.ports.push(port1);
      const init: ReaderInit = { path, rank, count: readers, start, stop, port: port2, control: this.control };
      const worker = new Worker(new URL('./reader-worker.js', import.meta.url), { workerData: init, transferList: [port2] });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Saved frame `k`: waits for the readers if it is not in yet. */
  take(k: number): TypedArray {
    if (k < this.start || k >= this.stop) throw new RangeError(`frame ${k} is outside [${this.start}, ${this.stop})`);
    Atomics.store(this.control, 1, Math.min(this.stop, k + this.ahead));
    Atomics.notify(this.control, 1);
    let waited = 0;
    for (;;) {
      const seen = Atomics.load(this.control, 0);
      this.drain();
      const frame = this.ready.get(k);
      if (frame) {
        this.ready.delete(k);
        return frame;
      }
      if (this.failure !== null) throw new SourceError(this.failure);
      // a reader that died without a word (its 'exit' event cannot arrive while we block) must not hang the job
      if (Atomics.wait(this.control, 0, seen, 1000) === 'timed-out' && ++waited >= STALL_SECONDS) {
        throw new SourceError(`no reader thread delivered frame ${k} in ${STALL_SECONDS} s`);
      }
    }
  }

  private drain(): void {
    for (const port of this.ports) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const msg = m.message as ReaderMessage;
        if ('error' in msg) this.failure ??= msg.error;
        else this.ready.set(msg.k, msg.data as TypedArray);
      }
    }
  }

  close(): void {
    Atomics.store(this.control, 1, -1);
    Atomics.notify(this.control, 1);
    for (const w of this.workers) void w.terminate();
    for (const p of this.ports) p.close();
    this.ready.clear();
  }
}
