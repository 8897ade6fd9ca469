/**
 * DECTRIS Stream2 (SIMPLON 1.8, `stream/config/format` = cbor): one CBOR item
 * per ZeroMQ message, `start` / `image` / `end` maps. Images are
 * `40([dims, typed-array])` (RFC 8746), the typed array's bytes either plain
 * or `56500([algorithm, elem_size, bytes])` (DECTRIS compression: bslz4 or lz4).
 * Byte strings stay views into the message buffer until decompressed.
 */
import { TYPED_ARRAY, type DType } from '../../protocol/index.js';
import { decodeCbor, CborError, Tagged } from './cbor.js';
import type { BlobEncoding } from './blobs.js';
import { StreamError, type EncodedImage, type SeriesCalibration, type SeriesMessage, type SeriesStart } from './messages.js';

export const TAG_MULTI_DIM = 40;
export const TAG_DECTRIS_COMPRESSION = 56500;

/** RFC 8746 little-endian typed-array tags daqlab stores (EIGERs send uint8/16/32; maps are float32/uint32). */
const TYPED_TAGS: Record<number, DType> = { 64: 'uint8', 68: 'uint8', 72: 'int8', 69: 'uint16', 70: 'uint32', 77: 'int16', 78: 'int32', 85: 'float32', 86: 'float64' };

/** DECTRIS's algorithms, and Jungfraujoch's bitshuffle + zstd */
const COMPRESSION: Record<string, BlobEncoding> = { bslz4: 'bslz4', lz4: 'lz4-hdf5', bszstd: 'bszstd' };

/** Decode one Stream2 message; StreamError names what is wrong. */
export function parseStream2(bytes: Uint8Array): SeriesMessage {
  let item: unknown;
  try {
    item = decodeCbor(bytes);
  } catch (err) {
    if (err instanceof CborError) throw new StreamError(`garbage CBOR: ${err.message}`);
    throw err;
  }
  if (!isMap(item)) throw new StreamError(`not a Stream2 message: a CBOR ${describe(item)}, not a map`);
  const type = item.type;
  // Jungfraujoch's extra messages (calibration, metadata) may come without a series
  if (type === 'calibration') return calibration(item);
  if (type === 'metadata') return metadata(item);
  const series_id = integer(item.series_id, 'series_id');
  const series_unique_id = typeof item.series_unique_id === 'string' ? item.series_unique_id : null;
  switch (type) {
    case 'start':
      return start(item, series_id, series_unique_id);
    case 'image': {
      const image_id = integer(item.image_id, 'image_id');
      if (!isMap(item.data)) throw new StreamError(`image ${image_id}: 'data' is not a map of channels`);
      const data: Record<string, EncodedImage> = {};
      const bad: Record<string, string> = {};
      for (const [channel, value] of Object.entries(item.data)) {
        try {
          data[channel] = encodedArray(value, `data.${channel}`);
        } catch (err) {
          if (!(err instanceof StreamError)) throw err;
          bad[channel] = err.message;
        }
      }
      return {
        type: 'image',
        series_id,
        series_unique_id,
        image_id,
        start_time: rational(item.start_time),
        // Jungfraujoch names the end of the exposure end_time
        stop_time: rational(item.stop_time ?? item.end_time),
        real_time: rational(item.real_time),
        data,
        bad,
        extras: extras(item),
      };
    }
    case 'end':
      return { type: 'end', series_id, series_unique_id };
    default:
      throw new StreamError(`unknown Stream2 message type ${JSON.stringify(type)}`);
  }
}

/** Fields of an image message that are not analysis results. */
const IMAGE_FIELDS = new Set(['type', 'magic_number', 'series_id', 'series_unique_id', 'series_date', 'image_id', 'start_time', 'stop_time', 'end_time', 'real_time', 'data', 'user_data']);

function extras(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (!IMAGE_FIELDS.has(k)) out[k] = plain(v);
  return out;
}

const optionalId = (v: unknown): number | null => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : null);

/** `{type: calibration, data: {name: image, ...}}`, or one image as `data` beside its `name`. */
function calibration(m: Record<string, unknown>): SeriesCalibration {
  const maps: Record<string, EncodedImage> = {};
  const bad: Record<string, string> = {};
  const entries: [string, unknown][] = typeof m.name === 'string' ? [[m.name, m.data]] : isMap(m.data) ? Object.entries(m.data) : [];
  if (!entries.length) throw new StreamError("calibration message without maps: 'data' is not a map of name → image");
  for (const [name, v] of entries) {
    try {
      maps[name] = encodedArray(v, `calibration ${name}`);
    } catch (err) {
      if (!(err instanceof StreamError)) throw err;
      bad[name] = err.message;
    }
  }
  return { type: 'calibration', series_id: optionalId(m.series_id), series_unique_id: typeof m.series_unique_id === 'string' ? m.series_unique_id : null, maps, bad };
}

/** `{type: metadata, images: [{image_id, spots, ...}, ...]}` */
function metadata(m: Record<string, unknown>): SeriesMessage {
  if (!Array.isArray(m.images)) throw new StreamError("metadata message without 'images' (an array of per-image maps)");
  const images = m.images.filter(isMap).map((x) => plain(x) as Record<string, unknown>);
  return { type: 'metadata', series_id: optionalId(m.series_id), series_unique_id: typeof m.series_unique_id === 'string' ? m.series_unique_id : null, images };
}

/** Most numbers an analysis field may carry (a profile, a spot list): beyond, it is described, not copied. */
const PLAIN_MAX_ITEMS = 1 << 16;

/** Analysis fields as plain values: typed arrays (RFC 8746, also inside tag 40) become number arrays. */
export function plain(v: unknown, depth = 0): unknown {
  if (depth > 8) return null;
  if (v instanceof Tagged) {
    if (v.tag === TAG_MULTI_DIM && Array.isArray(v.value) && v.value.length === 2) return plain(v.value[1], depth + 1);
    const dtype = TYPED_TAGS[v.tag];
    if (dtype && v.value instanceof Uint8Array) {
      const T = TYPED_ARRAY[dtype];
      const n = Math.floor(v.value.length / T.BYTES_PER_ELEMENT);
      if (n > PLAIN_MAX_ITEMS) return { items: n };
      const copy = v.value.slice(0, n * T.BYTES_PER_ELEMENT);
      return Array.from(new T(copy.buffer, 0, n) as ArrayLike<number>);
    }
    return jsonSafe(v, depth);
  }
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (Array.isArray(v)) return v.length > PLAIN_MAX_ITEMS ? { items: v.length } : v.map((x) => plain(x, depth + 1));
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x, depth + 1)]));
  return v;
}

function start(m: Record<string, unknown>, series_id: number, series_unique_id: string | null): SeriesStart {
  const fields: Record<string, unknown> = {};
  const ignored: Record<string, string> = {};
  const maps = { pixel_mask: {} as Record<string, EncodedImage>, flatfield: {} as Record<string, EncodedImage> };
  const countrate: Record<string, EncodedImage> = {};
  for (const [key, value] of Object.entries(m)) {
    // a typed array (DECTRIS's stream2 reference parser reads it so); null or absent when not sent
    if (key === 'countrate_correction_lookup_table' && value !== null && value !== undefined) {
      try {
        countrate.table = encodedArray(value, key);
      } catch (err) {
        ignored[key] = (err as Error).message;
      }
      continue;
    }
    if (key === 'pixel_mask' || key === 'flatfield') {
      if (!isMap(value)) {
        ignored[key] = 'not a map of channels';
        continue;
      }
      for (const [channel, v] of Object.entries(value)) {
        try {
          maps[key][channel] = encodedArray(v, `${key}.${channel}`);
        } catch (err) {
          ignored[`${key}.${channel}`] = (err as Error).message;
        }
      }
    } else fields[key] = key.startsWith('az_int') ? plain(value) : jsonSafe(value); // Jungfraujoch's profile bins, as numbers
  }
  const channels = Array.isArray(m.channels) ? m.channels.map(String) : [];
  const x = m.image_size_x;
  const y = m.image_size_y;
  const dtypeName = typeof m.image_dtype === 'string' ? m.image_dtype : null;
  return {
    type: 'start',
    series_id,
    series_unique_id,
    channels,
    image_size: Number.isInteger(x) && Number.isInteger(y) ? [y as number, x as number] : null,
    image_dtype: dtypeName && ['uint8', 'uint16', 'uint32', 'int8', 'int16', 'int32', 'float32', 'float64'].includes(dtypeName) ? (dtypeName as DType) : null,
    fields,
    pixel_mask: maps.pixel_mask,
    flatfield: maps.flatfield,
    countrate,
    ignored,
  };
}

/** `40([dims, typed array])` or a bare typed array → an encoded image. */
export function encodedArray(value: unknown, what: string): EncodedImage {
  let dims: unknown = null;
  let inner = value;
  if (value instanceof Tagged && value.tag === TAG_MULTI_DIM) {
    if (!Array.isArray(value.value) || value.value.length !== 2) throw new StreamError(`${what}: tag 40 must hold [dimensions, array]`);
    [dims, inner] = value.value;
  }
  if (!(inner instanceof Tagged)) throw new StreamError(`${what}: expected a typed array (RFC 8746 tag), got a CBOR ${describe(inner)}`);
  const dtype = TYPED_TAGS[inner.tag];
  if (!dtype) throw new StreamError(`${what}: unknown tag ${inner.tag} where a typed array was expected`);
  let encoding: BlobEncoding = 'none';
  let blob: unknown = inner.value;
  if (blob instanceof Tagged) {
    if (blob.tag !== TAG_DECTRIS_COMPRESSION) throw new StreamError(`${what}: unknown tag ${blob.tag} inside typed array tag ${inner.tag}`);
    const c = blob.value;
    if (!Array.isArray(c) || c.length !== 3 || !(c[2] instanceof Uint8Array)) throw new StreamError(`${what}: tag 56500 must hold [algorithm, elem_size, bytes]`);
    const alg = COMPRESSION[String(c[0])];
    if (!alg) throw new StreamError(`${what}: unknown DECTRIS compression ${JSON.stringify(c[0])} (bslz4, lz4 or bszstd)`);
    encoding = alg;
    blob = c[2];
  }
  if (!(blob instanceof Uint8Array)) throw new StreamError(`${what}: typed array tag ${inner.tag} must hold a byte string`);
  let shape: [number, number];
  if (Array.isArray(dims) && dims.length === 2 && dims.every((d) => Number.isInteger(d) && d > 0)) shape = [dims[0] as number, dims[1] as number];
  else if (dims === null && encoding === 'none') shape = [1, blob.length / TYPED_ARRAY[dtype].BYTES_PER_ELEMENT];
  else throw new StreamError(`${what}: dimensions ${JSON.stringify(jsonSafe(dims))} are not [rows, cols]`);
  return { dtype, shape, encoding, blob };
}

function integer(v: unknown, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw new StreamError(`'${field}' is missing or not a non-negative integer (${JSON.stringify(jsonSafe(v))})`);
  return v as number;
}

/** Stream2 times are rationals [numerator, denominator] in seconds. */
function rational(v: unknown): number | null {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' && v[1] !== 0) return v[0] / v[1];
  return typeof v === 'number' ? v : null;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tagged) && !(v instanceof Uint8Array);

function describe(v: unknown): string {
  if (v instanceof Tagged) return `tag ${v.tag}`;
  if (v instanceof Uint8Array) return 'byte string';
  if (Array.isArray(v)) return 'array';
  return v === null ? 'null' : typeof v;
}

/** Scalars and small structures as JSON (for the scan info); binary parts are described, not copied. */
export function jsonSafe(v: unknown, depth = 0): unknown {
  if (depth > 8) return '…';
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (v instanceof Tagged) {
    if (v.tag === 0 || v.tag === 1) return jsonSafe(v.value, depth + 1); // dates: the string or the epoch seconds
    return { tag: v.tag, value: jsonSafe(v.value, depth + 1) };
  }
  if (Array.isArray(v)) return v.length > 64 ? { items: v.length } : v.map((x) => jsonSafe(x, depth + 1));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x, depth + 1)]));
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}
