/**
 * The read side of the Redis store: scans that others published in Redis in blissdata's protocol 1
 * (another daqlab server, or blissdata's own writer, e.g. BLISS) join this server's store, live, so
 * that `c.scans`, the DAQ panel and LiveImage show them like local ones.
 *
 * One loop follows `_SCAN_HISTORY_` (blocking XREAD on a connection of its own). Each scan found is
 * created in the local store (its info gets `redis_source`, which keeps the publisher from writing it
 * back) and followed by one blocking XREAD over its state stream and its unsealed data streams (a
 * connection per scan being followed, closed at the end). Points are decoded per encoding: numeric
 * with a fixed shape → an array stream, json → an event stream; other encodings (shapes with -1,
 * dtypes daqlab has no type for) are skipped and named in the scan's info (`redis_skipped`). Points
 * already trimmed from Redis come in as invalid zero frames (arrays) or null events, counted.
 */
import type { Redis } from 'ioredis';
import { DTYPES, type DType, type ScanIdentity, type ScanState } from '../../protocol/index.js';
import { TYPED_ARRAY, product } from '../../protocol/dtypes.js';
import type { ArrayStream, EventStream, Scan, ScanStore } from '../types.js';
import { NUMPY_DTYPE_STR, SCAN_HISTORY, STATE_NUMBER, redactUrl, streamKey, type Encoding, type ScanDocument, type StreamModel } from './protocol.js';
import type { Logger } from './publisher.js';

/** scans of the history imported at start (the newest ones) */
export const IMPORT_AT_START = 100;
/** entries per XREAD of a scan's streams */
const READ_COUNT = 64;
/** ms a blocking XREAD waits before the loop looks again (closing, keys gone) */
const BLOCK_MS = 1000;
/** ms after CLOSED with no news before unsealed streams are given up (a writer that died) */
const CLOSE_GRACE_MS = 5000;

const STATES_BY_NUMBER: ScanState[] = ['CREATED', 'PREPARED', 'STARTED', 'STOPPED', 'CLOSED'];
const DTYPE_OF: Record<string, DType> = Object.fromEntries(
  DTYPES.flatMap((d) => {
    const s = NUMPY_DTYPE_STR[d];
    return s.startsWith('|') ? [[s, d], [`<${s.slice(1)}`, d]] : [[s, d]];
  }),
);

export interface ImporterOptions {
  log?: Logger;
  /** Redis keys this server publishes itself (never imported back) */
  isOwn?: (redisKey: string) => boolean;
}

interface Follow {
  key: string;
  model: StreamModel;
  local: ArrayStream | EventStream;
  /** last entry id read */
  lastId: string;
  /** next index expected */
  next: number;
  sealed: boolean;
}

export class RedisImporter {
  /** scans imported so far, by Redis key → local key */
  readonly imported = new Map<string, string>();
  /** points that were gone from Redis when read (padded) */
  missingPoints = 0;
  private stopped = false;
  private readonly followers = new Set<Redis>();
  private readonly log: Logger;
  private readonly shown: string;

  constructor(
    private readonly store: ScanStore,
    /** non-blocking commands */
    private readonly redis: Redis,
    url: string,
    private readonly options: ImporterOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
    this.shown = redactUrl(url);
  }

  /** Import the newest scans of the history, then follow it. */
  start(): void {
    void this.run().catch((err) => this.log('error', 'following Redis scans stopped', { store: this.shown, error: String(err) }));
  }

  private async run(): Promise<void> {
    const conn = await this.connection();
    const recent = await this.redis.xrevrange(SCAN_HISTORY, '+', '-', 'COUNT', IMPORT_AT_START);
    let last = recent.length ? recent[0]![0] : '0-0';
    // the earlier scans one after the other (one connection at a time), new ones at once meanwhile
    void (async () => {
      for (const [, fields] of recent.reverse()) if (!this.stopped) await this.found(fields);
    })();
    while (!this.stopped) {
      let res: [string, [string, string[]][]][] | null;
      try {
        res = (await conn.xread('COUNT', 100, 'BLOCK', BLOCK_MS, 'STREAMS', SCAN_HISTORY, last)) as typeof res;
      } catch (err) {
        if (this.stopped) return;
        this.log('warn', 'reading the Redis scan history failed; retrying', { store: this.shown, error: String(err) });
        await new Promise((r) => setTimeout(r, BLOCK_MS));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          last = id;
          void this.found(fields);
        }
      }
    }
  }

  /** a connection of its own for blocking reads (the options, offline queue off included, are the publisher's) */
  private async connection(): Promise<Redis> {
    const conn = this.redis.duplicate();
    conn.on('error', () => undefined);
    this.followers.add(conn);
    await conn.connect();
    return conn;
  }

  /** resolves when the scan is imported and followed to its end (or skipped, or failed: logged) */
  private found(fields: string[]): Promise<void> {
    const key = fields[fields.indexOf('key') + 1];
    if (!key || this.imported.has(key) || this.options.isOwn?.(key)) return Promise.resolve();
    this.imported.set(key, '');
    return this.importScan(key).catch((err) => this.log('warn', 'a scan in Redis could not be imported', { key, error: String(err) }));
  }

  private async document(key: string): Promise<ScanDocument | null> {
    const raw = (await this.redis.call('JSON.GET', key, '$')) as string | null;
    if (raw === null) return null;
    const doc = (JSON.parse(raw) as ScanDocument[])[0];
    return doc ?? null;
  }

  private async importScan(key: string): Promise<void> {
    const doc = await this.document(key);
    if (!doc) return; // expired meanwhile
    if (doc.info && typeof doc.info === 'object' && 'redis_source' in doc.info) return; // imported by another daqlab, published back: not ours to repeat
    const id = doc.id;
    const identity: Partial<ScanIdentity> = { name: id.name || 'scan', number: id.number };
    if (id.session) identity.session = id.session;
    if (id.proposal) identity.proposal = id.proposal;
    if (id.collection) identity.sample = id.collection;
    if (id.dataset) identity.dataset = id.dataset;
    if (id.path) identity.path = id.path;
    const scan = this.store.createScan(identity, { ...(doc.info ?? {}), redis_source: { store: this.shown, key } });
    this.imported.set(key, scan.key);
    this.log('info', 'scan from Redis joins the store', { key, local: scan.key, name: id.name, number: id.number });
    const conn = await this.connection();
    try {
      await this.follow(conn, key, doc, scan);
    } finally {
      this.followers.delete(conn);
      conn.disconnect();
      if (scan.state !== 'CLOSED' && !this.stopped) scan.close();
    }
  }

  /** Follow one scan until it is CLOSED in Redis and every stream is sealed (or the scan expired). */
  private async follow(conn: Redis, key: string, doc: ScanDocument, scan: Scan): Promise<void> {
    const stateKey = streamKey(doc.state_stream.pk);
    let stateId = '0-0';
    let state = -1;
    const streams = new Map<string, Follow>();
    const skipped: Record<string, string> = {};
    let closedAt = 0;
    const declare = (d: ScanDocument) => {
      for (const [name, model] of Object.entries(d.data_streams ?? {})) {
        if (streams.has(name) || name in skipped || scan.state === 'CLOSED') continue;
        const local = this.localStream(scan, name, model);
        if (typeof local === 'string') {
          skipped[name] = local;
          this.log('info', 'a Redis stream is not imported', { key, stream: name, why: local });
          continue;
        }
        streams.set(name, { key: streamKey(model.pk), model, local, lastId: '0-0', next: 0, sealed: false });
      }
    };
    while (!this.stopped) {
      const open = [...streams.values()].filter((f) => !f.sealed);
      if (state === STATE_NUMBER.CLOSED && (open.length === 0 || Date.now() - closedAt > CLOSE_GRACE_MS)) break;
      const keys = [stateKey, ...open.map((f) => f.key)];
      const ids = [stateId, ...open.map((f) => f.lastId)];
      const res = (await conn.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids)) as [Buffer, [Buffer, Buffer[]][]][] | null;
      if (!res) {
        if ((await this.redis.exists(key)) === 0) return; // the scan expired from Redis
        continue;
      }
      for (const [k, entries] of res) {
        const name = k.toString();
        if (name === stateKey) {
          const [lastId, fields] = entries[entries.length - 1]!;
          stateId = lastId.toString();
          state = Number(fieldOf(fields, 'state')?.toString() ?? state);
          const fresh = await this.document(key);
          if (!fresh) return;
          if (state >= STATE_NUMBER.PREPARED) declare(fresh);
          if (state === STATE_NUMBER.CLOSED) {
            closedAt = Date.now();
            if (Object.keys(skipped).length && scan.state !== 'CLOSED') scan.updateInfo({ redis_skipped: skipped });
          } else if (state > STATE_NUMBER.CREATED && STATES_BY_NUMBER[state] && scan.state !== 'CLOSED') {
            scan.setState(STATES_BY_NUMBER[state]!);
          }
          continue;
        }
        const f = open.find((o) => o.key === name);
        if (f) for (const [id, fields] of entries) this.entry(f, id.toString(), fields);
      }
    }
  }

  private localStream(scan: Scan, name: string, model: StreamModel): ArrayStream | EventStream | string {
    const enc = model.encoding as Encoding | null;
    const info = { ...(model.info ?? {}), redis_stream: streamKey(model.pk) };
    // blissdata-lima2's model: the Redis stream only counts frames, which live behind a LIMA2 conductor (lima2.ts)
    if (model.info?.plugin === 'lima2') return 'a lima2 frame count: its frames are read through the LIMA2 conductor or its master_file, not from Redis';
    if (enc?.type === 'json') return scan.createEventStream(name, info);
    if (enc?.type !== 'numeric') return `encoding ${JSON.stringify(enc)} is not one daqlab reads`;
    const dtype = DTYPE_OF[enc.dtype_str];
    if (!dtype) return `numeric dtype ${enc.dtype_str} has no daqlab type (${DTYPES.join(', ')})`;
    if (enc.shape.some((n) => !Number.isSafeInteger(n) || n < 0)) return `shape ${JSON.stringify(enc.shape)} has free dimensions`;
    return scan.createArrayStream(name, dtype, enc.shape, info);
  }

  /** One Redis entry into the local stream: points, or the seal. */
  private entry(f: Follow, id: string, fields: Buffer[]): void {
    f.lastId = id;
    const first = id.split('-')[0]!;
    if (first === '18446744073709551615') {
      f.sealed = true;
      return;
    }
    const index = Number(first);
    const len = Number(fieldOf(fields, 'len')?.toString() ?? 1);
    const payload = fieldOf(fields, 'payload') ?? Buffer.alloc(0);
    if (index > f.next) this.pad(f, index - f.next);
    if (index < f.next) return; // already there (never with one writer per stream)
    if (f.local.kind === 'event') {
      f.local.append([JSON.parse(payload.toString()) as unknown]);
    } else {
      const a = f.local;
      if (payload.byteLength !== len * a.itemBytes) {
        throw new Error(`${f.key} entry ${id}: ${payload.byteLength} payload bytes for ${len} points of ${a.itemBytes} bytes`);
      }
      // an aligned copy: Redis replies are byte buffers at any offset
      const copy = new Uint8Array(payload.byteLength);
      copy.set(payload);
      const items = new TYPED_ARRAY[a.dtype](copy.buffer, 0, len * product(a.shape));
      a.append(items);
    }
    f.next = index + len;
  }

  /** Points trimmed from Redis before they were read: invalid zero items (arrays) or null events, counted. */
  private pad(f: Follow, count: number): void {
    this.missingPoints += count;
    if (f.local.kind === 'event') f.local.append(new Array(count).fill(null));
    else {
      const zero = new TYPED_ARRAY[f.local.dtype](product(f.local.shape));
      f.local.append(new Array(count).fill(zero), new Array(count).fill(false));
    }
    f.next += count;
    this.log('warn', 'points were gone from Redis when read (trimmed there): imported as invalid', { stream: f.key, count });
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.followers) c.disconnect();
    this.followers.clear();
  }
}

function fieldOf(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}
