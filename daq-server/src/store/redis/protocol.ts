/**
 * blissdata's data model in Redis, protocol 1 — the one definition of it in daqlab.
 *
 * Read from blissdata 2.4.5's own writer and readers (redis_engine/store.py, scan.py,
 * streams/event_stream.py, streams/encoding/*):
 *  - `_PROTOCOL_VERSION_` = "1" (readers refuse any other);
 *  - `_SCAN_HISTORY_`: a stream of `{key: "esrf:scan:<pk>"}` (MAXLEN ~ 2048), discovery;
 *  - a scan is a RedisJSON document `esrf:scan:<pk>`: `{pk, id, info, state_stream, data_streams}`
 *    where `id` is the identity (a redis-om model: every field present, null when unknown) and the
 *    streams are `{pk, encoding, info}` models whose Redis key is `esrf:stream:<pk>`;
 *  - the state stream gets one `state <n>` entry per transition, in the same MULTI/EXEC as the
 *    whole document (readers re-read the document when they see a new state);
 *  - a data stream's entry id is `<index of its first point>-1`, fields `payload` (C-order bytes of
 *    `len` points, or one JSON document) and `len` (omitted when 1);
 *  - sealed by the entry `18446744073709551615-18446744073709551615` with field `id` = total length.
 * Pure functions only: the publisher does the I/O.
 */
import { randomBytes } from 'node:crypto';
import type { DType, ScanIdentity, ScanState, TypedArray } from '../../protocol/index.js';

export const PROTOCOL_KEY = '_PROTOCOL_VERSION_';
export const PROTOCOL_VERSION = '1';
export const SCAN_HISTORY = '_SCAN_HISTORY_';
/** blissdata's writer keeps about this many scans in the history stream */
export const SCAN_HISTORY_MAXLEN = 2048;
export const SEAL_ID = '18446744073709551615-18446744073709551615';
/** blissdata refuses scan info above 1 MB of JSON */
export const MAX_INFO_JSON = 2 ** 20;

/** blissdata's ScanState values (only increasing) */
export const STATE_NUMBER: Record<ScanState, number> = { CREATED: 0, PREPARED: 1, STARTED: 2, STOPPED: 3, CLOSED: 4 };

export const scanKey = (pk: string): string => `esrf:scan:${pk}`;
export const streamKey = (pk: string): string => `esrf:stream:${pk}`;
/** the entry holding points `first` … (blissdata reads the index from the id's first part) */
export const entryId = (first: number): string => `${first}-1`;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (what redis-om gives blissdata's models as pk): 48-bit ms time + 80 random bits, Crockford base32. */
export function ulid(now = Date.now()): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  for (let i = 0; i < 16; i++) out += CROCKFORD[rnd[i]! % 32];
  return out;
}

/** numpy's `dtype.str` of each daqlab dtype (little-endian, as our typed arrays are on every supported host) */
export const NUMPY_DTYPE_STR: Record<DType, string> = {
  uint8: '|u1',
  int8: '|i1',
  uint16: '<u2',
  int16: '<i2',
  uint32: '<u4',
  int32: '<i4',
  float32: '<f4',
  float64: '<f8',
};

export type Encoding = { type: 'numeric'; dtype_str: string; shape: number[] } | { type: 'json' };

export const numericEncoding = (dtype: DType, shape: readonly number[]): Encoding => ({ type: 'numeric', dtype_str: NUMPY_DTYPE_STR[dtype], shape: [...shape] });
export const JSON_ENCODING: Encoding = { type: 'json' };

/** A stream as it appears in the scan document (blissdata's StreamModel). */
export interface StreamModel {
  pk: string;
  encoding: Encoding | null;
  info: Record<string, unknown> | null;
}

/** blissdata's ESRF identity model: every field present (redis-om writes null for unknown ones). */
export interface IdentityModel {
  pk: string;
  name: string;
  number: number;
  data_policy: string;
  session: string | null;
  proposal: string | null;
  collection: string | null;
  dataset: string | null;
  path: string | null;
}

export interface ScanDocument {
  pk: string;
  id: IdentityModel;
  info: Record<string, unknown>;
  state_stream: StreamModel;
  data_streams: Record<string, StreamModel>;
}

/**
 * daqlab's identity in blissdata's words: `sample` is ESRF's `collection` (the sample a dataset
 * belongs to); empty fields are null; daqlab has no ESRF data policy of its own ("no_policy").
 */
export function identityModel(pk: string, id: ScanIdentity): IdentityModel {
  const orNull = (v: string | undefined): string | null => (v ? v : null);
  return {
    pk,
    name: id.name,
    number: id.number,
    data_policy: 'no_policy',
    session: orNull(id.session),
    proposal: orNull(id.proposal),
    collection: orNull(id.sample),
    dataset: orNull(id.dataset),
    path: orNull(id.path),
  };
}

/**
 * Scan info as blissdata stores it: plain JSON (NaN and ±Infinity become null, typed arrays become
 * lists, as blissdata's own writer does), at most 1 MB; above that the info is replaced by a note
 * saying so rather than breaking readers.
 */
export function blissInfo(info: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(info, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
  if (Buffer.byteLength(text) > MAX_INFO_JSON) return { daqlab_note: `scan info of ${Buffer.byteLength(text)} bytes exceeds blissdata's 1 MB limit: read it from daqlab` };
  return JSON.parse(text) as Record<string, unknown>;
}

/** The bytes of one data entry's `payload`: points back to back, C order (zero-copy for one view). */
export function arrayPayload(items: readonly TypedArray[]): Buffer {
  if (items.length === 1) {
    const a = items[0]!;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }
  return Buffer.concat(items.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
}

/** One JSON event as an entry payload (JSON has no NaN: null, as blissdata's json encoder would refuse it). */
export const eventPayload = (event: unknown): string => JSON.stringify(event === undefined ? null : event);

/**
 * The XADD arguments (after the key) of one data entry: id, then fields; `len` only above 1.
 */
export function dataEntryArgs(first: number, payload: Buffer | string, len: number): (string | Buffer)[] {
  return len > 1 ? [entryId(first), 'payload', payload, 'len', String(len)] : [entryId(first), 'payload', payload];
}

/** The XADD arguments (after the key) of the seal: its id is the stream's total length. */
export const sealArgs = (length: number): string[] => [SEAL_ID, 'id', String(length)];

/**
 * Split `count` items of `itemBytes` each into entries of about `entryBytes` at most (at least one
 * item each): small points (scalars, profiles) go many to an entry, frames one per entry (no copy).
 */
export function entrySizes(count: number, itemBytes: number, entryBytes: number): number[] {
  const per = Math.max(1, Math.floor(entryBytes / Math.max(1, itemBytes)));
  const out: number[] = [];
  for (let left = count; left > 0; left -= per) out.push(Math.min(per, left));
  return out;
}

/** A redis:// URL with the password masked, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid redis URL>';
  }
}
