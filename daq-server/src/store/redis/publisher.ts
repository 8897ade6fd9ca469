/**
 * Every scan of a daqlab store, also published in Redis in blissdata's protocol 1 (protocol.ts),
 * so that blissdata's readers (and anything built on them) see daqlab scans live.
 *
 * It only observes the store through its interface (onScan / onScanState, and one cursor per
 * stream): acquisition never waits for Redis. One writer per Redis stream — the stream's pump —
 * and state transitions go through one ordered chain per scan.
 *
 * Bounded: each pump has at most one pipeline in flight (≤ PIPELINE_BYTES of payload); while it
 * waits, items stay in the store (they are there anyway). If Redis cannot keep up and the store's
 * memory budget trims items before the pump read them, they are counted as lost, logged as a
 * warning and recorded in the scan's info in Redis (`daqlab_redis.lost_items`) — never silent.
 * Redis unreachable: the scan's publication stops with an error logged once (the scan itself and
 * its files go on); ioredis reconnects by itself and the next scans are published again.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ScanState } from '../../protocol/index.js';
import type { ArrayItems, ArrayStream, EventItems, EventStream, Scan, ScanStore, Stream } from '../types.js';
import {
  JSON_ENCODING,
  PROTOCOL_KEY,
  PROTOCOL_VERSION,
  SCAN_HISTORY,
  SCAN_HISTORY_MAXLEN,
  SEAL_ID,
  STATE_NUMBER,
  arrayPayload,
  blissInfo,
  dataEntryArgs,
  entrySizes,
  eventPayload,
  identityModel,
  numericEncoding,
  redactUrl,
  scanKey,
  sealArgs,
  streamKey,
  ulid,
  type ScanDocument,
  type StreamModel,
} from './protocol.js';
import { RedisMemoryGuard } from './memory.js';
import { LIMA2_COUNT_PERIOD_MS, lima2StreamDef, readablePrefix, type Lima2StreamDef } from './lima2.js';

/** payload bytes of one pipeline (the pump reads at most this much before it is acknowledged) */
export const PIPELINE_BYTES = 64 * 1024 * 1024;
/** points smaller than this share entries of about this size */
export const ENTRY_BYTES = 1024 * 1024;
/** scans whose Redis streams are trimmed with the store (older ones: left to Redis's own policy) */
const TRIM_MEMORY = 4096;
/** events per pipeline */
const EVENTS_PER_PIPELINE = 1024;

export type Logger = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface PublisherStats {
  /** scans published (their CREATED state reached Redis) */
  scans: number;
  /** data entries written */
  entries: number;
  /** payload bytes written */
  bytes: number;
  /** items trimmed from the store before they could be published */
  lost_items: number;
  /** entries removed from Redis streams because the store trimmed or evicted their items, or Redis neared its maxmemory */
  trimmed_entries: number;
  /** finished scans trimmed from Redis because it neared its maxmemory (memory.ts) */
  maxmemory_trims: number;
  /** scans whose publication stopped on an error */
  failed_scans: number;
  last_error: string | null;
}

export interface PublisherOptions {
  log?: Logger;
  /** a scan's publication failed (Redis unreachable, a command refused): the service FAULTs its acquisition */
  onFailure?: (scanKey: string, reason: string) => void;
  /** payload bytes per pipeline (default PIPELINE_BYTES) */
  pipelineBytes?: number;
  /** a finished scan's streams left Redis because Redis neared its maxmemory (memory.ts): the `store.redis_trimmed` event */
  onRedisTrim?: (report: RedisTrimReport) => void;
}

export interface RedisTrimReport {
  /** the scan's key in the store */
  key: string;
  streams: string[];
  /** stream entries removed */
  entries: number;
  reason: string;
}

/** What the publisher knows of one Redis data stream. */
interface StreamMirror {
  model: StreamModel;
  done: Promise<void>;
}

export class RedisPublisher {
  readonly stats: PublisherStats = { scans: 0, entries: 0, bytes: 0, lost_items: 0, trimmed_entries: 0, maxmemory_trims: 0, failed_scans: 0, last_error: null };
  private guard: RedisMemoryGuard | null = null;
  private readonly mirrors = new Map<string, ScanMirror>();
  /** Redis keys of the scans this server published (about 40 bytes each) */
  private readonly published = new Set<string>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly abort = new AbortController();
  readonly log: Logger;
  readonly pipelineBytes: number;

  private constructor(
    readonly redis: Redis,
    readonly url: string,
    private readonly options: PublisherOptions,
  ) {
    setMaxListeners(0, this.abort.signal); // one blocking cursor read per stream being published waits on it
    this.log = options.log ?? (() => undefined);
    this.pipelineBytes = options.pipelineBytes ?? PIPELINE_BYTES;
  }

  /**
   * Connect, check the server (the JSON module blissdata's readers need, the protocol version),
   * mark the database as blissdata protocol 1, then follow `store`. Throws a clear error when Redis
   * is unreachable or unsuitable.
   */
  static async attach(store: ScanStore, url: string, options: PublisherOptions = {}): Promise<RedisPublisher> {
    const shown = redactUrl(url);
    // the password: in the URL (config file), else $DAQLAB_REDIS_PASSWORD (never on the command line, never logged)
    const envPassword = new URL(url).password ? undefined : process.env.DAQLAB_REDIS_PASSWORD || undefined;
    const redis = new Redis(url, {
      ...(envPassword ? { password: envPassword } : {}),
      lazyConnect: true,
      // never queue commands while disconnected: a pump fails fast instead of growing a queue
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      retryStrategy: (attempt) => Math.min(200 * attempt, 2000),
    });
    // reported where a command fails (once per scan); ioredis keeps reconnecting meanwhile
    redis.on('error', () => undefined);
    try {
      await redis.connect().catch((err: Error) => {
        throw new Error(`cannot connect (${err.message}); is Redis running there, and reachable?`);
      });
      const modules = (await redis.call('MODULE', 'LIST')) as unknown[][];
      const names = modules.map((m) => String(m[m.indexOf('name') + 1] ?? m[1]));
      if (!names.some((n) => n.toLowerCase() === 'rejson')) {
        throw new Error(`Redis at ${shown} has no JSON module (ReJSON), which blissdata needs (modules: ${names.join(', ') || 'none'}); load rejson.so (README "Redis")`);
      }
      await redis.set(PROTOCOL_KEY, PROTOCOL_VERSION, 'NX');
      const version = await redis.get(PROTOCOL_KEY);
      if (version !== PROTOCOL_VERSION) throw new Error(`Redis at ${shown} holds blissdata protocol ${version}; daqlab writes protocol ${PROTOCOL_VERSION}`);
      // a Redis that evicts keys under memory pressure would drop parts of scans without a word
      const policy = await (redis.call('CONFIG', 'GET', 'maxmemory-policy') as Promise<string[]>).catch(() => [] as string[]);
      if (policy[1] && policy[1] !== 'noeviction') {
        options.log?.('warn', 'Redis may evict keys under memory pressure: scans could lose parts silently; blissdata expects maxmemory-policy noeviction', { store: shown, policy: policy[1] });
      }
    } catch (err) {
      redis.disconnect();
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(message.includes(shown) ? message : `--store ${shown}: ${message}`);
    }
    const pub = new RedisPublisher(redis, url, options);
    // a Redis that restarted empty gets the protocol version again (readers refuse a database without it)
    redis.on('ready', () => {
      redis.set(PROTOCOL_KEY, PROTOCOL_VERSION, 'NX').catch(() => undefined);
      pub.log('info', 'Redis connection (re)established', { store: shown });
    });
    pub.unsubscribe.push(
      store.onScan((scan) => pub.follow(scan)),
      store.onScanState((scan) => pub.mirrors.get(scan.key)?.transition(scan.state)),
      // Redis holds what the store holds: its memory budget applies there too (frames stay readable from files)
      store.onTrim((t) => pub.trim(t.key, t.stream, String(t.trimmed_to))),
      store.onEvict((e) => {
        for (const name of pub.redisStreams.get(e.key)?.keys() ?? []) pub.trim(e.key, name, SEAL_ID.split('-')[0]!);
      }),
    );
    // Redis's own limit beside the store's budget (memory.ts)
    pub.guard = new RedisMemoryGuard(redis, pub, store, pub.log);
    await pub.guard.check(shown).catch(() => undefined);
    pub.guard.start();
    pub.log('info', 'publishing scans to Redis in blissdata protocol 1', { store: shown });
    return pub;
  }

  /** the Redis key of a daqlab scan's document (undefined: not published) */
  keyOf(scanKeyInStore: string): string | undefined {
    const m = this.mirrors.get(scanKeyInStore);
    return m ? scanKey(m.pk) : undefined;
  }

  /** resolves once everything of every scan seen so far is written (or failed) */
  async flush(): Promise<void> {
    await Promise.all([...this.mirrors.values()].map((m) => m.settled()));
  }

  /** local scan key → stream name → Redis stream key, for the trims (the newest TRIM_MEMORY scans) */
  readonly redisStreams = new Map<string, Map<string, string>>();

  /**
   * The store trimmed items below `minId` (or evicted the scan): the same entries leave Redis, reported.
   * An entry is removed when its first point is below `minId` (frames: exactly the trimmed ones; a
   * grouped entry of small points may take a few newer points with it).
   */
  trim(scanKeyInStore: string, stream: string, minId: string, why = 'with the store'): Promise<number> {
    const key = this.redisStreams.get(scanKeyInStore)?.get(stream);
    if (!key) return Promise.resolve(0);
    return this.redis.xtrim(key, 'MINID', minId).then(
      (removed) => {
        if (!removed) return 0;
        this.stats.trimmed_entries += removed;
        this.log('info', `Redis trimmed ${why} (blissdata reads them as IndexNoMoreThereError, or from the files)`, { key: scanKeyInStore, stream, redis_key: key, entries: removed });
        return removed;
      },
      (err) => {
        this.log('warn', `trimming Redis ${why} failed`, { key: scanKeyInStore, stream, error: String(err) });
        return 0;
      },
    );
  }

  /** Every stream of a finished scan down to its seal (memory.ts: Redis near its maxmemory). */
  async trimScan(scanKeyInStore: string, why: string): Promise<void> {
    this.stats.maxmemory_trims++;
    const streams = [...(this.redisStreams.get(scanKeyInStore)?.keys() ?? [])];
    const removed = await Promise.all(streams.map((name) => this.trim(scanKeyInStore, name, SEAL_ID.split('-')[0]!, `because ${why}`)));
    this.options.onRedisTrim?.({ key: scanKeyInStore, streams, entries: removed.reduce((a, b) => a + b, 0), reason: why });
  }

  remember(scanKeyInStore: string, stream: string, redisKey: string): void {
    let m = this.redisStreams.get(scanKeyInStore);
    if (!m) {
      this.redisStreams.set(scanKeyInStore, (m = new Map()));
      while (this.redisStreams.size > TRIM_MEMORY) this.redisStreams.delete(this.redisStreams.keys().next().value as string);
    }
    m.set(stream, redisKey);
  }

  /** whether this server published the Redis scan `redisKey` (the importer leaves those alone) */
  owns(redisKey: string): boolean {
    return this.published.has(redisKey);
  }

  private follow(scan: Scan): void {
    // a scan that came from Redis (importer.ts) is there already: never written back
    if (scan.info.redis_source !== undefined) return;
    const mirror = new ScanMirror(this, scan, this.abort.signal);
    this.mirrors.set(scan.key, mirror);
    this.published.add(scanKey(mirror.pk));
    mirror.transition('CREATED');
    // a mirror is needed only while the scan is published; forget it once CLOSED reached Redis
    void mirror.settled().then(() => {
      if (mirror.closed) this.mirrors.delete(scan.key);
    });
  }

  /** Stop following the store; what is in flight is abandoned. */
  async close(): Promise<void> {
    this.guard?.stop();
    for (const u of this.unsubscribe) u();
    this.abort.abort();
    this.redis.disconnect();
  }

  /** count an error once per scan; ioredis's own message names the cause */
  failed(scan: Scan, err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    const state = this.redis.status === 'ready' ? '' : ` is unreachable (connection ${this.redis.status})`;
    const reason = `Redis ${redactUrl(this.url)}${state}: ${message}`;
    this.stats.failed_scans++;
    this.stats.last_error = reason;
    this.log('error', 'publishing a scan to Redis failed: it is no longer published there (what was acquired stays in memory and files)', { key: scan.key, reason });
    try {
      this.options.onFailure?.(scan.key, reason);
    } catch (e) {
      this.log('error', 'a Redis failure listener failed', { error: String(e) });
    }
    return reason;
  }
}

/** One scan's publication: its document, its state stream, one pump per data stream. */
class ScanMirror {
  readonly pk = ulid();
  private readonly idPk = ulid();
  private readonly statePk = ulid();
  private readonly streams = new Map<string, StreamMirror>();
  private chain: Promise<void> = Promise.resolve();
  private error: string | null = null;
  private lost = 0;
  closed = false;
  /** the NXentry name the saving parameters chose (read at creation: the saver's own info replaces them later) */
  private readonly entryName: string;

  constructor(
    private readonly pub: RedisPublisher,
    private readonly scan: Scan,
    private readonly signal: AbortSignal,
  ) {
    this.entryName = String((scan.info.saving as { nx_entry_name?: string } | undefined)?.nx_entry_name ?? 'entry');
  }

  settled(): Promise<void> {
    return this.chain;
  }

  /** Queue a transition: the document as it is now (info, every stream so far) and the state entry. */
  transition(state: ScanState): void {
    if (this.closed) return;
    this.declareStreams();
    const info = blissInfo(this.scan.info as Record<string, unknown>);
    const first = state === 'CREATED';
    const last = state === 'CLOSED';
    if (last) this.closed = true;
    const pumps = [...this.streams.values()].map((s) => s.done);
    this.chain = this.chain.then(async () => {
      // CLOSED comes after every stream is sealed in Redis (a reader of a closed scan finds all its data)
      if (last) await Promise.all(pumps);
      if (this.error || this.signal.aborted) return;
      if (last) info.daqlab_redis = { lost_items: this.lost };
      const key = scanKey(this.pk);
      const tx = this.pub.redis.multi();
      tx.call('JSON.SET', key, '$', JSON.stringify(this.document(info)));
      tx.xadd(streamKey(this.statePk), '*', 'state', String(STATE_NUMBER[state]));
      if (first) tx.xadd(SCAN_HISTORY, 'MAXLEN', '~', String(SCAN_HISTORY_MAXLEN), '*', 'key', key);
      try {
        const replies = await tx.exec();
        const bad = replies?.find(([e]) => e);
        if (!replies) throw new Error('transaction aborted');
        if (bad) throw bad[0];
        if (first) this.pub.stats.scans++;
        if (last && this.lost) this.pub.log('warn', 'scan published to Redis with items missing (trimmed from the store before Redis took them)', { key: this.scan.key, lost_items: this.lost });
      } catch (err) {
        this.fail(err);
      }
    });
  }

  private document(info: Record<string, unknown>): ScanDocument {
    const data: Record<string, StreamModel> = {};
    for (const [name, s] of this.streams) data[name] = s.model;
    return {
      pk: this.pk,
      id: identityModel(this.idPk, this.scan.identity),
      info: { ...info, daqlab_key: this.scan.key },
      state_stream: { pk: this.statePk, encoding: null, info: null },
      data_streams: data,
    };
  }

  private fail(err: unknown): void {
    if (this.error || this.signal.aborted) return;
    this.error = this.pub.failed(this.scan, err);
  }

  /** Streams new since the last transition: their model goes into the next document, their pump starts. */
  private declareStreams(): void {
    for (const [name, stream] of this.scan.streams) {
      if (this.streams.has(name)) continue;
      const model: StreamModel = { pk: ulid(), encoding: null, info: null };
      if (stream.kind === 'array') {
        model.encoding = numericEncoding(stream.dtype, stream.shape);
        model.info = { ...blissInfo(stream.info), dtype: stream.dtype, shape: [...stream.shape], ...this.fallback(stream) };
      } else {
        model.encoding = JSON_ENCODING;
        model.info = blissInfo(stream.info);
      }
      const done = this.pump(stream, streamKey(model.pk)).catch((err) => this.fail(err));
      this.streams.set(name, { model, done });
      this.pub.remember(this.scan.key, name, streamKey(model.pk));
    }
    // a scan driven through the LIMA2 API also has its frames in blissdata-lima2's model (lima2.ts)
    const lima2 = lima2StreamDef(this.scan);
    if (lima2 && !this.streams.has(lima2.name)) {
      const model: StreamModel = { pk: ulid(), encoding: numericEncoding('uint32', []), info: lima2.info };
      const done = this.countPump(lima2, streamKey(model.pk)).catch((err) => this.fail(err));
      this.streams.set(lima2.name, { model, done });
    }
  }

  /**
   * The one writer of a lima2 stream: one entry (uint32) each time more frames became readable
   * through the lookup; sealed once the scan is CLOSED (the final master file is written by then).
   */
  private async countPump(def: Lima2StreamDef, key: string): Promise<void> {
    let count = 0;
    let entries = 0;
    for (;;) {
      if (this.error || this.signal.aborted) return;
      const closed = this.scan.state === 'CLOSED';
      const n = readablePrefix(def.frames, count);
      if (n > count) {
        const payload = Buffer.alloc(4);
        payload.writeUInt32LE(n);
        await this.send([['xadd', key, ...dataEntryArgs(entries, payload, 1)]]);
        this.pub.stats.bytes += 4;
        entries++;
        count = n;
      }
      if (closed) {
        await this.send([['xadd', key, ...sealArgs(entries)]]);
        return;
      }
      try {
        await sleep(LIMA2_COUNT_PERIOD_MS, undefined, { signal: this.signal });
      } catch {
        return; // the publisher closed
      }
    }
  }

  /**
   * blissdata's `hdf5_fallback` plugin reads points trimmed from Redis from a file: the frames of
   * a saved scan are in its master file, at `/<entry>/data/data` (the NXdata link to the detector's data).
   */
  private fallback(stream: ArrayStream): Record<string, unknown> {
    const saving = this.scan.info.saving as { enabled?: boolean; master?: string } | undefined;
    if (stream.name !== 'frame' || !saving?.enabled || typeof saving.master !== 'string') return {};
    return { plugin: 'hdf5_fallback', file_path: saving.master, data_path: `/${this.entryName}/data/data`, save: true };
  }


  /** The one writer of a Redis data stream: reads the store's stream with a cursor, writes entries, seals. */
  private async pump(stream: Stream, key: string): Promise<void> {
    const array = stream.kind === 'array';
    const maxCount = array ? Math.max(1, Math.floor(this.pub.pipelineBytes / Math.max(1, (stream as ArrayStream).itemBytes))) : EVENTS_PER_PIPELINE;
    const cursor = (stream as ArrayStream | EventStream).cursor(0);
    for (;;) {
      if (this.error) return;
      const r = await cursor.read({ block: true, maxCount, signal: this.signal });
      if (r.kind === 'none' || this.error) return;
      if (r.kind === 'end') {
        await this.send([['xadd', key, ...sealArgs(stream.length)]]);
        return;
      }
      if (r.trimmed > 0) {
        this.lost += r.trimmed;
        this.pub.stats.lost_items += r.trimmed;
        this.pub.log('warn', 'Redis is not keeping up: items were trimmed from the store before they were published', {
          key: this.scan.key,
          stream: stream.name,
          lost: r.trimmed,
          gaps: r.gaps,
        });
      }
      const commands = array ? this.arrayEntries(key, r.batch as ArrayItems, (stream as ArrayStream).itemBytes) : this.eventEntries(key, r.batch as EventItems);
      if (commands.length) await this.send(commands);
    }
  }

  private arrayEntries(key: string, batch: ArrayItems, itemBytes: number): (string | Buffer)[][] {
    const out: (string | Buffer)[][] = [];
    let k = 0;
    for (const n of entrySizes(batch.items.length, itemBytes, ENTRY_BYTES)) {
      const payload = arrayPayload(batch.items.slice(k, k + n));
      out.push(['xadd', key, ...dataEntryArgs(batch.first + k * batch.step, payload, n)]);
      this.pub.stats.bytes += payload.byteLength;
      k += n;
    }
    return out;
  }

  private eventEntries(key: string, batch: EventItems): (string | Buffer)[][] {
    return batch.items.map((event, k) => {
      const payload = eventPayload(event);
      this.pub.stats.bytes += Buffer.byteLength(payload);
      return ['xadd', key, ...dataEntryArgs(batch.first + k * batch.step, payload, 1)];
    });
  }

  /** one pipeline; any command's error fails the scan's publication */
  private async send(commands: (string | Buffer)[][]): Promise<void> {
    const replies = await this.pub.redis.pipeline(commands).exec();
    if (!replies) throw new Error('pipeline aborted');
    for (const [err] of replies) if (err) throw err;
    this.pub.stats.entries += commands.length;
  }
}
