/**
 * Byte-level encoders for the HDF5 structures the writer emits (File Format
 * Specification 3.0). Everything is little-endian, offsets and lengths are 8 bytes.
 */

export const UNDEF = -1; // undefined address, encoded as 8 bytes of 0xff
export const SIZEOF_ADDR = 8;
export const SIZEOF_LEN = 8;

export type H5Dtype = 'u1' | 'i1' | 'u2' | 'i2' | 'u4' | 'i4' | 'u8' | 'i8' | 'f4' | 'f8';
export type TypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigUint64Array | BigInt64Array | Float32Array | Float64Array;

export interface DtypeInfo {
  size: number;
  kind: 'int' | 'uint' | 'float';
}

export const DTYPES: Record<H5Dtype, DtypeInfo> = {
  u1: { size: 1, kind: 'uint' }, i1: { size: 1, kind: 'int' },
  u2: { size: 2, kind: 'uint' }, i2: { size: 2, kind: 'int' },
  u4: { size: 4, kind: 'uint' }, i4: { size: 4, kind: 'int' },
  u8: { size: 8, kind: 'uint' }, i8: { size: 8, kind: 'int' },
  f4: { size: 4, kind: 'float' }, f8: { size: 8, kind: 'float' },
};

export function isDtype(x: unknown): x is H5Dtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, x);
}

/** dtype of a typed array */
export function dtypeOf(a: TypedArray): H5Dtype {
  if (a instanceof Uint8Array) return 'u1';
  if (a instanceof Int8Array) return 'i1';
  if (a instanceof Uint16Array) return 'u2';
  if (a instanceof Int16Array) return 'i2';
  if (a instanceof Uint32Array) return 'u4';
  if (a instanceof Int32Array) return 'i4';
  if (a instanceof BigUint64Array) return 'u8';
  if (a instanceof BigInt64Array) return 'i8';
  if (a instanceof Float32Array) return 'f4';
  if (a instanceof Float64Array) return 'f8';
  throw new TypeError('unsupported typed array');
}

export function isTypedArray(x: unknown): x is TypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/** Little-endian bytes of `values` as `dtype` (numbers are converted, bigint for 64-bit ints allowed). */
export function encodeNumbers(values: ArrayLike<number | bigint>, dtype: H5Dtype): Buffer {
  const n = values.length;
  const info = DTYPES[dtype];
  const buf = Buffer.alloc(n * info.size);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const o = i * info.size;
    switch (dtype) {
      case 'u1': buf.writeUInt8(Number(v), o); break;
      case 'i1': buf.writeInt8(Number(v), o); break;
      case 'u2': buf.writeUInt16LE(Number(v), o); break;
      case 'i2': buf.writeInt16LE(Number(v), o); break;
      case 'u4': buf.writeUInt32LE(Number(v), o); break;
      case 'i4': buf.writeInt32LE(Number(v), o); break;
      case 'u8': buf.writeBigUInt64LE(BigInt(v), o); break;
      case 'i8': buf.writeBigInt64LE(BigInt(v), o); break;
      case 'f4': buf.writeFloatLE(Number(v), o); break;
      case 'f8': buf.writeDoubleLE(Number(v), o); break;
    }
  }
  return buf;
}

/** raw bytes of a typed array (host order; Node runs little-endian on every supported platform) */
export function typedBytes(a: TypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Growable little-endian byte buffer. */
export class ByteWriter {
  buf: Buffer;
  pos = 0;
  constructor(initial = 256) {
    this.buf = Buffer.alloc(initial);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = Buffer.alloc(size);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
  }
  u8(v: number): this { this.ensure(1); this.buf.writeUInt8(v, this.pos); this.pos += 1; return this; }
  u16(v: number): this { this.ensure(2); this.buf.writeUInt16LE(v, this.pos); this.pos += 2; return this; }
  u32(v: number): this { this.ensure(4); this.buf.writeUInt32LE(v >>> 0, this.pos); this.pos += 4; return this; }
  /** unsigned 64-bit from a JS number (< 2^53); -1 (UNDEF) encodes as all ones */
  u64(v: number): this {
    this.ensure(8);
    writeU64(this.buf, this.pos, v);
    this.pos += 8;
    return this;
  }
  /** unsigned integer of `n` bytes */
  uN(v: number, n: number): this {
    this.ensure(n);
    let x = v;
    for (let i = 0; i < n; i++) {
      this.buf[this.pos + i] = x % 256;
      x = Math.floor(x / 256);
    }
    this.pos += n;
    return this;
  }
  addr(v: number): this { return this.u64(v); }
  bytes(b: Uint8Array): this { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; return this; }
  zeros(n: number): this { this.ensure(n); this.buf.fill(0, this.pos, this.pos + n); this.pos += n; return this; }
  str(s: string, nul = true): this { this.bytes(Buffer.from(s, 'utf8')); if (nul) this.u8(0); return this; }
  result(): Buffer { return this.buf.subarray(0, this.pos); }
}

export function writeU64(buf: Buffer, off: number, v: number): void {
  if (v === UNDEF) {
    buf.fill(0xff, off, off + 8);
    return;
  }
  if (!(v >= 0) || !Number.isSafeInteger(v)) throw new RangeError(`bad 64-bit value ${v}`);
  buf.writeUInt32LE(v % 0x100000000, off);
  buf.writeUInt32LE(Math.floor(v / 0x100000000), off + 4);
}

// ---------------------------------------------------------------------------
// Datatype message (0x0003), version 1

export function encodeDatatype(dtype: H5Dtype): Buffer {
  const info = DTYPES[dtype];
  const w = new ByteWriter(24);
  if (info.kind === 'float') {
    const f4 = info.size === 4;
    w.u8(0x11); // version 1, class 1 (floating point)
    w.u8(0x20); // little endian, zero padding, mantissa normalization: msb implied
    w.u8(f4 ? 31 : 63); // sign bit location
    w.u8(0);
    w.u32(info.size);
    w.u16(0); // bit offset
    w.u16(info.size * 8); // bit precision
    w.u8(f4 ? 23 : 52); // exponent location
    w.u8(f4 ? 8 : 11); // exponent size
    w.u8(0); // mantissa location
    w.u8(f4 ? 23 : 52); // mantissa size
    w.u32(f4 ? 127 : 1023); // exponent bias
  } else {
    w.u8(0x10); // version 1, class 0 (fixed point)
    w.u8(info.kind === 'int' ? 0x08 : 0x00); // little endian, signed flag
    w.u8(0);
    w.u8(0);
    w.u32(info.size);
    w.u16(0);
    w.u16(info.size * 8);
  }
  return w.result();
}

/** variable-length UTF-8 string (class 9), base type unsigned char, as the library writes it */
export function encodeVlenStringType(): Buffer {
  const w = new ByteWriter(20);
  w.u8(0x19); // version 1, class 9 (variable length)
  w.u8(0x01); // type 1 = string, padding 0 = null terminate
  w.u8(0x01); // character set 1 = UTF-8
  w.u8(0);
  w.u32(4 + SIZEOF_ADDR + 4); // length + global heap id
  w.bytes(encodeDatatype('u1'));
  return w.result();
}

// ---------------------------------------------------------------------------
// Dataspace message (0x0001), version 2

export function encodeDataspace(dims: readonly number[] | null, maxDims?: readonly (number | null)[]): Buffer {
  const w = new ByteWriter(8 + 16 * (dims?.length ?? 0));
  w.u8(2);
  if (dims === null || dims.length === 0) {
    w.u8(0).u8(0).u8(0); // rank 0, scalar
    return w.result();
  }
  w.u8(dims.length);
  w.u8(maxDims ? 1 : 0);
  w.u8(1); // simple
  for (const d of dims) w.u64(d);
  if (maxDims) for (const m of maxDims) w.u64(m === null ? UNDEF : m);
  return w.result();
}

// ---------------------------------------------------------------------------
// Fill value message (0x0005), version 3

export const ALLOC_EARLY = 1;
export const ALLOC_LATE = 2;
export const ALLOC_INCR = 3;

export function encodeFillValue(allocTime: number, value?: Buffer): Buffer {
  const w = new ByteWriter(16);
  w.u8(3);
  let flags = allocTime | (2 << 2); // fill time: if set
  if (value) flags |= 0x20;
  w.u8(flags);
  if (value) {
    w.u32(value.length);
    w.bytes(value);
  }
  return w.result();
}

// ---------------------------------------------------------------------------
// Data layout message (0x0008)

export function encodeContiguousLayout(addr: number, size: number): Buffer {
  return new ByteWriter(24).u8(3).u8(1).addr(addr).u64(size).result();
}

function bytesFor(n: number): number {
  let b = 1;
  while (n >= 2 ** (8 * b)) b++;
  return b;
}

/** version 4, chunked, fixed array index */
export function encodeFixedArrayLayout(chunk: readonly number[], elemSize: number, pageBits: number, addr: number): Buffer {
  const dims = [...chunk, elemSize];
  const enc = bytesFor(Math.max(...dims));
  const w = new ByteWriter(32 + dims.length * enc);
  w.u8(4).u8(2).u8(0); // version 4, class chunked, flags
  w.u8(dims.length).u8(enc);
  for (const d of dims) w.uN(d, enc);
  w.u8(3); // fixed array
  w.u8(pageBits);
  w.addr(addr);
  return w.result();
}

/** version 3, chunked, v1 B-tree index */
export function encodeBTreeLayout(chunk: readonly number[], elemSize: number, addr: number): Buffer {
  const dims = [...chunk, elemSize];
  const w = new ByteWriter(16 + dims.length * 4);
  w.u8(3).u8(2).u8(dims.length).addr(addr);
  for (const d of dims) w.u32(d);
  return w.result();
}

/** version 4, virtual: global heap id of the encoded mapping list */
export function encodeVirtualLayout(heapAddr: number, heapIndex: number): Buffer {
  return new ByteWriter(16).u8(4).u8(3).addr(heapAddr).u32(heapIndex).result();
}

// ---------------------------------------------------------------------------
// Filter pipeline message (0x000B), version 2

export interface Filter {
  id: number;
  name?: string;
  cdValues: number[];
  optional?: boolean;
}

export function encodeFilterPipeline(filters: readonly Filter[]): Buffer {
  const w = new ByteWriter(64);
  w.u8(2).u8(filters.length);
  for (const f of filters) {
    if (!Number.isInteger(f.id) || f.id < 0 || f.id > 65535) throw new RangeError(`bad filter id ${f.id}`);
    w.u16(f.id);
    const name = f.id >= 256 && f.name ? Buffer.from(f.name + '\0', 'utf8') : null;
    if (f.id >= 256) w.u16(name ? name.length : 0);
    w.u16(f.optional ? 1 : 0);
    w.u16(f.cdValues.length);
    if (name) w.bytes(name);
    for (const v of f.cdValues) w.u32(v);
  }
  return w.result();
}

// ---------------------------------------------------------------------------
// Link messages (0x0006), link info (0x0002), group info (0x000A)

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

function linkHead(w: ByteWriter, name: string, type: number): void {
  const nameBytes = Buffer.from(name, 'utf8');
  const lenBytes = nameBytes.length < 256 ? 1 : nameBytes.length < 65536 ? 2 : 4;
  const sizeCode = lenBytes === 1 ? 0 : lenBytes === 2 ? 1 : 2;
  const utf8 = !isAscii(name);
  let flags = sizeCode;
  if (type !== 0) flags |= 0x08;
  if (utf8) flags |= 0x10;
  w.u8(1).u8(flags);
  if (type !== 0) w.u8(type);
  if (utf8) w.u8(1);
  w.uN(nameBytes.length, lenBytes);
  w.bytes(nameBytes);
}

export function encodeHardLink(name: string, addr: number): Buffer {
  const w = new ByteWriter(32);
  linkHead(w, name, 0);
  w.addr(addr);
  return w.result();
}

export function encodeSoftLink(name: string, target: string): Buffer {
  const w = new ByteWriter(32);
  linkHead(w, name, 1);
  const t = Buffer.from(target, 'utf8');
  w.u16(t.length).bytes(t);
  return w.result();
}

export function encodeExternalLink(name: string, file: string, path: string): Buffer {
  const w = new ByteWriter(64);
  linkHead(w, name, 64);
  const v = Buffer.concat([Buffer.from([0]), Buffer.from(file + '\0', 'utf8'), Buffer.from(path + '\0', 'utf8')]);
  w.u16(v.length).bytes(v);
  return w.result();
}

export function encodeLinkInfo(): Buffer {
  return new ByteWriter(20).u8(0).u8(0).addr(UNDEF).addr(UNDEF).result();
}

export function encodeGroupInfo(): Buffer {
  return Buffer.from([0, 0]);
}

// ---------------------------------------------------------------------------
// Attribute message (0x000C), version 3

export function encodeAttribute(name: string, datatype: Buffer, dataspace: Buffer, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const w = new ByteWriter(16 + nameBytes.length + datatype.length + dataspace.length + data.length);
  w.u8(3).u8(0);
  w.u16(nameBytes.length).u16(datatype.length).u16(dataspace.length);
  w.u8(isAscii(name) ? 0 : 1);
  w.bytes(nameBytes).bytes(datatype).bytes(dataspace).bytes(data);
  return w.result();
}

/** Attribute Info message (0x0015), version 0: compact storage, no creation order */
export function encodeAttributeInfo(): Buffer {
  return new ByteWriter(20).u8(0).u8(0).addr(UNDEF).addr(UNDEF).result();
}

// ---------------------------------------------------------------------------
// Continuation message (0x0010)

export function encodeContinuation(addr: number, length: number): Buffer {
  return new ByteWriter(16).addr(addr).u64(length).result();
}

// ---------------------------------------------------------------------------
// Hyperslab selections (H5S_select_serialize), hyperslab version 2 (regular)

export interface Hyperslab {
  start: number[];
  stride?: number[];
  count: number[];
  block?: number[];
}

export interface NormalizedSlab {
  start: number[];
  stride: number[];
  count: number[];
  block: number[];
}

export function normalizeSlab(h: Hyperslab, rank: number, what: string): NormalizedSlab {
  const stride = h.stride ?? h.start.map(() => 1);
  const block = h.block ?? h.start.map(() => 1);
  for (const [k, a] of [['start', h.start], ['stride', stride], ['count', h.count], ['block', block]] as const) {
    if (!Array.isArray(a) || a.length !== rank) throw new Error(`${what}: hyperslab ${k} must have ${rank} entries`);
    for (const v of a) if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what}: bad hyperslab ${k} value ${v}`);
  }
  for (let d = 0; d < rank; d++) {
    if (stride[d] < 1 || block[d] < 1) throw new Error(`${what}: stride and block must be >= 1`);
    if (h.count[d] > 1 && block[d] > stride[d]) throw new Error(`${what}: hyperslab blocks overlap (block > stride)`);
  }
  return { start: [...h.start], stride: [...stride], count: [...h.count], block: [...block] };
}

export function slabPoints(s: NormalizedSlab): number {
  let n = 1;
  for (let d = 0; d < s.start.length; d++) n *= s.count[d] * s.block[d];
  return n;
}

/** one past the last selected index in each dimension */
export function slabEnd(s: NormalizedSlab): number[] {
  return s.start.map((st, d) => (s.count[d] === 0 ? st : st + (s.count[d] - 1) * s.stride[d] + s.block[d]));
}

export function encodeHyperslabSelection(s: NormalizedSlab): Buffer {
  const rank = s.start.length;
  const w = new ByteWriter(17 + rank * 32);
  w.u32(2); // H5S_SEL_HYPERSLABS
  w.u32(2); // hyperslab serialization version 2
  w.u8(1); // flags: regular hyperslab
  w.u32(4 + rank * 32); // length of what follows
  w.u32(rank);
  for (let d = 0; d < rank; d++) {
    w.u64(s.start[d]).u64(s.stride[d]).u64(s.count[d]).u64(s.block[d]);
  }
  return w.result();
}
