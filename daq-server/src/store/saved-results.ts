/**
 * The streams of a finished scan beside its frames (per-frame results, peaks, profiles, ROI statistics …),
 * kept in the server's state folder (`results/<key>.bin`) so a scan listed again after a restart lists
 * and reads every one of them, with each item's acquisition frame, not only its frames (history.ts keeps
 * those). Results are small beside frames; still, a scan keeps at most MAX_RESULTS_BYTES of them, and a
 * stream already trimmed from memory when the scan closed cannot be kept whole: both are left out, named.
 *
 * File: u32 (little-endian) header length H, H bytes of JSON (`SavedResults`), then the array streams'
 * items back to back (each stream's at its `offset`, in its dtype, little-endian like the host).
 */
import { TYPED_ARRAY, isDType, product, type DType, type TypedArray } from '../protocol/index.js';
import type { MemoryScan } from './scan.js';

/** What one scan may keep of its results (bytes of the file). */
export const MAX_RESULTS_BYTES = 64 * 1024 * 1024;

interface SavedEventStream {
  name: string;
  kind: 'event';
  info: Record<string, unknown>;
  events: unknown[];
  /** per event, its acquisition frame (null: none); absent when no event has one */
  frames?: (number | null)[];
}

interface SavedArrayStream {
  name: string;
  kind: 'array';
  info: Record<string, unknown>;
  dtype: DType;
  shape: number[];
  length: number;
  valid: boolean[];
  frames?: (number | null)[];
  times?: (number | null)[];
  /** where its items start, after the header */
  offset: number;
}

type SavedStream = SavedEventStream | SavedArrayStream;

interface SavedResults {
  v: 1;
  streams: SavedStream[];
  /** streams that could not be kept, and why */
  left_out: { name: string; reason: string }[];
}

const column = (values: readonly number[] | undefined): (number | null)[] | undefined =>
  values && values.some((v) => Number.isFinite(v)) ? values.map((v) => (Number.isFinite(v) ? v : null)) : undefined;
const numbers = (values: readonly (number | null)[] | undefined): number[] | undefined => values?.map((v) => (v === null ? NaN : v));

/** The file of a closed scan's streams other than `framesStream`; null when it has none. */
export function encodeResults(scan: MemoryScan, framesStream: string | null): { bytes: Buffer; leftOut: SavedResults['left_out'] } | null {
  const streams: SavedStream[] = [];
  const leftOut: SavedResults['left_out'] = [];
  const arrays: TypedArray[] = [];
  let bodyBytes = 0;
  let headerEstimate = 0;
  for (const s of scan.streams.values()) {
    if (s.name === framesStream || s.length === 0) continue;
    if (s.first > 0) {
      leftOut.push({ name: s.name, reason: `its first ${s.first} items had left memory before the scan closed` });
      continue;
    }
    if (s.kind === 'event') {
      const slice = s.slice(0, s.length);
      const saved: SavedEventStream = { name: s.name, kind: 'event', info: s.info, events: slice.items };
      const frames = column(slice.frames);
      if (frames) saved.frames = frames;
      const size = JSON.stringify(saved).length;
      if (headerEstimate + bodyBytes + size > MAX_RESULTS_BYTES) {
        leftOut.push({ name: s.name, reason: `over the ${MAX_RESULTS_BYTES} bytes a scan keeps of its results` });
        continue;
      }
      headerEstimate += size;
      streams.push(saved);
    } else {
      const size = s.length * product(s.shape) * TYPED_ARRAY[s.dtype].BYTES_PER_ELEMENT;
      if (headerEstimate + bodyBytes + size + 16 * s.length > MAX_RESULTS_BYTES) {
        leftOut.push({ name: s.name, reason: `over the ${MAX_RESULTS_BYTES} bytes a scan keeps of its results` });
        continue;
      }
      const slice = s.slice(0, s.length);
      const saved: SavedArrayStream = { name: s.name, kind: 'array', info: s.info, dtype: s.dtype, shape: [...s.shape], length: s.length, valid: slice.valid, offset: bodyBytes };
      const frames = column(slice.frames);
      const times = column(slice.times);
      if (frames) saved.frames = frames;
      if (times) saved.times = times;
      arrays.push(...slice.items);
      bodyBytes += size;
      headerEstimate += 16 * s.length;
      streams.push(saved);
    }
  }
  if (!streams.length && !leftOut.length) return null;
  const header = Buffer.from(JSON.stringify({ v: 1, streams, left_out: leftOut } satisfies SavedResults));
  const out = Buffer.allocUnsafe(4 + header.length + bodyBytes);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  let at = 4 + header.length;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return { bytes: out, leftOut };
}

/** Recreate the saved streams in `scan` (a restored scan, before it is sealed); returns the streams left out. */
export function restoreResults(scan: MemoryScan, file: Buffer): SavedResults['left_out'] {
  const h = file.readUInt32LE(0);
  const saved = JSON.parse(file.subarray(4, 4 + h).toString('utf8')) as SavedResults;
  if (saved.v !== 1) throw new Error(`results file version ${String(saved.v)} is not 1`);
  const body = 4 + h;
  for (const s of saved.streams) {
    if (scan.streams.has(s.name)) continue;
    if (s.kind === 'event') {
      scan.createEventStream(s.name, s.info).append(s.events, numbers(s.frames));
      continue;
    }
    if (!isDType(s.dtype)) throw new Error(`stream ${s.name}: unknown dtype ${String(s.dtype)}`);
    const T = TYPED_ARRAY[s.dtype];
    const n = product(s.shape);
    const bytes = s.length * n * T.BYTES_PER_ELEMENT;
    // a copy: aligned for the typed array whatever the header's length
    const data = new T(s.length * n);
    new Uint8Array(data.buffer).set(file.subarray(body + s.offset, body + s.offset + bytes));
    const items = Array.from({ length: s.length }, (_, k) => data.subarray(k * n, (k + 1) * n) as TypedArray);
    scan.createArrayStream(s.name, s.dtype, s.shape, s.info).append(items, s.valid, numbers(s.times), numbers(s.frames));
  }
  return saved.left_out;
}
