/**
 * The control server's end of one receiver host's connection: requests down to the host (`remote.*`,
 * answered by `receivers.reply`), result batches up from it (`receivers.results`), and a heartbeat: a host
 * whose connection stops answering pings (a cut cable leaves a TCP connection open for minutes) is cut off,
 * so whoever waits on it learns at once that the host is lost.
 */
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import type { ControlRequest, ResultBatch } from './wire.js';
import { log } from '../../../log.js';

/**
 * Ping period (ms), and pings in a row left unanswered before the host counts as lost: counted in ticks,
 * not wall time, so a control server whose own event loop stalled does not blame its hosts.
 */
const PING_MS = 1000;
const LOST_AFTER_PINGS = 5;
/** an answer in more pieces than this (of 768 KiB) is refused: 192 MiB */
const MAX_REPLY_CHUNKS = 256;

export class HostChannel extends EventEmitter<{ results: [ResultBatch]; closed: [string] }> {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; text: string[] }>();
  private nextRid = 1;
  private unanswered = 0;
  private readonly heartbeat: NodeJS.Timeout;
  closedReason: string | null = null;

  constructor(
    readonly name: string,
    private readonly ws: WebSocket,
    /** queue a JSON message to the host (the session's outbox) */
    private readonly sendJson: (message: unknown) => void,
  ) {
    super();
    ws.on('pong', () => (this.unanswered = 0));
    ws.once('close', () => this.lost('its connection closed'));
    this.heartbeat = setInterval(() => {
      if (this.unanswered >= LOST_AFTER_PINGS) {
        log('warn', 'receiver host answers no ping: cut off', { name, pings: this.unanswered });
        this.lost(`no answer to ${this.unanswered} pings in a row (network cut or host hung)`);
        ws.terminate();
        return;
      }
      this.unanswered++;
      try {
        ws.ping();
      } catch {
        // closing already: the close event says so
      }
    }, PING_MS);
    this.heartbeat.unref();
  }

  /** Send a request; resolves with the host's result, rejects with its error, a timeout or the host's loss. */
  request(req: ControlRequest, timeoutMs: number): Promise<unknown> {
    if (this.closedReason) return Promise.reject(new Error(`receiver host ${this.name} is gone: ${this.closedReason}`));
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`receiver host ${this.name} did not answer ${req.op} in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer, text: [] });
      this.sendJson({ ...req, rid });
    });
  }

  /** `receivers.reply` from the host: one piece (`chunk` of `chunks`) of its answer's JSON text. */
  reply(rid: unknown, chunk: unknown, chunks: unknown, text: unknown): void {
    const p = typeof rid === 'number' ? this.pending.get(rid) : undefined;
    if (!p || typeof text !== 'string' || !Number.isInteger(chunk) || !Number.isInteger(chunks)) return;
    if (chunk !== p.text.length || (chunks as number) > MAX_REPLY_CHUNKS) {
      return this.settle(rid as number, new Error(`receiver host ${this.name}: its answer came out of order or too large (${String(chunks)} pieces)`));
    }
    p.text.push(text);
    if (p.text.length < (chunks as number)) return;
    let body: { ok?: boolean; result?: unknown; error?: unknown };
    try {
      body = JSON.parse(p.text.join(''));
    } catch (err) {
      return this.settle(rid as number, new Error(`receiver host ${this.name}: its answer is not JSON: ${(err as Error).message}`));
    }
    if (body.ok) this.settle(rid as number, null, body.result);
    else this.settle(rid as number, new Error(`receiver host ${this.name}: ${String(body.error).slice(0, 500)}`));
  }

  private settle(rid: number, error: Error | null, result?: unknown): void {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve(result);
  }

  private lost(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    clearInterval(this.heartbeat);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`receiver host ${this.name} lost: ${reason}`));
    }
    this.pending.clear();
    this.emit('closed', reason);
  }
}
