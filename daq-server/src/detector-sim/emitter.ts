/**
 * The stream's ZeroMQ PUSH socket and the buffer in front of it (the DCU's
 * image buffer): messages are queued and sent one at a time by an async
 * pump, so a slow or absent consumer never blocks the HTTP API or the
 * acquisition clock. When the queued image bytes would exceed the budget,
 * the image is dropped and counted (stream/status/dropped); start and end
 * messages are never dropped. Several PULL clients get the messages round
 * robin (ZeroMQ PUSH), as from a real detector.
 */
import { Push } from 'zeromq';

/** Messages libzmq itself may hold per connected client: small, so the byte budget above bounds the memory. */
const SEND_HWM = 8;

export interface StreamMessage {
  /** one part (Stream2) or several (stream v1 multipart) */
  parts: Uint8Array[];
  /** an image (may be dropped when the buffer is full) */
  image: boolean;
}

export class StreamEmitter {
  private readonly sock = new Push({ sendHighWaterMark: SEND_HWM, linger: 0 });
  private queue: StreamMessage[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  dropped = 0;
  sent = 0;
  endpoint = '';

  constructor(readonly budgetBytes: number) {}

  /** Bind on host:port (0 = any free port); returns the endpoint, e.g. tcp://127.0.0.1:31001. */
  async bind(host: string, port: number): Promise<string> {
    await this.sock.bind(`tcp://${host.includes(':') ? `[${host}]` : host}:${port === 0 ? '*' : port}`);
    this.endpoint = this.sock.lastEndpoint ?? '';
    return this.endpoint;
  }

  get port(): number {
    return Number(this.endpoint.slice(this.endpoint.lastIndexOf(':') + 1));
  }

  /** Fraction of the buffer budget in use. */
  fillLevel(): number {
    return Math.min(1, this.queuedBytes / this.budgetBytes);
  }

  /** Queue a message; false when an image was dropped because the buffer is full. */
  push(msg: StreamMessage): boolean {
    if (this.closed) return false;
    const bytes = msg.parts.reduce((a, p) => a + p.length, 0);
    if (msg.image && this.queuedBytes + bytes > this.budgetBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(msg);
    this.queuedBytes += bytes;
    if (!this.pumping) void this.pump();
    return true;
  }

  /** Forget the images not sent yet (abort); start and end messages stay. */
  discardImages(): void {
    const keep = this.queue.filter((m) => !m.image);
    this.queue = keep;
    this.queuedBytes = keep.reduce((a, m) => a + m.parts.reduce((b, p) => b + p.length, 0), 0);
  }

  /** Resolves when everything queued was handed to ZeroMQ. */
  drained(): Promise<void> {
    if (!this.pumping && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        const msg = this.queue[0];
        // waits (asynchronously) while no client is connected or every client's queue is full
        await this.sock.send(msg.parts.length === 1 ? msg.parts[0] : msg.parts);
        if (this.queue[0] === msg) {
          this.queue.shift();
          this.queuedBytes -= msg.parts.reduce((a, p) => a + p.length, 0);
        }
        this.sent++;
      }
    } catch (err) {
      if (!this.closed) process.stderr.write(`daqlab-detector-sim: stream send failed: ${(err as Error).message}\n`);
    } finally {
      this.pumping = false;
      if (this.queue.length === 0 || this.closed) for (const w of this.idleWaiters.splice(0)) w();
      else if (!this.closed) void this.pump();
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.sock.close();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
