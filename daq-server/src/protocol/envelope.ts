/**
 * Binary data messages (server → client).
 *
 *   u32 little-endian  header length H
 *   H bytes            header, UTF-8 JSON (DataHeader)
 *   rest               payload: one part of an Apache Arrow IPC *stream*
 *
 * A payload larger than the message limit is cut into `parts` consecutive
 * messages with the same `msg` number; the client concatenates the payload
 * bytes of parts 0..parts-1 and decodes the result as one Arrow IPC stream.
 *
 * Array items: columns `index` (int64), `valid` (bool), `data`
 * (FixedSizeList<T>[prod(shape)]); schema metadata `daqlab.dtype`,
 * `daqlab.shape` (JSON list, per item), `daqlab.stream`, `daqlab.scan`.
 * Compressed array items (`compression` asked for): `data` is Binary, one
 * chunk per item, and `daqlab.compression` names the codec; dtype and shape
 * are those of the decoded item.
 * Event items: columns `index` (int64), `json` (utf8, one JSON document per row).
 */
import type { FrameStats } from './frame-stats.js';

export const ENVELOPE_PREFIX_BYTES = 4;

/** Schema metadata key naming the codec of a compressed array payload's `data` column. */
export const META_COMPRESSION = 'daqlab.compression';

export interface DataHeader {
  /** subscription id (for `subscribe`) */
  sub?: string;
  /** request id (for `stream.read`) */
  req?: number | string;
  scan: string;
  stream: string;
  kind: 'array' | 'event';
  /** index of the first item in this payload */
  first: number;
  /** number of items in this payload */
  count: number;
  /** message number within the subscription or request (parts of one payload share it) */
  msg: number;
  part: number;
  parts: number;
  /** total bytes of the payload (all parts together), so a client can allocate it exactly once */
  bytes: number;
  /**
   * array streams whose items carry one: per item of the payload, its acquisition time (when the
   * receiver got the frame from the detector), ms since the Unix epoch; null where unknown
   */
  times?: (number | null)[];
  /**
   * streams whose items come from single acquisition frames (the `frame` stream, per-frame
   * results): per item of the payload, the index of the acquisition frame it comes from; null for
   * an item that does not. Differs from the item index once frames were dropped or skipped: join
   * per-frame streams on it, never on item position. Absent when no item of the payload has one.
   */
  frames?: (number | null)[];
  /**
   * with `frame_stats` asked (frame-stats.ts): per item, [min, max, lo, hi] of the whole item (not only
   * the region sent), per detector pixel; null for an item without a valid value
   */
  frame_stats?: (FrameStats | null)[];
}

/** Every field a data header may carry (mirrored in kernel-bridge/daqlab/_protocol.py). */
export const DATA_HEADER_FIELDS = ['sub', 'req', 'scan', 'stream', 'kind', 'first', 'count', 'msg', 'part', 'parts', 'bytes', 'times', 'frames', 'frame_stats'] as const;

/** Per-item times for a header: null for unknown (JSON has no NaN), undefined when none is known. */
export function headerTimes(times: readonly number[] | undefined): (number | null)[] | undefined {
  if (!times || !times.some((t) => Number.isFinite(t))) return undefined;
  return times.map((t) => (Number.isFinite(t) ? Math.round(t * 1000) / 1000 : null));
}

/** Per-item frame indexes for a header: null where an item has none, undefined when none has one. */
export function headerFrames(frames: readonly number[] | undefined): (number | null)[] | undefined {
  if (!frames || !frames.some((f) => Number.isFinite(f))) return undefined;
  return frames.map((f) => (Number.isFinite(f) ? f : null));
}

/** The per-item header fields of the items [k, k + n) of a batch: `times` and `frames` when known. */
export function perItemHeader(k: number, n: number, times: readonly number[] | undefined, frames: readonly number[] | undefined): Pick<DataHeader, 'times' | 'frames'> {
  const t = headerTimes(times?.slice(k, k + n));
  const f = headerFrames(frames?.slice(k, k + n));
  return { ...(t ? { times: t } : {}), ...(f ? { frames: f } : {}) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode the envelope prefix (length + header). The payload is sent after it. */
export function encodeHeader(header: DataHeader): Uint8Array {
  const json = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(ENVELOPE_PREFIX_BYTES + json.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, ENVELOPE_PREFIX_BYTES);
  return out;
}

/** Split a binary message into header and payload view (no copy of the payload). */
export function decodeEnvelope(message: Uint8Array): { header: DataHeader; payload: Uint8Array } {
  if (message.byteLength < ENVELOPE_PREFIX_BYTES) throw new RangeError('data message shorter than its prefix');
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const h = view.getUint32(0, true);
  if (ENVELOPE_PREFIX_BYTES + h > message.byteLength) throw new RangeError('data header longer than the message');
  const header = JSON.parse(decoder.decode(message.subarray(ENVELOPE_PREFIX_BYTES, ENVELOPE_PREFIX_BYTES + h)));
  return { header, payload: message.subarray(ENVELOPE_PREFIX_BYTES + h) };
}
