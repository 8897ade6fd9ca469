/**
 * A small CBOR encoder (RFC 8949) for the Stream2 messages: definite
 * lengths only, maps keep insertion order (Stream2 wants `type` first),
 * JavaScript numbers are integers when integral and float64 otherwise;
 * `Float` forces float64 (Stream2 Float fields must be floats even when
 * integral), `Tagged` wraps a tag, `Encoded` splices bytes encoded before
 * (an image's compressed data, reused for every message of a pool slot).
 * Independent of any decoder in this repository on purpose.
 */

/** A value encoded as float64 whatever it is. */
export class Float {
  constructor(readonly value: number) {}
}

/** Tag `tag` (major type 6) around `value`. */
export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** One complete CBOR data item, already encoded. */
export class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

export type CborValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Float
  | Tagged
  | Encoded
  | CborValue[]
  | { [key: string]: CborValue };

/** RFC 8949 §3.4.6: self-described CBOR. */
export const TAG_SELF_DESCRIBED = 55799;
/** RFC 8949 §3.4.1: standard date/time string. */
export const TAG_DATETIME = 0;
/** RFC 8746 §3.1.1: multi-dimensional array, row-major order. */
export const TAG_MULTIDIM_ROW_MAJOR = 40;
/** DECTRIS compressed byte string: ["bslz4" | "lz4", modifier, bytes]. */
export const TAG_DECTRIS_COMPRESSION = 56500;
/** RFC 8746 §2.1 typed arrays, little endian. */
export const TYPED_ARRAY_TAG = { uint8: 64, uint16: 69, uint32: 70, uint64: 71, int16: 77, int32: 78, float32: 85, float64: 86 } as const;

const MT_UINT = 0;
const MT_NEGINT = 1;
const MT_BYTES = 2;
const MT_TEXT = 3;
const MT_ARRAY = 4;
const MT_MAP = 5;
const MT_TAG = 6;

const utf8 = new TextEncoder();

/** Collects the pieces of one item; big byte strings are referenced, not copied, until `finish`. */
class Writer {
  private parts: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;
  private size = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, 256));
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.parts.push(this.buf.slice(0, this.pos));
    this.pos = 0;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
    this.size += 1;
  }

  bytes(b: Uint8Array): void {
    if (b.length > 1024) {
      this.flush();
      this.parts.push(b);
    } else {
      this.room(b.length);
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
    this.size += b.length;
  }

  /** The head of a data item: major type and argument (RFC 8949 §3), shortest form. */
  head(major: number, n: number | bigint): void {
    const m = major << 5;
    if (typeof n === 'bigint') {
      if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError(`cbor: argument ${n} does not fit 64 bits`);
      if (n < 0x100000000n) return this.head(major, Number(n));
      this.byte(m | 27);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, n);
      this.bytes(b);
      return;
    }
    if (n < 24) this.byte(m | n);
    else if (n < 0x100) {
      this.byte(m | 24);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(m | 25);
      this.byte(n >>> 8);
      this.byte(n & 0xff);
    } else if (n < 0x100000000) {
      this.byte(m | 26);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, n);
      this.bytes(b);
    } else {
      this.head(major, BigInt(n));
    }
  }

  float64(x: number): void {
    this.byte(0xfb);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x);
    this.bytes(b);
  }

  finish(): Uint8Array {
    this.flush();
    if (this.parts.length === 1) return this.parts[0];
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}

function write(w: Writer, v: CborValue, depth: number): void {
  if (depth > 64) throw new RangeError('cbor: nesting deeper than 64');
  if (v === null) return w.byte(0xf6);
  if (v === undefined) return w.byte(0xf7);
  if (v === false) return w.byte(0xf4);
  if (v === true) return w.byte(0xf5);
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v >= 0 ? w.head(MT_UINT, v) : w.head(MT_NEGINT, -1 - v);
    return w.float64(v);
  }
  if (typeof v === 'bigint') return v >= 0n ? w.head(MT_UINT, v) : w.head(MT_NEGINT, -1n - v);
  if (typeof v === 'string') {
    const b = utf8.encode(v);
    w.head(MT_TEXT, b.length);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    w.head(MT_BYTES, v.length);
    return w.bytes(v);
  }
  if (v instanceof Float) return w.float64(v.value);
  if (v instanceof Encoded) return w.bytes(v.bytes);
  if (v instanceof Tagged) {
    w.head(MT_TAG, v.tag);
    return write(w, v.value, depth + 1);
  }
  if (Array.isArray(v)) {
    w.head(MT_ARRAY, v.length);
    for (const x of v) write(w, x, depth + 1);
    return;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    w.head(MT_MAP, entries.length);
    for (const [k, x] of entries) {
      write(w, k, depth + 1);
      write(w, x, depth + 1);
    }
    return;
  }
  throw new TypeError(`cbor: cannot encode ${typeof v}`);
}

/** Encode one data item. Map entries whose value is `undefined` are left out. */
export function encode(v: CborValue): Uint8Array {
  const w = new Writer();
  write(w, v, 0);
  return w.finish();
}

/** Encode one data item as self-described CBOR (tag 55799 first, as every Stream2 message starts). */
export function encodeSelfDescribed(v: CborValue): Uint8Array {
  return encode(new Tagged(TAG_SELF_DESCRIBED, v));
}

/** RFC 8746 typed array: the little-endian bytes of `data` under the tag of its element type. */
export function typedArray(data: Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array): Tagged {
  const tag =
    data instanceof Uint8Array ? TYPED_ARRAY_TAG.uint8
    : data instanceof Uint16Array ? TYPED_ARRAY_TAG.uint16
    : data instanceof Uint32Array ? TYPED_ARRAY_TAG.uint32
    : data instanceof Float32Array ? TYPED_ARRAY_TAG.float32
    : TYPED_ARRAY_TAG.float64;
  // this machine is little endian (checked at load below), so the memory is already in the tagged order
  return new Tagged(tag, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** RFC 8746 row-major multi-dimensional array of `dims` around a typed array (or its compressed form). */
export function multiDimArray(dims: number[], typed: Tagged): Tagged {
  return new Tagged(TAG_MULTIDIM_ROW_MAJOR, [dims, typed]);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('cbor: typed arrays assume a little-endian machine');
