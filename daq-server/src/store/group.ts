/**
 * Consumer groups (ASAP::O "next" with acknowledgements, Redis XREADGROUP-like): every item
 * goes to exactly one member. Members ack what they processed; items a member nacks, or holds
 * unacked when it leaves, go back to the group and are delivered again — before any new item
 * (they are older, and delivery is in index order). A group whose stream is sealed, fully
 * delivered and fully acknowledged answers 'end' to every member.
 *
 * Each batch is a run of consecutive indexes (redelivered items, then new ones if they follow
 * on). Items trimmed before delivery are reported once, as `trimmed`/`gaps`, to whichever
 * member reads next.
 */
import { DaqError } from '../protocol/errors.js';
import { deadlineOf, remainingUntil } from './notifier.js';
import { checkReadOptions, type ReadSource } from './source.js';
import type { ConsumerGroup, CursorResult, Gap, GroupMember, ReadOptions } from './types.js';

/** Insert into a sorted array of unique numbers. */
function insertSorted(list: number[], value: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] !== value) list.splice(lo, 0, value);
}

function addGap(gaps: Gap[], from: number, to: number): void {
  const last = gaps[gaps.length - 1];
  if (last && last.to === from) last.to = to;
  else gaps.push({ from, to });
}

export class StreamGroup<T> implements ConsumerGroup<T> {
  /** next index never delivered */
  private nextNew = 0;
  /** indexes given back, to deliver again (sorted, all < nextNew) */
  private redeliver: number[] = [];
  private readonly members = new Map<string, Member<T>>();
  /** trimmed items not yet reported to any member */
  private unreported: Gap[] = [];

  constructor(
    readonly name: string,
    private readonly source: ReadSource<T>,
  ) {}

  get position(): number {
    return this.nextNew;
  }

  join(member: string): GroupMember<T> {
    if (typeof member !== 'string' || member === '') {
      throw new DaqError('ParameterError', 'member: must be a non-empty string', [{ field: 'member', message: 'must be a non-empty string' }]);
    }
    let m = this.members.get(member);
    if (!m) {
      m = new Member(member, this);
      this.members.set(member, m);
    }
    return m;
  }

  pending(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [id, m] of this.members) out[id] = [...m.held].sort((a, b) => a - b);
    return out;
  }

  /** @internal */
  get label(): string {
    return `group '${this.name}' of ${this.source.label}`;
  }

  /** @internal one non-blocking attempt for `member` */
  take(member: Member<T>, maxCount: number): CursorResult<T> | undefined {
    const src = this.source;
    const first = src.first;
    // account for items trimmed before anyone got them
    let r = 0;
    while (r < this.redeliver.length && this.redeliver[r]! < first) {
      addGap(this.unreported, this.redeliver[r]!, this.redeliver[r]! + 1);
      r++;
    }
    if (r > 0) this.redeliver.splice(0, r);
    if (this.nextNew < first) {
      addGap(this.unreported, this.nextNew, first);
      this.nextNew = first;
    }
    let start = -1;
    if (this.redeliver.length > 0) start = this.redeliver[0]!;
    else if (this.nextNew < src.length) start = this.nextNew;

    if (start < 0 && this.unreported.length === 0) {
      const done = src.sealed && this.nextNew >= src.length && [...this.members.values()].every((m) => m.held.size === 0);
      return done ? { kind: 'end' } : undefined;
    }
    let count = 0;
    if (start >= 0) {
      let idx = start;
      let ri = 0;
      while (count < maxCount) {
        if (ri < this.redeliver.length && this.redeliver[ri] === idx) ri++;
        else if (idx === this.nextNew && idx < src.length) this.nextNew++;
        else break;
        member.held.add(idx);
        idx++;
        count++;
      }
      if (ri > 0) this.redeliver.splice(0, ri);
    }
    const gaps = this.unreported;
    const trimmed = gaps.reduce((n, g) => n + g.to - g.from, 0);
    const result: CursorResult<T> = {
      kind: 'data',
      batch: src.readRun(start >= 0 ? start : this.nextNew, count),
      skipped: trimmed,
      trimmed,
    };
    if (trimmed > 0) {
      result.gaps = gaps;
      this.unreported = [];
    }
    return result;
  }

  /** @internal give indexes back for redelivery */
  giveBack(indexes: Iterable<number>): void {
    for (const i of indexes) insertSorted(this.redeliver, i);
    this.source.changed.notify();
  }

  /** @internal */
  remove(member: Member<T>): void {
    if (this.members.get(member.id) === member) this.members.delete(member.id);
    this.giveBack(member.held);
    member.held.clear();
  }

  /** @internal */
  get changed() {
    return this.source.changed;
  }
}

function checkIndexes(indexes: unknown): number[] {
  if (!Array.isArray(indexes) || !indexes.every((i) => Number.isSafeInteger(i) && i >= 0)) {
    throw new DaqError('ParameterError', 'indexes: must be an array of integers ≥ 0', [
      { field: 'indexes', message: 'must be an array of integers ≥ 0' },
    ]);
  }
  return indexes as number[];
}

class Member<T> implements GroupMember<T> {
  /** delivered, not yet acknowledged */
  readonly held = new Set<number>();
  private left = false;

  constructor(
    readonly id: string,
    private readonly group: StreamGroup<T>,
  ) {}

  get joined(): boolean {
    return !this.left;
  }

  private requireJoined(what: string): void {
    if (this.left) {
      throw new DaqError('StateError', `member '${this.id}' cannot ${what}: it left ${this.group.label}`, undefined, {
        state: 'left',
      });
    }
  }

  async next(options: ReadOptions = {}): Promise<CursorResult<T>> {
    this.requireJoined('read');
    if (options.lastOnly) {
      throw new DaqError('ParameterError', 'lastOnly: not supported by consumer groups (every item goes to a member)', [
        { field: 'lastOnly', message: 'not supported by consumer groups' },
      ]);
    }
    const maxCount = checkReadOptions(options, 1);
    const deadline = deadlineOf(options.timeout);
    for (;;) {
      if (this.left) return { kind: 'none' }; // left while waiting
      const result = this.group.take(this, maxCount);
      if (result) return result;
      if (options.block === false) return { kind: 'none' };
      const remaining = remainingUntil(deadline);
      if (remaining !== undefined && remaining <= 0) return { kind: 'none' };
      if (!(await this.group.changed.wait(remaining, options.signal))) {
        if (this.left) return { kind: 'none' };
        return this.group.take(this, maxCount) ?? { kind: 'none' };
      }
    }
  }

  ack(indexes: number[]): number {
    this.requireJoined('ack');
    let n = 0;
    for (const i of checkIndexes(indexes)) if (this.held.delete(i)) n++;
    // the last ack may complete the group: wake members waiting for 'end'
    if (n > 0 && this.held.size === 0) this.group.changed.notify();
    return n;
  }

  nack(indexes: number[]): number {
    this.requireJoined('nack');
    const back: number[] = [];
    for (const i of checkIndexes(indexes)) if (this.held.delete(i)) back.push(i);
    if (back.length > 0) this.group.giveBack(back);
    return back.length;
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    this.group.remove(this);
  }
}
