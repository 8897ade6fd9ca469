/**
 * A small browser client of the daqlab protocol (docs/PROTOCOL.md): JSON
 * requests matched by id, events, and data messages (envelope + Arrow IPC)
 * joined from their parts and decoded with apache-arrow. The protocol's names
 * and envelope come from the server's own definition, never a copy.
 */
import {
  META_COMPRESSION,
  TYPED_ARRAY,
  decodeEnvelope,
  type DataHeader,
  type DType,
  type ErrorBody,
  type FrameStats,
  type EventMessage,
  type EventName,
  type Op,
  type Reply,
  type SubscribeParams,
  type TypedArray,
} from '@daqlab/daq-server/protocol';
import { bslz4Decompress } from '@daqlab/daq-server/codec';
import { tableFromIPC, type Table } from 'apache-arrow';

/** What the client needs of a WebSocket (the browser's, or `ws` in Node tests). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

/** A failed request, with the server's error type (ParameterError, NotFoundError, …). */
export class RequestError extends Error {
  constructor(readonly body: ErrorBody) {
    super(`${body.type}: ${body.message}`);
    this.name = body.type;
  }
}

/** One array item as decoded from a data message. */
export interface ArrayItem {
  index: number;
  valid: boolean;
  dtype: DType;
  /** per-item shape after ROI/binning */
  shape: number[];
  /** a view into the decoded message, prod(shape) elements */
  data: TypedArray;
  /** acquisition time, ms since the Unix epoch (header `times`), when the server knows it */
  time?: number;
  /** acquisition frame it comes from (header `frames`; differs from `index` once frames were dropped) */
  frame?: number;
  /** the whole item's [min, max, lo, hi] (header `frame_stats`, when asked): a region's viewer autoscales on them */
  stats?: FrameStats;
}

/** One event item as decoded from a data message: its index and its JSON document. */
export interface EventItem {
  index: number;
  value: Record<string, unknown>;
  /** acquisition frame it comes from (header `frames`), when it comes from one */
  frame?: number;
}

/** A decoded data message: its header and its items (array streams) or events (event streams). */
export interface DataMessage {
  header: DataHeader;
  items: ArrayItem[];
  events?: EventItem[];
  /** main-thread ms spent decoding it (Arrow, and the codec when compressed) */
  decodeMs?: number;
}

export type DataHandler = (msg: DataMessage) => void;

export interface SubscribeResult {
  sub: string;
  kind: 'array' | 'event';
  dtype: DType;
  shape: number[];
  first: number;
  mode: string;
  window: number;
  /** how the items travel (subscribe `compression`) */
  compression?: string;
}

/**
 * An item that arrived as a bslz4 chunk: decoded when its `data` is first read, so a viewer that
 * replaces a frame by a newer one before drawing it never pays for decoding it.
 */
class CompressedItem implements ArrayItem {
  time?: number;
  private decoded: TypedArray | null = null;

  constructor(
    readonly index: number,
    readonly valid: boolean,
    readonly dtype: DType,
    readonly shape: number[],
    private chunk: Uint8Array | null,
  ) {}

  get data(): TypedArray {
    if (this.decoded) return this.decoded;
    const size = this.shape.reduce((a, b) => a * b, 1);
    const out = new TYPED_ARRAY[this.dtype](size);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    if (bslz4Decompress(this.chunk!, out.BYTES_PER_ELEMENT, bytes) !== bytes.byteLength) {
      throw new Error(`item ${this.index}: the chunk does not decode to ${JSON.stringify(this.shape)} ${this.dtype}`);
    }
    this.chunk = null;
    return (this.decoded = out);
  }
}

/**
 * Items of an array-stream Arrow table (columns index, valid, data: FixedSizeList<T>, or
 * Binary chunks when `daqlab.compression` says so: decoded on first use, callers see pixels alike).
 */
export function arrayItems(table: Table): ArrayItem[] {
  const dtype = table.schema.metadata.get('daqlab.dtype') as DType;
  const shape = JSON.parse(table.schema.metadata.get('daqlab.shape') ?? '[]') as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const index = table.getChild('index');
  const valid = table.getChild('valid');
  const data = table.getChild('data');
  if (!index || !data) throw new Error('not an array-stream payload (no index/data columns)');
  const codec = table.schema.metadata.get(META_COMPRESSION);
  if (codec) {
    if (codec !== 'bslz4') throw new Error(`data compressed with ${codec}, which this client cannot decode`);
    return Array.from({ length: table.numRows }, (_, row) =>
      new CompressedItem(Number(index.get(row)), valid ? Boolean(valid.get(row)) : true, dtype, shape, data.get(row) as Uint8Array));
  }
  const items: ArrayItem[] = [];
  let row = 0;
  for (const chunk of data.data) {
    // FixedSizeList: child values are contiguous; slot r starts at (offset + r) * size
    const child = chunk.children[0];
    const values = child.values as TypedArray;
    for (let r = 0; r < chunk.length; r++, row++) {
      const start = child.offset + (chunk.offset + r) * size;
      items.push({
        index: Number(index.get(row)),
        valid: valid ? Boolean(valid.get(row)) : true,
        dtype,
        shape,
        data: values.subarray(start, start + size),
      });
    }
  }
  return items;
}

/** Items of an event-stream Arrow table (columns index, json). */
export function eventItems(table: Table): EventItem[] {
  const index = table.getChild('index');
  const json = table.getChild('json');
  if (!index || !json) throw new Error('not an event-stream payload (no index/json columns)');
  const out: EventItem[] = [];
  for (let row = 0; row < table.numRows; row++) {
    out.push({ index: Number(index.get(row)), value: JSON.parse(String(json.get(row))) as Record<string, unknown> });
  }
  return out;
}

/** Joins the parts of split payloads (same sub/req and msg) in order. */
export class PartJoiner {
  private pending = new Map<string, { parts: Uint8Array[]; bytes: number }>();

  /** Returns the whole payload once its last part has arrived, else null. */
  add(header: DataHeader, payload: Uint8Array): Uint8Array | null {
    if (header.parts <= 1) return payload;
    const key = `${header.sub ?? `req:${header.req}`}/${header.msg}`;
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { parts: [], bytes: header.bytes }));
    if (header.part !== p.parts.length) {
      this.pending.delete(key);
      throw new Error(`data message ${key}: part ${header.part} arrived after ${p.parts.length} parts`);
    }
    p.parts.push(payload);
    if (p.parts.length < header.parts) return null;
    this.pending.delete(key);
    const out = new Uint8Array(p.bytes);
    let at = 0;
    for (const part of p.parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    if (at !== p.bytes) throw new Error(`data message ${key}: ${at} bytes joined, header said ${p.bytes}`);
    return out;
  }

  clear(): void {
    this.pending.clear();
  }
}

/** Decode one binary message; returns null while a split payload is incomplete. */
export function decodeData(message: Uint8Array, joiner: PartJoiner): DataMessage | null {
  const { header, payload } = decodeEnvelope(message);
  const whole = joiner.add(header, payload);
  if (!whole) return null;
  const table = tableFromIPC(whole);
  if (header.kind === 'event') return { header, items: [], events: withFrames(eventItems(table), header) };
  const items = withFrames(arrayItems(table), header);
  const times = header.times;
  if (times) items.forEach((item, k) => {
    const t = times[k];
    if (typeof t === 'number') item.time = t;
  });
  const stats = header.frame_stats;
  if (stats) items.forEach((item, k) => {
    const s = stats[k];
    if (s) item.stats = s;
  });
  return { header, items };
}

/** Each item's acquisition frame from the header's `frames`, when it has one. */
function withFrames<T extends { frame?: number }>(items: T[], header: DataHeader): T[] {
  const frames = header.frames;
  if (frames) items.forEach((item, k) => {
    const f = frames[k];
    if (typeof f === 'number') item.frame = f;
  });
  return items;
}

/** What `stream.read` replies after its data messages. */
export interface ReadResult {
  first: number | null;
  count: number;
  messages: number;
  length: number;
  sealed: boolean;
}

const OPEN = 1;

export interface ClientOptions {
  /** default: the browser's WebSocket */
  socketFactory?: SocketFactory;
  /** request timeout, ms (0: none) */
  timeoutMs?: number;
}

/**
 * This page's client id, sent in `hello`: the same for every connection of the page, reconnections
 * included (the server lets a client stop what it prepared; others need `force`).
 */
export const BROWSER_CLIENT_ID = `browser ${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;

/**
 * One connection. `connect()` resolves once open; a closed connection is not
 * reopened here (the views decide when to retry, and resubscribe).
 */
export class DaqClient {
  private socket: SocketLike | null = null;
  private nextId = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout> }>();
  private eventHandlers = new Map<string, Set<(ev: EventMessage) => void>>();
  private subs = new Map<string, DataHandler>();
  /** data that arrived for a subscription before its reply was handled */
  private early = new Map<string, DataMessage[]>();
  /** data messages of pending `stream.read` requests, by request id */
  private reads = new Map<number, DataMessage[]>();
  private joiner = new PartJoiner();
  /** called once when the connection closes (after it was open) */
  onclose: ((reason: string) => void) | null = null;

  constructor(
    readonly url: string,
    private readonly options: ClientOptions = {},
  ) {}

  get connected(): boolean {
    return this.socket?.readyState === OPEN;
  }

  connect(): Promise<void> {
    const factory = this.options.socketFactory ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    return new Promise((resolve, reject) => {
      let opened = false;
      let socket: SocketLike;
      try {
        socket = factory(this.url);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.socket = socket;
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onerror = () => {
        if (!opened) reject(new Error(`cannot reach the daqlab server at ${this.url}`));
      };
      socket.onclose = (ev) => {
        const reason = `connection closed (${ev?.code ?? '?'}${ev?.reason ? `: ${ev.reason}` : ''})`;
        if (!opened) reject(new Error(`cannot reach the daqlab server at ${this.url}: ${reason}`));
        this.failAll(reason);
        if (opened) this.onclose?.(reason);
      };
      socket.onmessage = (ev) => this.handle(ev.data);
    });
  }

  close(): void {
    const s = this.socket;
    this.onclose = null;
    this.socket = null;
    s?.close(1000, 'client closed');
    this.failAll('client closed');
  }

  request<T = unknown>(op: Op, params: Record<string, unknown> = {}): Promise<T> {
    // `hello` names this page's client, which the server records as the owner of what it prepares
    if (op === 'hello' && params.client === undefined) params = { ...params, client: BROWSER_CLIENT_ID };
    return this.send<T>(op, params, this.nextId++);
  }

  /** `stream.read`: the decoded data messages of the request, in order, and the reply. */
  async read(params: Record<string, unknown>): Promise<{ messages: DataMessage[]; result: ReadResult }> {
    const id = this.nextId++;
    const messages: DataMessage[] = [];
    this.reads.set(id, messages);
    try {
      const result = await this.send<ReadResult>('stream.read', params, id);
      return { messages, result };
    } finally {
      this.reads.delete(id);
    }
  }

  private send<T>(op: Op, params: Record<string, unknown>, id: number): Promise<T> {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return Promise.reject(new Error('not connected to the daqlab server'));
    return new Promise<T>((resolve, reject) => {
      const entry: { resolve: (v: unknown) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout> } = {
        resolve: resolve as (v: unknown) => void,
        reject,
      };
      const ms = this.options.timeoutMs ?? 30000;
      if (ms > 0) {
        entry.timer = setTimeout(() => {
          this.waiting.delete(id);
          reject(new Error(`${op}: no reply within ${ms} ms`));
        }, ms);
      }
      this.waiting.set(id, entry);
      socket.send(JSON.stringify({ ...params, id, op }));
    });
  }

  /** Listen to a server event; returns a function that stops listening. */
  on(event: EventName, handler: (ev: EventMessage) => void): () => void {
    let set = this.eventHandlers.get(event);
    if (!set) this.eventHandlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  async subscribe(params: SubscribeParams, onData: DataHandler): Promise<SubscribeResult> {
    const result = await this.request<SubscribeResult>('subscribe', params as unknown as Record<string, unknown>);
    this.subs.set(result.sub, onData);
    const early = this.early.get(result.sub);
    this.early.delete(result.sub);
    // after the caller has seen the reply (its continuation is a microtask, this a task)
    if (early) setTimeout(() => early.forEach((msg) => this.subs.get(result.sub)?.(msg)), 0);
    return result;
  }

  /** Tell the server every message up to `msg` was consumed (flow control). */
  ack(sub: string, msg: number): void {
    if (this.connected) this.socket!.send(JSON.stringify({ id: this.nextId++, op: 'sub.ack', sub, msg }));
  }

  async unsubscribe(sub: string): Promise<void> {
    this.subs.delete(sub);
    this.early.delete(sub);
    try {
      await this.request('unsubscribe', { sub });
    } catch {
      // already ended (sub.end) or the connection is gone: nothing to undo
    }
  }

  private handle(data: unknown): void {
    if (typeof data === 'string') {
      const msg = JSON.parse(data) as Reply | EventMessage;
      if ('event' in msg) {
        for (const h of this.eventHandlers.get(msg.event) ?? []) h(msg);
        return;
      }
      const entry = typeof msg.id === 'number' ? this.waiting.get(msg.id) : undefined;
      if (!entry) return; // replies to sub.ack, or after a timeout
      this.waiting.delete(msg.id as number);
      if (entry.timer) clearTimeout(entry.timer);
      if (msg.ok) entry.resolve(msg.result);
      else entry.reject(new RequestError(msg.error));
      return;
    }
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
    const t0 = performance.now();
    const decoded = decodeData(bytes, this.joiner);
    if (!decoded) return;
    decoded.decodeMs = performance.now() - t0;
    if (decoded.header.sub === undefined) {
      if (typeof decoded.header.req === 'number') this.reads.get(decoded.header.req)?.push(decoded);
      return;
    }
    const handler = this.subs.get(decoded.header.sub);
    if (handler) handler(decoded);
    else {
      const list = this.early.get(decoded.header.sub) ?? [];
      list.push(decoded);
      this.early.set(decoded.header.sub, list);
    }
  }

  private failAll(reason: string): void {
    for (const [, w] of this.waiting) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.waiting.clear();
    this.subs.clear();
    this.early.clear();
    this.reads.clear();
    this.joiner.clear();
  }
}

/**
 * The WebSocket URL for a configured server address, as the browser sees it (the token goes in the
 * query: browsers cannot set headers on a WebSocket; the Python client uses the Authorization header):
 * `ws(s)://…` and `http(s)://…` are used as they are (http → ws); anything
 * else is a path relative to the Jupyter server's base URL, e.g.
 * `proxy/8765/ws` through jupyter-server-proxy on the page's own origin
 * (so JupyterHub and remote users need no extra port, and Jupyter's auth applies).
 */
export function resolveServerUrl(configured: string, pageUrl: string, baseUrl: string, token = ''): string {
  let url: URL;
  if (/^(wss?|https?):\/\//.test(configured)) {
    url = new URL(configured);
  } else {
    const base = new URL(baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', pageUrl);
    url = new URL(configured.replace(/^\/+/, ''), base);
  }
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('token', token);
  return url.toString();
}
