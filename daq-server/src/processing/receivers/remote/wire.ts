/**
 * The frame path between a control server and its receiver hosts, defined once: what the control asks of a
 * host (`remote.*` messages it sends down the host's registration connection) and what a host sends back
 * (`receivers.reply` to a request, `receivers.results` with the results of the frames it processed).
 *
 * Frames never cross this link: each host PULLs its share of the detector's stream itself. Only results
 * (per-frame items, accumulated partials, end items) and counts do, as JSON; typed arrays travel as
 * base64 with their dtype (results are small beside frames; a result batch stays under MAX_BATCH_BYTES,
 * well inside the control server's request limit).
 */
import { TYPED_ARRAY, dtypeOf, type DType, type TypedArray } from '../../../protocol/index.js';
import type { StepSpec } from '../../pipelines.js';
import type { ImageSpec } from '../../types.js';

/** a result batch is closed at this size (JSON text): the control server accepts requests up to 1 MiB */
export const MAX_BATCH_BYTES = 512 * 1024;

/** A result value on the wire: a typed array (dtype + base64 of its bytes) or a JSON event. */
export type WireValue = { t: DType; b: string } | { j: Record<string, unknown> };

export function encodeValue(v: TypedArray | Record<string, unknown>): WireValue {
  if (ArrayBuffer.isView(v)) {
    const a = v as TypedArray;
    return { t: dtypeOf(a), b: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') };
  }
  return { j: v as Record<string, unknown> };
}

export function decodeValue(w: WireValue): TypedArray | Record<string, unknown> {
  if ('j' in w) return w.j;
  const T = TYPED_ARRAY[w.t];
  if (!T) throw new Error(`unknown dtype ${String(w.t)}`);
  const bytes = Buffer.from(w.b, 'base64');
  if (bytes.length % T.BYTES_PER_ELEMENT) throw new Error(`${bytes.length} bytes are not a whole number of ${w.t}`);
  // a copy into an aligned buffer of its own (the decoded Buffer may sit at any offset of a shared pool)
  const out = new T(bytes.length / T.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function encodeRecord(r: Record<string, TypedArray | Record<string, unknown>>): Record<string, WireValue> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, encodeValue(v)]));
}

export function decodeRecord(r: Record<string, WireValue>): Record<string, TypedArray | Record<string, unknown>> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, decodeValue(v)]));
}

/** `remote.prepare`: run this pipeline on `receivers` worker threads, fed by as many PULL sockets on `stream`. */
export interface RemotePrepare {
  /** the control's id of this run: every later message names it */
  run: string;
  /** the detector's stream (tcp://HOST:PORT) and its format */
  stream: string;
  format: 'cbor' | 'legacy';
  /** receivers (PULL sockets and pipeline threads) on this host, and the global rank of its first one */
  receivers: number;
  rankOffset: number;
  specs: StepSpec[];
  input: ImageSpec;
  /** the step environment: the detector description (JSON) and the files the client named (base64) */
  detector: Record<string, unknown>;
  files: Record<string, string>;
  maxPending: number;
}

/**
 * A host's answer to `remote.prepare`: the streams its chain produces, which must be the control's own.
 * (The control builds the chain once itself for the streams' shapes and static items: statics such as
 * per-pixel maps are larger than a message may be.)
 */
export interface RemoteReady {
  streams: string[];
}

/** One processed frame, as a host reports it. */
export interface WireResult {
  /** frame index (the detector's image_id) */
  i: number;
  /** global rank of the receiver that processed it */
  r: number;
  v: boolean;
  /** the detector's series the frame belongs to (the control keeps only the armed one's) */
  s: number;
  /** vetoed by a step (no image kept) */
  o: boolean;
  items: { s: string; x: WireValue }[];
}

/** `receivers.results`: what a host processed since its last batch. */
export interface ResultBatch {
  run: string;
  results: WireResult[];
  /** frames this host received but could not process (queues full): counted as dropped, [index, series] */
  dropped: [number, number][];
  /** items of `end` streams (after the last frame) */
  items: { s: string; x: WireValue }[];
  /** the detector's end-of-series message came through this host */
  end?: boolean;
  /** the host's pipeline failed: the run FAULTs with this reason */
  failed?: string;
}

/** A host's answer to `remote.finish`: its final accumulated partials and what it saw. */
export interface RemoteFinished {
  partials: Record<string, WireValue>;
  received: number;
  dropped: number;
}

/** Messages the control sends down a host's connection (`rid`: the id the host's reply carries). */
export type ControlRequest =
  | ({ op: 'remote.prepare' } & RemotePrepare)
  | { op: 'remote.partials'; run: string }
  /** the series the control armed (arm's sequence id): images of another series are not processed */
  | { op: 'remote.series'; run: string; series: number }
  /** `stop`: a client stopped the scan: close the sockets first (frames still coming are not taken) */
  | { op: 'remote.finish'; run: string; stop?: boolean }
  | { op: 'remote.close'; run: string };

export const CONTROL_OPS: readonly ControlRequest['op'][] = ['remote.prepare', 'remote.partials', 'remote.series', 'remote.finish', 'remote.close'];
