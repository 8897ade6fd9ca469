/**
 * Redis's own memory limit beside daqlab's memory budget. What daqlab keeps in Redis follows the store: a trim or an
 * eviction under `--memory-budget` is applied to Redis too (publisher.ts `trim`). But Redis is shared — blissdata's
 * writers, other daqlab servers — and blissdata wants `maxmemory-policy noeviction`, under which a full Redis refuses
 * every write (the acquisitions publishing there would FAULT). So:
 *  - at start, a `maxmemory` below what the store may hold is a warning naming both (set one ≥ the other);
 *  - while running, Redis's memory is watched: above HIGH_WATER × maxmemory, the streams of this server's oldest
 *    finished scan are trimmed from Redis (down to their seal), one scan per check, each logged, counted and sent to
 *    clients (`store.redis_trimmed`) —
 *    blissdata's readers then get IndexNoMoreThereError and read those points through `hdf5_fallback` (the files).
 * Running scans and scans of other writers are never touched.
 */
import type { Redis } from 'ioredis';
import type { ScanStore } from '../types.js';
import type { Logger } from './publisher.js';

/** above this fraction of maxmemory, old finished scans leave Redis */
export const HIGH_WATER = 0.9;
/** how often Redis's memory is read (one INFO command) */
export const WATCH_MS = 500;
/** Redis's bytes per byte of payload (stream entries, keys, JSON documents): a rough margin for the start check */
const REDIS_OVERHEAD = 1.25;

export interface RedisMemory {
  used: number;
  /** 0: no limit */
  max: number;
}

export async function redisMemory(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { used: field('used_memory'), max: field('maxmemory') };
}

/** What the guard needs of the publisher: its own scans' Redis streams, oldest first, and the trim that reports. */
export interface TrimTarget {
  readonly redisStreams: Map<string, Map<string, string>>;
  trimScan(scanKeyInStore: string, why: string): Promise<void>;
}

export class RedisMemoryGuard {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly trimmed = new Set<string>();
  private exhausted = false;
  /** scans trimmed because Redis neared its maxmemory */
  scansTrimmed = 0;

  constructor(
    private readonly redis: Redis,
    private readonly target: TrimTarget,
    private readonly store: ScanStore,
    private readonly log: Logger,
  ) {}

  /** The start check: a warning when Redis's limit is below what the store may hold. */
  async check(shown: string): Promise<RedisMemory> {
    const m = await redisMemory(this.redis);
    if (m.max > 0 && m.max < this.store.memoryBudget * REDIS_OVERHEAD) {
      this.log('warn', "Redis's maxmemory is below what daqlab's store may hold there: old finished scans will be trimmed from Redis early (files are the fallback), and a running scan could meet Redis's refusal; raise maxmemory or lower --memory-budget", {
        store: shown, maxmemory: m.max, memory_budget: this.store.memoryBudget, wanted: Math.ceil(this.store.memoryBudget * REDIS_OVERHEAD),
      });
    }
    return m;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), WATCH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const m = await redisMemory(this.redis);
      if (!m.max || m.used <= HIGH_WATER * m.max) {
        this.exhausted = false;
        return;
      }
      const victim = this.oldestFinished();
      if (!victim) {
        if (!this.exhausted) this.log('warn', 'Redis is near its maxmemory and none of this server\'s finished scans is left to trim there', { used: m.used, maxmemory: m.max });
        this.exhausted = true;
        return;
      }
      this.trimmed.add(victim);
      this.scansTrimmed++;
      await this.target.trimScan(victim, `Redis near its maxmemory (${m.used} of ${m.max} bytes)`);
    } catch {
      // Redis unreachable: the publisher reports that where it matters (the scans being written)
    } finally {
      this.busy = false;
    }
  }

  private oldestFinished(): string | null {
    for (const key of this.target.redisStreams.keys()) {
      if (this.trimmed.has(key)) continue;
      let state: string;
      try {
        state = this.store.scan(key).state;
      } catch {
        state = 'CLOSED'; // gone from the store: finished long ago
      }
      if (state === 'CLOSED') return key;
    }
    return null;
  }
}
