/**
 * Sending on one WebSocket: JSON control messages, and data payloads cut into
 * messages of at most MAX_MESSAGE_BYTES. A payload's chunks are written as
 * fragments of one message, so pixels are never concatenated in user space.
 */
import type { WebSocket } from 'ws';
import { MAX_MESSAGE_BYTES, encodeHeader, type DataHeader } from '../protocol/index.js';
import { chunksLength, type IpcChunks } from './arrow-encode.js';

/** Room kept for the envelope header inside the message limit. */
const HEADER_ROOM = 4096;
/**
 * Most items in one data payload, however small: the header carries an acquisition time per item
 * (~18 bytes each), and 128 of them leave room in HEADER_ROOM for the ids and names.
 */
export const MAX_ITEMS_PER_PAYLOAD = 128;
/** Above this many queued bytes a sender waits for the socket to drain. */
const HIGH_WATER = 32 * 1024 * 1024;

export class Outbox {
  constructor(private readonly ws: WebSocket) {}

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  json(message: unknown): void {
    if (this.open) this.ws.send(JSON.stringify(message));
  }

  /**
   * Send one payload; resolves once the socket has room for more (backpressure).
   * `header` lacks the part and size fields, which are filled in here.
   */
  async data(header: Omit<DataHeader, 'part' | 'parts' | 'bytes'>, chunks: IpcChunks): Promise<void> {
    if (!this.open) return;
    const total = chunksLength(chunks);
    const partBytes = MAX_MESSAGE_BYTES - HEADER_ROOM;
    const parts = Math.max(1, Math.ceil(total / partBytes));
    let written: Promise<void> = Promise.resolve();
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
        const last = room === 0;
        if (last) {
          written = new Promise((resolve) => this.ws.send(piece, { binary: true, fin: true }, () => resolve()));
        } else if (piece.byteLength > 0) {
          this.ws.send(piece, { binary: true, fin: false });
        }
      }
      if (total === 0) written = new Promise((resolve) => this.ws.send(new Uint8Array(0), { binary: true, fin: true }, () => resolve()));
    }
    if (this.ws.bufferedAmount > HIGH_WATER) await written;
  }
}
