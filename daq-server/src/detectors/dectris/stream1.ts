/**
 * DECTRIS stream v1 (`stream/config/format` = legacy): JSON parts with an
 * `htype`, blobs in between. A series is `dheader-1.0` (+ config, + flat
 * field / pixel mask / count-rate table with header_detail all), images as
 * `dimage-1.0` / `dimage_d-1.0` / blob / `dconfig-1.0`, then `dseries_end-1.0`.
 * Parts are read in sequence whatever the ZeroMQ framing: some emitters send
 * one multipart message per image, others several messages in one.
 * Note v1 shapes are [x, y] (cols, rows); Stream2's are [rows, cols].
 */
import type { DType } from '../../protocol/index.js';
import type { BlobEncoding } from './blobs.js';
import { StreamError, type EncodedImage, type SeriesMessage, type SeriesStart } from './messages.js';
import { jsonSafe } from './stream2.js';

const ENCODINGS: Record<string, BlobEncoding> = {
  '': 'none',
  '<': 'none',
  'lz4<': 'lz4-block',
  'bs8-lz4<': 'bslz4',
  'bs16-lz4<': 'bslz4',
  'bs32-lz4<': 'bslz4',
};

const DTYPES: Record<string, DType> = { uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', int32: 'int32', float32: 'float32' };

const MAP_TYPES: Record<string, 'flatfield' | 'pixel_mask' | 'countrate'> = {
  'flatfield-1.0': 'flatfield',
  'dflatfield-1.0': 'flatfield',
  'dpixelmask-1.0': 'pixel_mask',
  'dcountrate_table-1.0': 'countrate',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function json(part: Uint8Array | undefined, what: string): Record<string, unknown> {
  if (!part) throw new StreamError(`${what}: part missing (message truncated)`);
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(part));
  } catch {
    throw new StreamError(`${what}: not JSON (${part.length} bytes)`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new StreamError(`${what}: not a JSON object`);
  return v as Record<string, unknown>;
}

const nonNegInt = (v: unknown, what: string): number => {
  if (!Number.isInteger(v) || (v as number) < 0) throw new StreamError(`${what} is missing or not a non-negative integer`);
  return v as number;
};

/** Decode the parts of one ZeroMQ message into series messages; a part that can not be read ends this message with a StreamError in `errors`. */
export function parseStream1(parts: Uint8Array[]): { messages: SeriesMessage[]; errors: string[] } {
  const messages: SeriesMessage[] = [];
  const errors: string[] = [];
  let k = 0;
  while (k < parts.length) {
    try {
      const head = json(parts[k], `part ${k}`);
      const htype = String(head.htype ?? '');
      if (htype.startsWith('dheader-')) k = header(parts, k, head, messages);
      else if (htype.startsWith('dimage-')) k = image(parts, k, head, messages);
      else if (htype.startsWith('dseries_end-')) {
        messages.push({ type: 'end', series_id: nonNegInt(head.series, 'dseries_end: series'), series_unique_id: null });
        k += 1;
      } else throw new StreamError(`part ${k}: unknown htype ${JSON.stringify(htype)}`);
    } catch (err) {
      if (!(err instanceof StreamError)) throw err;
      errors.push(err.message);
      break; // the rest of this message can not be framed reliably
    }
  }
  return { messages, errors };
}

function header(parts: Uint8Array[], k: number, head: Record<string, unknown>, out: SeriesMessage[]): number {
  const detail = String(head.header_detail ?? 'none');
  const start: SeriesStart = {
    type: 'start',
    series_id: nonNegInt(head.series, 'dheader: series'),
    series_unique_id: null,
    channels: ['threshold_1'],
    image_size: null,
    image_dtype: null,
    fields: { header_detail: detail },
    pixel_mask: {},
    flatfield: {},
    countrate: {},
    ignored: {},
  };
  k += 1;
  if (detail !== 'none' && k < parts.length) {
    const config = json(parts[k], 'dheader config');
    if (!('htype' in config)) {
      k += 1;
      start.fields = { ...start.fields, ...(jsonSafe(config) as Record<string, unknown>) };
      const x = config.x_pixels_in_detector;
      const y = config.y_pixels_in_detector;
      if (Number.isInteger(x) && Number.isInteger(y)) start.image_size = [y as number, x as number];
    }
  }
  // header_detail all: (header, blob) pairs of per-pixel maps
  while (k + 1 < parts.length) {
    let h: Record<string, unknown>;
    try {
      h = json(parts[k], 'dheader map');
    } catch {
      break;
    }
    const kind = MAP_TYPES[String(h.htype ?? '')];
    if (!kind) break;
    const blob = parts[k + 1];
    const shape = h.shape as unknown;
    const dtype = DTYPES[String(h.type ?? '')];
    if (Array.isArray(shape) && shape.length === 2 && shape.every((d) => Number.isInteger(d) && d > 0) && dtype) {
      const map: EncodedImage = { dtype, shape: [Number(shape[1]), Number(shape[0])], encoding: 'none', blob };
      if (kind === 'countrate') start.countrate.table = map;
      else (kind === 'pixel_mask' ? start.pixel_mask : start.flatfield).threshold_1 = map;
    } else start.ignored[kind] = `shape ${JSON.stringify(shape)} / type ${JSON.stringify(h.type)} not understood`;
    k += 2;
  }
  out.push(start);
  return k;
}

function image(parts: Uint8Array[], k: number, head: Record<string, unknown>, out: SeriesMessage[]): number {
  const series_id = nonNegInt(head.series, 'dimage: series');
  const image_id = nonNegInt(head.frame, 'dimage: frame');
  const d = json(parts[k + 1], `dimage_d of frame ${image_id}`);
  if (!String(d.htype ?? '').startsWith('dimage_d-')) throw new StreamError(`frame ${image_id}: expected dimage_d, got htype ${JSON.stringify(d.htype)}`);
  const blob = parts[k + 2];
  if (!blob) throw new StreamError(`frame ${image_id}: blob missing (message truncated)`);
  let next = k + 3;
  let times: Record<string, unknown> = {};
  if (parts[next]) {
    try {
      const c = json(parts[next], 'dconfig');
      if (String(c.htype ?? '').startsWith('dconfig-')) {
        times = c;
        next += 1;
      }
    } catch {
      // no dconfig part (an appendix or the next message follows)
    }
  }
  const ns = (v: unknown): number | null => (typeof v === 'number' ? v / 1e9 : null);
  const msg: SeriesMessage = { type: 'image', series_id, series_unique_id: null, image_id, start_time: ns(times.start_time), stop_time: ns(times.stop_time), real_time: ns(times.real_time), data: {}, bad: {}, extras: {} };
  const encoding = ENCODINGS[String(d.encoding ?? '')];
  const dtype = DTYPES[String(d.type ?? '')];
  const shape = d.shape as unknown;
  if (encoding === undefined) msg.bad.threshold_1 = `unknown encoding ${JSON.stringify(d.encoding)}`;
  else if (!dtype) msg.bad.threshold_1 = `unknown type ${JSON.stringify(d.type)}`;
  else if (!(Array.isArray(shape) && shape.length === 2 && shape.every((v) => Number.isInteger(v) && v > 0))) msg.bad.threshold_1 = `shape ${JSON.stringify(shape)} is not [x, y]`;
  else if (Number.isInteger(d.size) && d.size !== blob.length) msg.bad.threshold_1 = `blob of ${blob.length} bytes, dimage_d declares size ${d.size}`;
  else msg.data.threshold_1 = { dtype, shape: [shape[1] as number, shape[0] as number], encoding, blob };
  out.push(msg);
  return next;
}
