/**
 * A scan: identity, info, a state that only moves forward, and named streams. Closing seals
 * every stream. The scan forwards its streams' byte accounting and trims to its owner (the store).
 */
import { DaqError } from '../protocol/errors.js';
import { SCAN_STATES, type ScanIdentity, type ScanState, type ScanSummary } from '../protocol/index.js';
import type { DType } from '../protocol/dtypes.js';
import { MemoryArrayStream } from './array-stream.js';
import { MemoryEventStream } from './event-stream.js';
import { checkInfo } from './identity.js';
import type { StreamCore, StreamOwner } from './stream-base.js';
import type { Scan, TrimReport } from './types.js';

export type MemoryStream = MemoryArrayStream | MemoryEventStream;

/** What a scan reports to the store. */
export interface ScanOwner {
  bytesChanged(delta: number): void;
  appended(): void;
  trimmed(report: TrimReport): void;
  stateChanged(scan: MemoryScan): void;
}

const rank = (state: ScanState): number => SCAN_STATES.indexOf(state);

export class MemoryScan implements Scan {
  readonly identity: Readonly<ScanIdentity>;
  readonly created = new Date();
  private _info: Record<string, unknown>;
  private _state: ScanState = 'CREATED';
  private readonly _streams = new Map<string, MemoryStream>();
  private readonly streamOwner: StreamOwner;

  constructor(
    private readonly owner: ScanOwner,
    readonly key: string,
    readonly seq: number,
    identity: ScanIdentity,
    info: Record<string, unknown>,
  ) {
    this.identity = Object.freeze({ ...identity });
    this._info = info;
    const label = `scan ${key}`;
    this.streamOwner = {
      label,
      bytesChanged: (delta) => owner.bytesChanged(delta),
      appended: () => owner.appended(),
      trimmed: (stream: StreamCore<unknown>, trimmedTo: number, bytes: number) =>
        owner.trimmed({ key, stream: stream.name, trimmed_to: trimmedTo, bytes }),
    };
  }

  get info(): Record<string, unknown> {
    return this._info;
  }

  get state(): ScanState {
    return this._state;
  }

  get streams(): ReadonlyMap<string, MemoryStream> {
    return this._streams;
  }

  /** bytes held by this scan's streams */
  get bytes(): number {
    let n = 0;
    for (const s of this._streams.values()) n += s.bytes;
    return n;
  }

  setState(state: ScanState): void {
    if (!(SCAN_STATES as readonly string[]).includes(state)) {
      const message = `unknown state ${JSON.stringify(state)} (states: ${SCAN_STATES.join(' → ')})`;
      throw new DaqError('ParameterError', `state: ${message}`, [{ field: 'state', message }]);
    }
    const from = this._state;
    if (rank(state) < rank(from)) {
      throw new DaqError(
        'StateError',
        `cannot move scan ${this.key} from ${from} back to ${state}: a scan's state only increases (${SCAN_STATES.join(' → ')})`,
        undefined,
        { state: from, from, to: state },
      );
    }
    if (state === from) return;
    if (state === 'CLOSED') return this.close();
    this._state = state;
    this.owner.stateChanged(this);
  }

  updateInfo(patch: Record<string, unknown>): void {
    this.requireNotClosed('update the info of');
    const checked = checkInfo(patch, 'info');
    this._info = checkInfo({ ...this._info, ...checked }, 'info');
  }

  private requireNotClosed(what: string): void {
    if (this._state === 'CLOSED') {
      throw new DaqError('StateError', `cannot ${what} scan ${this.key}: it is CLOSED`, undefined, { state: this._state });
    }
  }

  private checkNewStream(name: string): void {
    this.requireNotClosed('add a stream to');
    if (typeof name !== 'string' || name === '') {
      throw new DaqError('ParameterError', 'name: a stream name must be a non-empty string', [
        { field: 'name', message: 'must be a non-empty string' },
      ]);
    }
    if (this._streams.has(name)) {
      throw new DaqError('ParameterError', `name: scan ${this.key} already has a stream '${name}'`, [
        { field: 'name', message: `stream '${name}' already exists` },
      ]);
    }
  }

  createArrayStream(name: string, dtype: DType, shape: number[], info?: Record<string, unknown>): MemoryArrayStream {
    this.checkNewStream(name);
    const stream = new MemoryArrayStream(name, dtype, shape, checkInfo(info, 'info'), this.streamOwner);
    this._streams.set(name, stream);
    return stream;
  }

  createEventStream(name: string, info?: Record<string, unknown>): MemoryEventStream {
    this.checkNewStream(name);
    const stream = new MemoryEventStream(name, checkInfo(info, 'info'), this.streamOwner);
    this._streams.set(name, stream);
    return stream;
  }

  stream(name: string): MemoryStream {
    const s = this._streams.get(name);
    if (!s) {
      const names = [...this._streams.keys()];
      const known = names.length ? `its streams: ${names.map((n) => `'${n}'`).join(', ')}` : 'it has no streams';
      throw new DaqError('NotFoundError', `scan ${this.key} has no stream ${JSON.stringify(String(name)).slice(0, 200)} (${known})`);
    }
    return s;
  }

  close(): void {
    if (this._state === 'CLOSED') return;
    for (const s of this._streams.values()) s.seal();
    this._state = 'CLOSED';
    this.owner.stateChanged(this);
  }

  summary(): ScanSummary {
    return {
      key: this.key,
      seq: this.seq,
      identity: { ...this.identity },
      state: this._state,
      info: this._info,
      streams: [...this._streams.values()].map((s) => s.describe()),
      created: this.created.toISOString(),
    };
  }
}
