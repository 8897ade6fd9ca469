/**
 * Sending on one WebSocket: JSON control messages, and data payloads cut into
 * messages of at most MAX_MESSAGE_BYTES. A payload's chunks are written as
 * fragments of one message, so pixels are never concatenated in user space.
 *
 * Bytes queued for the connection are accounted (payloads waiting for room plus
 * what the socket has not sent yet): senders wait while the socket is above its
 * high-water mark, and a connection whose queue passes MAX_QUEUED_BYTES, or that
 * drains nothing for MAX_STALL_MS while full, is closed (CLOSE_OVERLOADED): a
 * client that never reads cannot make the server hold memory for it.
 */
import type { WebSocket } from 'ws';
import { CLOSE_OVERLOADED, MAX_MESSAGE_BYTES, MAX_QUEUED_BYTES, MAX_STALL_MS, encodeHeader, type DataHeader } from '../protocol/index.js';
import { chunksLength, type IpcChunks } from './arrow-encode.js';
import { log } from '../log.js';

/**
 * Most array items in one data payload, however small: the header carries per item an acquisition
 * time (≤ 18 bytes of JSON) and a frame index (≤ 17 bytes).
 */
export const MAX_ITEMS_PER_PAYLOAD = 128;
/** Most events in one data payload: the header carries a frame index (≤ 17 bytes) per event. */
export const MAX_EVENTS_PER_PAYLOAD = 1024;
/**
 * Room kept for the envelope header inside the message limit: the per-item fields of the largest
 * payloads (1024 × 17 bytes of frame indexes for events; 128 × 35 bytes for arrays) and the ids
 * and names, with room to spare (test/api/header-room.test.ts checks the worst case).
 */
export const HEADER_ROOM = 32 * 1024;
/** Above this many bytes in the socket's buffer a sender waits for it to drain. */
const HIGH_WATER = 32 * 1024 * 1024;
/** How often a waiting sender checks the queue limits while the socket does not drain (ms). */
const DRAIN_POLL_MS = 250;

export interface OutboxLimits {
  maxQueuedBytes: number;
  maxStallMs: number;
  highWater: number;
}

export class Outbox {
  /** bytes of encoded payloads waiting for room in the socket */
  private waiting = 0;
  private overloaded = false;
  /** resolves once the last payload sent so far has been handed to the operating system */
  private flushed: Promise<void> = Promise.resolve();
  private flushing = false;
  /** the last sender's turn (see room) */
  private turns: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly who = 'client',
    private readonly limits: OutboxLimits = { maxQueuedBytes: MAX_QUEUED_BYTES, maxStallMs: MAX_STALL_MS, highWater: HIGH_WATER },
  ) {}

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN && !this.overloaded;
  }

  /** Bytes queued for this connection: payloads waiting for room plus the socket's unsent bytes. */
  get queued(): number {
    return this.waiting + this.ws.bufferedAmount;
  }

  json(message: unknown): void {
    if (!this.open) return;
    this.ws.send(JSON.stringify(message));
    this.check();
  }

  /** Stop serving a connection whose queue is over the limit. */
  private check(): boolean {
    if (this.overloaded) return false;
    const queued = this.queued;
    if (queued <= this.limits.maxQueuedBytes) return true;
    this.close(`${queued} bytes are queued for this connection (at most ${this.limits.maxQueuedBytes}): the client does not read what it asked for`);
    return false;
  }

  private close(reason: string): void {
    this.overloaded = true;
    log('warn', 'closing an overloaded connection', { client: this.who, reason });
    // the close reason must fit a control frame (123 bytes)
    this.ws.close(CLOSE_OVERLOADED, `daqlab: too much data queued, client not reading`);
    // a peer that reads nothing would never complete the closing handshake
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  /** Send the last piece of a payload, noting when the socket has taken it. */
  private track(piece: Uint8Array): void {
    this.flushing = true;
    const flushed = new Promise<void>((resolve) =>
      this.ws.send(piece, { binary: true, fin: true }, () => {
        if (this.flushed === flushed) this.flushing = false;
        resolve();
      }),
    );
    this.flushed = flushed;
  }

  /**
   * Wait until the socket is below its high-water mark; false when the connection was closed
   * meanwhile. `bytes` (what the caller is about to send) counts as queued while it waits.
   */
  async room(bytes: number): Promise<boolean> {
    // senders take turns, one per turn of the event loop, each seeing the buffer its predecessor
    // left: the subscriptions of one connection cannot encode a burst of payloads at once, nor
    // hold the loop (and every other client) in a chain of microtasks
    const turn = this.turns.then(() => new Promise<void>((r) => setImmediate(r)));
    this.turns = turn;
    await turn;
    return this.drained(bytes);
  }

  /** Wait while the socket is above its high-water mark; `bytes` count as queued meanwhile. */
  private async drained(bytes: number): Promise<boolean> {
    if (this.ws.bufferedAmount <= this.limits.highWater) return this.open;
    this.waiting += bytes;
    try {
      let last = this.ws.bufferedAmount;
      let since = Date.now();
      while (this.open && this.ws.bufferedAmount > this.limits.highWater) {
        if (!this.check()) return false;
        // woken by the socket taking the last payload, else by the timer (limits are checked again)
        let timer: NodeJS.Timeout | undefined;
        const wake = this.flushing ? this.flushed : new Promise<void>((r) => setTimeout(r, 10));
        await Promise.race([wake, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_POLL_MS)))]);
        clearTimeout(timer);
        const now = this.ws.bufferedAmount;
        if (now < last) since = Date.now();
        last = now;
        if (Date.now() - since > this.limits.maxStallMs) {
          this.close(`nothing sent for ${this.limits.maxStallMs} ms with ${this.queued} bytes queued: the client does not read`);
          return false;
        }
      }
      return this.open;
    } finally {
      this.waiting -= bytes;
    }
  }

  /**
   * Send one payload once the socket has room (backpressure).
   * `header` lacks the part and size fields, which are filled in here.
   */
  async data(header: Omit<DataHeader, 'part' | 'parts' | 'bytes'>, chunks: IpcChunks): Promise<void> {
    if (!this.open) return;
    const total = chunksLength(chunks);
    if (!(await this.drained(total))) return;
    const partBytes = MAX_MESSAGE_BYTES - HEADER_ROOM;
    const parts = Math.max(1, Math.ceil(total / partBytes));
    let chunk = 0;
    let offset = 0;
    for (let part = 0; part < parts; part++) {
      const prefix = encodeHeader({ ...header, part, parts, bytes: total });
      if (prefix.byteLength > HEADER_ROOM) throw new RangeError('data header too large');
      this.ws.send(prefix, { binary: true, fin: false });
      let room = Math.min(partBytes, total - part * partBytes);
      while (room > 0) {
        const c = chunks[chunk];
        const take = Math.min(room, c.byteLength - offset);
        const piece = offset === 0 && take === c.byteLength ? c : c.subarray(offset, offset + take);
        room -= take;
        offset += take;
        if (offset === c.byteLength) {
          chunk++;
          offset = 0;
        }
        if (room === 0) {
          if (part === parts - 1) this.track(piece);
          else this.ws.send(piece, { binary: true, fin: true });
        }
        else if (piece.byteLength > 0) this.ws.send(piece, { binary: true, fin: false });
      }
      if (total === 0) this.track(new Uint8Array(0));
    }
    this.check();
  }
}
