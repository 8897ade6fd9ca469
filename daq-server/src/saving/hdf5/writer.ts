/**
 * Pure-TypeScript HDF5 writer: superblock v2, v2 object headers, compact
 * groups, attributes, variable-length UTF-8 strings in global heaps, contiguous
 * small datasets, chunked datasets (Fixed Array or v1 B-tree index) whose
 * chunks the caller filters, and virtual datasets. See README.md.
 */
import * as fs from 'node:fs';
import { lookup3 } from './checksum.js';
import {
  ALLOC_INCR,
  ALLOC_LATE,
  ByteWriter,
  DTYPES,
  UNDEF,
  dtypeOf,
  encodeAttribute,
  encodeAttributeInfo,
  encodeBTreeLayout,
  encodeContiguousLayout,
  encodeContinuation,
  encodeDatatype,
  encodeDataspace,
  encodeExternalLink,
  encodeFillValue,
  encodeFilterPipeline,
  encodeFixedArrayLayout,
  encodeGroupInfo,
  encodeHardLink,
  encodeHyperslabSelection,
  encodeLinkInfo,
  encodeNumbers,
  encodeSoftLink,
  encodeVirtualLayout,
  encodeVlenStringType,
  isDtype,
  isTypedArray,
  normalizeSlab,
  slabEnd,
  slabPoints,
  typedBytes,
  writeU64,
  type Filter,
  type H5Dtype,
  type Hyperslab,
  type TypedArray,
} from './encode.js';
import { BTreeIndex, FA_PAGE_BITS, FixedArrayIndex, type ChunkIndex, type MetaWrite } from './indexes.js';

export type AttrValue = string | number | bigint | boolean | string[] | number[] | TypedArray;

export interface VirtualSource {
  file: string;
  dataset: string;
  src: Hyperslab;
  dst: Hyperslab;
}

export interface ChunkLocation {
  address: number;
  size: number;
}

export interface H5Group {
  readonly name: string;
  group(name: string, attrs?: Record<string, AttrValue>): H5Group;
  attrs(values: Record<string, AttrValue>): this;
  dataset(
    name: string,
    data: TypedArray | number[] | string | string[],
    options?: { shape?: number[]; dtype?: H5Dtype; attrs?: Record<string, AttrValue> },
  ): H5Dataset;
  chunked(
    name: string,
    options: {
      dtype: H5Dtype;
      shape: number[];
      maxShape: (number | null)[];
      chunk: number[];
      filters?: Filter[];
      fill?: number;
      attrs?: Record<string, AttrValue>;
    },
  ): H5ChunkedDataset;
  virtual(
    name: string,
    options: {
      dtype: H5Dtype;
      shape: number[];
      maxShape?: (number | null)[];
      fill?: number;
      sources: VirtualSource[];
      attrs?: Record<string, AttrValue>;
    },
  ): H5Dataset;
  softLink(name: string, target: string): void;
  externalLink(name: string, file: string, path: string): void;
}

export interface H5Dataset {
  readonly name: string;
  attrs(values: Record<string, AttrValue>): this;
}

export interface H5ChunkedDataset extends H5Dataset {
  readonly shape: readonly number[];
  writeChunk(offset: number[], bytes: Uint8Array, filterMask?: number): ChunkLocation;
  append(data: TypedArray): void;
  resize(shape: number[]): void;
}

/** read back the bytes of a chunk written by this writer */
export function readChunk(fd: number, loc: ChunkLocation): Buffer {
  const buf = Buffer.alloc(loc.size);
  let done = 0;
  while (done < loc.size) {
    const n = fs.readSync(fd, buf, done, loc.size - done, loc.address + done);
    if (n <= 0) throw new Error(`short read at ${loc.address + done}`);
    done += n;
  }
  return buf;
}

// ---------------------------------------------------------------------------

const MSG_DATASPACE = 0x01;
const MSG_LINK_INFO = 0x02;
const MSG_DATATYPE = 0x03;
const MSG_FILL = 0x05;
const MSG_LINK = 0x06;
const MSG_LAYOUT = 0x08;
const MSG_GROUP_INFO = 0x0a;
const MSG_FILTERS = 0x0b;
const MSG_ATTRIBUTE = 0x0c;
const MSG_CONTINUATION = 0x10;
const MSG_ATTR_INFO = 0x15;

const MSG_HEADER = 4; // v2 header message prefix: type, size (2), flags
const CONT_MSG = MSG_HEADER + 16;
const SUPERBLOCK_SIZE = 48;
const MAX_MSG_BODY = 0xffff;

interface Msg {
  type: number;
  flags: number;
  body: Buffer;
}

interface HeaderChunk {
  addr: number;
  size: number; // whole block, signature and checksum included
  written: boolean;
}

function product(a: readonly number[]): number {
  let p = 1;
  for (const v of a) p *= v;
  return p;
}

function withChecksum(w: ByteWriter): Buffer {
  const body = w.result();
  const out = Buffer.alloc(body.length + 4);
  body.copy(out);
  out.writeUInt32LE(lookup3(body), body.length);
  return out;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function checkName(kind: string, parent: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${kind} name in ${parent} must be a non-empty string`);
  if (name.includes('/')) throw new Error(`${kind} name '${name}' in ${parent} must not contain '/'`);
  if (name === '.' || name === '..') throw new Error(`${kind} name '${name}' in ${parent} is reserved`);
  if (name.includes('\0')) throw new Error(`${kind} name in ${parent} must not contain NUL`);
}

function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function isIntegral(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isInteger(values[i])) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Global heap

class Collection {
  readonly buf: Buffer;
  used = 16;
  next = 1;
  dirty = true;
  written = false;
  constructor(readonly addr: number, readonly size: number) {
    this.buf = Buffer.alloc(size);
  }
}

class GlobalHeap {
  private readonly cols: Collection[] = [];
  private cur: Collection | null = null;

  constructor(private readonly alloc: (n: number) => number) {}

  add(data: Uint8Array): { addr: number; index: number } {
    const need = 16 + pad8(data.length);
    let c = this.cur;
    const fits = (x: Collection): boolean =>
      x.next <= 0xffff && (x.used + need === x.size || x.used + need + 16 <= x.size);
    if (!c || !fits(c)) {
      const size = Math.max(4096, Math.ceil((16 + need + 16) / 4096) * 4096);
      c = new Collection(this.alloc(size), size);
      this.cols.push(c);
      // keep filling the collection with more room left
      if (!this.cur || size - (16 + need) > this.cur.size - this.cur.used) this.cur = c;
    }
    const index = c.next++;
    const o = c.used;
    c.buf.writeUInt16LE(index, o);
    c.buf.writeUInt16LE(0, o + 2); // reference count (the library writes 0 too)
    c.buf.writeUInt32LE(0, o + 4);
    writeU64(c.buf, o + 8, data.length);
    c.buf.set(data, o + 16);
    c.used += need;
    c.dirty = true;
    return { addr: c.addr, index };
  }

  collect(out: MetaWrite[]): void {
    for (const c of this.cols) {
      if (!c.dirty) continue;
      const b = c.buf;
      b.write('GCOL', 0, 'latin1');
      b[4] = 1;
      b[5] = b[6] = b[7] = 0;
      writeU64(b, 8, c.size);
      const free = c.size - c.used;
      if (free >= 16) {
        b.fill(0, c.used, c.used + 16);
        writeU64(b, c.used + 8, free);
      }
      out.push({ addr: c.addr, buf: Buffer.from(b), fresh: !c.written });
      c.written = true;
      c.dirty = false;
    }
  }
}

// ---------------------------------------------------------------------------
// Objects

abstract class H5Object {
  readonly attrMsgs = new Map<string, Buffer>();
  dirty = true;
  readonly headerAddr: number;
  private readonly chunk0Size: number;
  private readonly sizeBytes: number;
  private readonly conts: HeaderChunk[] = [];
  private chunk0Written = false;

  constructor(readonly file: H5Writer, readonly name: string, initialMessageBytes: number) {
    const data = Math.max(initialMessageBytes + 128, 256);
    this.sizeBytes = data < 256 ? 1 : data < 65536 ? 2 : 4;
    this.chunk0Size = 6 + this.sizeBytes + data + 4;
    this.headerAddr = file.alloc(this.chunk0Size);
    file.register(this);
  }

  protected abstract baseMessages(): Msg[];

  messages(): Msg[] {
    const m = this.baseMessages();
    // Attribute Info message: without it the library counts no attributes in a
    // v2 object header (H5Oget_info num_attrs)
    m.push({ type: MSG_ATTR_INFO, flags: 0x04, body: encodeAttributeInfo() });
    for (const body of this.attrMsgs.values()) m.push({ type: MSG_ATTRIBUTE, flags: 0, body });
    return m;
  }

  attrs(values: Record<string, AttrValue>): this {
    this.file.checkOpen();
    for (const [k, v] of Object.entries(values)) {
      if (typeof k !== 'string' || k.length === 0) throw new Error(`attribute name on ${this.name} must be non-empty`);
      const body = this.file.encodeAttr(k, v, this.name);
      if (body.length > MAX_MSG_BODY - 64) throw new Error(`attribute '${k}' on ${this.name} is too large (${body.length} bytes; the limit is 64 KiB)`);
      this.attrMsgs.set(k, body);
    }
    this.dirty = true;
    return this;
  }

  /** serialize the object header into its chunks (allocating continuation chunks as needed) */
  serializeHeader(out: MetaWrite[]): void {
    const msgs = this.messages();
    for (const m of msgs) {
      if (m.body.length > MAX_MSG_BODY) throw new Error(`header message of ${this.name} too large`);
    }
    const sizes = msgs.map((m) => MSG_HEADER + m.body.length);
    const capacity = (ci: number): number =>
      ci === 0 ? this.chunk0Size - (6 + this.sizeBytes) - 4 : this.conts[ci - 1].size - 8;
    const plan: Msg[][] = [];
    let i = 0;
    let ci = 0;
    for (;;) {
      let remaining = 0;
      for (let j = i; j < msgs.length; j++) remaining += sizes[j];
      const cap = capacity(ci);
      const list: Msg[] = [];
      if (remaining <= cap) {
        while (i < msgs.length) list.push(msgs[i++]);
        plan.push(list);
        break;
      }
      let used = 0;
      while (i < msgs.length && used + sizes[i] <= cap - CONT_MSG) {
        list.push(msgs[i]);
        used += sizes[i++];
      }
      plan.push(list);
      ci++;
      if (ci > this.conts.length) {
        let rest = 0;
        for (let j = i; j < msgs.length; j++) rest += sizes[j];
        const size = 8 + rest + Math.max(256, rest >> 1);
        this.conts.push({ addr: this.file.alloc(size), size, written: false });
      }
    }
    for (let k = 0; k < plan.length; k++) {
      const w = new ByteWriter(k === 0 ? this.chunk0Size : this.conts[k - 1].size);
      if (k === 0) {
        w.bytes(Buffer.from('OHDR', 'latin1')).u8(2);
        w.u8(this.sizeBytes === 1 ? 0 : this.sizeBytes === 2 ? 1 : 2);
        w.uN(capacity(0), this.sizeBytes);
      } else {
        w.bytes(Buffer.from('OCHK', 'latin1'));
      }
      const list = plan[k].slice();
      if (k + 1 < plan.length) {
        const next = this.conts[k];
        list.push({ type: MSG_CONTINUATION, flags: 0, body: encodeContinuation(next.addr, next.size) });
      }
      let used = 0;
      for (const m of list) {
        w.u8(m.type).u16(m.body.length).u8(m.flags).bytes(m.body);
        used += MSG_HEADER + m.body.length;
      }
      let free = capacity(k) - used;
      while (free >= MSG_HEADER) {
        const n = Math.min(free - MSG_HEADER, MAX_MSG_BODY);
        w.u8(0).u16(n).u8(0).zeros(n); // NIL message
        free -= MSG_HEADER + n;
      }
      w.zeros(free); // gap (< message header size)
      if (k === 0) {
        out.push({ addr: this.headerAddr, buf: withChecksum(w), fresh: !this.chunk0Written });
        this.chunk0Written = true;
      } else {
        const c = this.conts[k - 1];
        out.push({ addr: c.addr, buf: withChecksum(w), fresh: !c.written });
        c.written = true;
      }
    }
  }
}

class Group extends H5Object implements H5Group {
  private readonly links = new Map<string, Buffer>();

  constructor(file: H5Writer, name: string) {
    super(file, name, 64);
  }

  protected baseMessages(): Msg[] {
    const m: Msg[] = [
      { type: MSG_LINK_INFO, flags: 0, body: encodeLinkInfo() },
      { type: MSG_GROUP_INFO, flags: 0, body: encodeGroupInfo() },
    ];
    for (const body of this.links.values()) m.push({ type: MSG_LINK, flags: 0, body });
    return m;
  }

  private addLink(name: string, body: Buffer): void {
    this.file.checkOpen();
    checkName('link', this.name, name);
    if (this.links.has(name)) throw new Error(`'${joinPath(this.name, name)}' already exists`);
    this.links.set(name, body);
    this.dirty = true;
  }

  private reserve(name: string): string {
    this.file.checkOpen();
    checkName('link', this.name, name);
    const path = joinPath(this.name, name);
    if (this.links.has(name)) throw new Error(`'${path}' already exists`);
    return path;
  }

  group(name: string, attrs?: Record<string, AttrValue>): H5Group {
    const path = this.reserve(name);
    const g = new Group(this.file, path);
    this.addLink(name, encodeHardLink(name, g.headerAddr));
    if (attrs) g.attrs(attrs);
    return g;
  }

  dataset(
    name: string,
    data: TypedArray | number[] | string | string[],
    options: { shape?: number[]; dtype?: H5Dtype; attrs?: Record<string, AttrValue> } = {},
  ): H5Dataset {
    const path = this.reserve(name);
    const d = new SmallDataset(this.file, path, data, options.shape, options.dtype);
    this.addLink(name, encodeHardLink(name, d.headerAddr));
    if (options.attrs) d.attrs(options.attrs);
    return d;
  }

  chunked(
    name: string,
    options: {
      dtype: H5Dtype;
      shape: number[];
      maxShape: (number | null)[];
      chunk: number[];
      filters?: Filter[];
      fill?: number;
      attrs?: Record<string, AttrValue>;
    },
  ): H5ChunkedDataset {
    const path = this.reserve(name);
    const d = new ChunkedDataset(this.file, path, options);
    this.addLink(name, encodeHardLink(name, d.headerAddr));
    if (options.attrs) d.attrs(options.attrs);
    return d;
  }

  virtual(
    name: string,
    options: {
      dtype: H5Dtype;
      shape: number[];
      maxShape?: (number | null)[];
      fill?: number;
      sources: VirtualSource[];
      attrs?: Record<string, AttrValue>;
    },
  ): H5Dataset {
    const path = this.reserve(name);
    const d = new VirtualDataset(this.file, path, options);
    this.addLink(name, encodeHardLink(name, d.headerAddr));
    if (options.attrs) d.attrs(options.attrs);
    return d;
  }

  softLink(name: string, target: string): void {
    if (typeof target !== 'string' || target.length === 0) throw new Error(`soft link '${name}' in ${this.name} needs a target path`);
    this.addLink(name, encodeSoftLink(name, target));
  }

  externalLink(name: string, file: string, path: string): void {
    if (!file || !path) throw new Error(`external link '${name}' in ${this.name} needs a file and a path`);
    this.addLink(name, encodeExternalLink(name, file, path));
  }
}

function fillBytes(dtype: H5Dtype, fill: number | undefined): Buffer {
  return encodeNumbers([fill ?? 0], dtype);
}

class SmallDataset extends H5Object implements H5Dataset {
  private readonly fixed: Msg[];

  constructor(
    file: H5Writer,
    name: string,
    data: TypedArray | number[] | string | string[],
    shape: number[] | undefined,
    dtype: H5Dtype | undefined,
  ) {
    // encode the data first: everything here is validated before the header is allocated
    let datatype: Buffer;
    let raw: Buffer;
    let n: number;
    if (typeof data === 'string' || (Array.isArray(data) && data.length > 0 && data.every((x) => typeof x === 'string'))) {
      const strings = typeof data === 'string' ? [data] : (data as string[]);
      n = strings.length;
      datatype = encodeVlenStringType();
      raw = file.encodeStrings(strings);
      if (shape === undefined) shape = typeof data === 'string' ? [] : [n];
    } else if (isTypedArray(data)) {
      n = data.length;
      const own = dtypeOf(data);
      if (dtype && dtype !== own) raw = encodeNumbers(Array.from(data as ArrayLike<number | bigint>), dtype);
      else raw = typedBytes(data);
      datatype = encodeDatatype(dtype ?? own);
    } else if (Array.isArray(data)) {
      const nums = data as number[];
      for (const v of nums) if (typeof v !== 'number') throw new TypeError(`dataset ${name}: mixed or unsupported array values`);
      n = nums.length;
      const dt = dtype ?? (isIntegral(nums) ? 'i8' : 'f8');
      if (dtype !== undefined && !isDtype(dtype)) throw new Error(`dataset ${name}: unknown dtype ${String(dtype)}`);
      raw = encodeNumbers(nums, dt);
      datatype = encodeDatatype(dt);
    } else {
      throw new TypeError(`dataset ${name}: unsupported data`);
    }
    shape ??= [n];
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`dataset ${name}: bad shape`);
    if (product(shape) !== n) throw new Error(`dataset ${name}: shape [${shape.join(', ')}] does not hold ${n} elements`);
    const dataspace = encodeDataspace(shape);
    const fill = encodeFillValue(ALLOC_LATE);
    super(file, name, dataspace.length + datatype.length + fill.length + 32 + 24);
    let addr = UNDEF;
    if (raw.length > 0) {
      addr = file.alloc(raw.length);
      file.writeRaw(raw, addr);
    }
    this.fixed = [
      { type: MSG_DATASPACE, flags: 0, body: dataspace },
      { type: MSG_DATATYPE, flags: 1, body: datatype },
      { type: MSG_FILL, flags: 1, body: fill },
      { type: MSG_LAYOUT, flags: 0, body: encodeContiguousLayout(addr, raw.length) },
    ];
  }

  protected baseMessages(): Msg[] {
    return this.fixed.slice();
  }
}

class ChunkedDataset extends H5Object implements H5ChunkedDataset {
  private readonly dtype: H5Dtype;
  private readonly elemSize: number;
  private readonly cur: number[];
  private readonly maxShape: (number | null)[];
  private readonly chunk: number[];
  private readonly filters: Filter[];
  private readonly chunkBytes: number;
  private readonly index: ChunkIndex;
  private readonly fill: Buffer;
  // append() state
  private pending: Buffer | null = null;
  private pendingRows = 0;
  private pendingChunk = -1;
  private pendingAddr = UNDEF;
  private pendingDirty = false;

  constructor(
    file: H5Writer,
    name: string,
    o: { dtype: H5Dtype; shape: number[]; maxShape: (number | null)[]; chunk: number[]; filters?: Filter[]; fill?: number },
  ) {
    if (!isDtype(o.dtype)) throw new Error(`dataset ${name}: unknown dtype ${String(o.dtype)}`);
    const rank = o.shape?.length ?? 0;
    if (rank === 0 || rank > 32) throw new Error(`dataset ${name}: chunked datasets need a rank between 1 and 32`);
    if (!Array.isArray(o.maxShape) || o.maxShape.length !== rank) throw new Error(`dataset ${name}: maxShape must have ${rank} entries`);
    if (!Array.isArray(o.chunk) || o.chunk.length !== rank) throw new Error(`dataset ${name}: chunk must have ${rank} entries`);
    for (let d = 0; d < rank; d++) {
      const s = o.shape[d];
      const m = o.maxShape[d];
      const c = o.chunk[d];
      if (!Number.isSafeInteger(s) || s < 0) throw new Error(`dataset ${name}: bad shape`);
      if (m !== null && (!Number.isSafeInteger(m) || m < s)) throw new Error(`dataset ${name}: maxShape[${d}] must be null or >= shape[${d}]`);
      if (!Number.isSafeInteger(c) || c < 1 || c > 0xffffffff) throw new Error(`dataset ${name}: bad chunk[${d}]`);
    }
    const elemSize = DTYPES[o.dtype].size;
    const chunkBytes = product(o.chunk) * elemSize;
    if (chunkBytes > 0xffffffff) throw new Error(`dataset ${name}: chunks must be smaller than 4 GiB`);
    const filters = o.filters ?? [];
    const fp = filters.length ? encodeFilterPipeline(filters) : null;
    super(file, name, 40 + 32 * rank + 12 + 24 + 40 + 8 * rank + (fp?.length ?? 0) + 16);
    this.dtype = o.dtype;
    this.elemSize = elemSize;
    this.cur = o.shape.slice();
    this.maxShape = o.maxShape.slice();
    this.chunk = o.chunk.slice();
    this.filters = filters.map((f) => ({ ...f, cdValues: f.cdValues.slice() }));
    this.chunkBytes = chunkBytes;
    this.fill = fillBytes(o.dtype, o.fill);
    if (this.maxShape.every((m) => m !== null)) {
      const nChunks = this.maxShape.map((m, d) => Math.ceil((m as number) / this.chunk[d]));
      const down = new Array<number>(rank).fill(1);
      for (let d = rank - 2; d >= 0; d--) down[d] = down[d + 1] * nChunks[d + 1];
      const total = product(nChunks);
      if (total > 2 ** 31) throw new Error(`dataset ${name}: too many chunks for a fixed array index`);
      this.index = new FixedArrayIndex(total, filters.length > 0, chunkBytes, down, (n) => file.alloc(n));
    } else {
      this.index = new BTreeIndex(this.chunk, elemSize);
    }
    file.chunkedDatasets.push(this);
  }

  get shape(): readonly number[] {
    return this.cur.slice();
  }

  protected baseMessages(): Msg[] {
    const m: Msg[] = [
      { type: MSG_DATASPACE, flags: 0, body: encodeDataspace(this.cur, this.maxShape) },
      { type: MSG_DATATYPE, flags: 1, body: encodeDatatype(this.dtype) },
      { type: MSG_FILL, flags: 1, body: encodeFillValue(ALLOC_INCR, this.fill) },
    ];
    if (this.index instanceof FixedArrayIndex) {
      m.push({ type: MSG_LAYOUT, flags: 0, body: encodeFixedArrayLayout(this.chunk, this.elemSize, FA_PAGE_BITS, this.index.address) });
    } else {
      m.push({ type: MSG_LAYOUT, flags: 0, body: encodeBTreeLayout(this.chunk, this.elemSize, this.index.address) });
    }
    if (this.filters.length) m.push({ type: MSG_FILTERS, flags: 0, body: encodeFilterPipeline(this.filters) });
    return m;
  }

  private scaledOf(offset: number[]): number[] {
    if (!Array.isArray(offset) || offset.length !== this.cur.length) {
      throw new Error(`${this.name}: chunk offset must have ${this.cur.length} entries`);
    }
    return offset.map((o, d) => {
      if (!Number.isSafeInteger(o) || o < 0 || o % this.chunk[d] !== 0) {
        throw new Error(`${this.name}: chunk offset [${offset.join(', ')}] is not a multiple of the chunk shape [${this.chunk.join(', ')}]`);
      }
      const m = this.maxShape[d];
      if (m !== null && o >= m) throw new Error(`${this.name}: chunk offset [${offset.join(', ')}] is beyond maxShape [${this.maxShape.join(', ')}]`);
      return o / this.chunk[d];
    });
  }

  writeChunk(offset: number[], bytes: Uint8Array, filterMask = 0): ChunkLocation {
    this.file.checkOpen();
    const scaled = this.scaledOf(offset);
    const len = bytes.byteLength;
    if (this.filters.length === 0) {
      if (len !== this.chunkBytes) throw new Error(`${this.name}: an unfiltered chunk must be ${this.chunkBytes} bytes, got ${len}`);
    } else if (len === 0 || len > 0xffffffff) {
      throw new Error(`${this.name}: bad filtered chunk size ${len}`);
    }
    const address = this.file.alloc(len);
    this.file.writeRaw(bytes, address);
    this.index.set(scaled, address, len, filterMask);
    for (let d = 0; d < this.cur.length; d++) {
      const m = this.maxShape[d];
      let end = offset[d] + this.chunk[d];
      if (m !== null && end > m) end = m;
      if (end > this.cur[d]) {
        this.cur[d] = end;
        this.dirty = true;
      }
    }
    return { address, size: len };
  }

  append(data: TypedArray): void {
    this.file.checkOpen();
    if (this.filters.length) throw new Error(`${this.name}: append() is only for datasets without filters`);
    if (dtypeOf(data) !== this.dtype) throw new Error(`${this.name}: append() needs a ${this.dtype} typed array`);
    for (let d = 1; d < this.cur.length; d++) {
      if (this.chunk[d] !== this.cur[d]) throw new Error(`${this.name}: append() needs chunks of whole rows (chunk[${d}] == shape[${d}])`);
    }
    const rowElems = product(this.cur.slice(1));
    if (data.length % rowElems !== 0) throw new Error(`${this.name}: append() needs whole rows of ${rowElems} elements`);
    const rows = data.length / rowElems;
    const m0 = this.maxShape[0];
    if (m0 !== null && this.cur[0] + rows > m0) throw new Error(`${this.name}: append() beyond maxShape[0] = ${m0}`);
    const rowBytes = rowElems * this.elemSize;
    const src = typedBytes(data);
    const c0 = this.chunk[0];
    let row = this.cur[0];
    let done = 0;
    while (done < rows) {
      const ci = Math.floor(row / c0);
      if (ci !== this.pendingChunk) {
        this.writePending();
        this.pending = Buffer.alloc(this.chunkBytes);
        for (let i = 0; i < this.chunkBytes; i += this.elemSize) this.fill.copy(this.pending, i);
        this.pendingChunk = ci;
        this.pendingAddr = UNDEF;
      }
      const inChunk = row - ci * c0;
      const take = Math.min(rows - done, c0 - inChunk);
      src.copy(this.pending as Buffer, inChunk * rowBytes, done * rowBytes, (done + take) * rowBytes);
      this.pendingRows = inChunk + take;
      this.pendingDirty = true;
      done += take;
      row += take;
      if (this.pendingRows === c0) this.writePending();
    }
    this.cur[0] = row;
    this.dirty = true;
  }

  /** write the chunk append() is filling (at its own place once it has one) */
  writePending(): void {
    if (!this.pending || !this.pendingDirty) return;
    const offset = this.cur.map((_, d) => (d === 0 ? this.pendingChunk * this.chunk[0] : 0));
    if (this.pendingAddr === UNDEF) {
      this.pendingAddr = this.writeChunkNoGrow(offset, this.pending);
    } else {
      this.file.writeRaw(this.pending, this.pendingAddr);
    }
    this.pendingDirty = false;
    if (this.pendingRows === this.chunk[0]) {
      this.pending = null;
      this.pendingChunk = -1;
      this.pendingAddr = UNDEF;
      this.pendingRows = 0;
    }
  }

  private writeChunkNoGrow(offset: number[], bytes: Buffer): number {
    const scaled = this.scaledOf(offset);
    const address = this.file.alloc(bytes.length);
    this.file.writeRaw(bytes, address);
    this.index.set(scaled, address, bytes.length, 0);
    return address;
  }

  resize(shape: number[]): void {
    this.file.checkOpen();
    if (!Array.isArray(shape) || shape.length !== this.cur.length) throw new Error(`${this.name}: resize() needs ${this.cur.length} dimensions`);
    shape.forEach((s, d) => {
      const m = this.maxShape[d];
      if (!Number.isSafeInteger(s) || s < 0 || (m !== null && s > m)) {
        throw new Error(`${this.name}: cannot resize to [${shape.join(', ')}] (maxShape [${this.maxShape.join(', ')}])`);
      }
    });
    if (this.pending && shape[0] <= this.pendingChunk * this.chunk[0]) {
      // the chunk append() was filling is now entirely outside the extent
      this.writePending();
      this.pending = null;
      this.pendingChunk = -1;
      this.pendingAddr = UNDEF;
      this.pendingRows = 0;
    }
    for (let d = 0; d < shape.length; d++) this.cur[d] = shape[d];
    this.dirty = true;
  }

  collectIndex(out: MetaWrite[]): void {
    this.writePending();
    if (this.index.collect(out, (n) => this.file.alloc(n))) this.dirty = true;
  }
}

class VirtualDataset extends H5Object implements H5Dataset {
  private readonly fixed: Msg[];

  constructor(
    file: H5Writer,
    name: string,
    o: { dtype: H5Dtype; shape: number[]; maxShape?: (number | null)[]; fill?: number; sources: VirtualSource[] },
  ) {
    if (!isDtype(o.dtype)) throw new Error(`dataset ${name}: unknown dtype ${String(o.dtype)}`);
    const rank = o.shape?.length ?? 0;
    if (rank === 0) throw new Error(`virtual dataset ${name}: needs a shape`);
    for (const s of o.shape) if (!Number.isSafeInteger(s) || s < 0) throw new Error(`virtual dataset ${name}: bad shape`);
    const maxShape = o.maxShape ?? o.shape.slice();
    if (maxShape.length !== rank) throw new Error(`virtual dataset ${name}: maxShape must have ${rank} entries`);
    if (!Array.isArray(o.sources) || o.sources.length === 0) throw new Error(`virtual dataset ${name}: needs at least one source`);
    const w = new ByteWriter(64 + o.sources.length * 300);
    w.u8(0); // encoding version
    w.u64(o.sources.length);
    o.sources.forEach((s, i) => {
      const what = `virtual dataset ${name}, source ${i}`;
      if (!s.file || !s.dataset) throw new Error(`${what}: needs file and dataset`);
      const src = normalizeSlab(s.src, s.src.start.length, `${what} src`);
      const dst = normalizeSlab(s.dst, rank, `${what} dst`);
      if (slabPoints(src) !== slabPoints(dst)) {
        throw new Error(`${what}: src selects ${slabPoints(src)} elements but dst ${slabPoints(dst)}`);
      }
      slabEnd(dst).forEach((e, d) => {
        const lim = maxShape[d];
        if (lim !== null && e > lim) throw new Error(`${what}: dst reaches ${e} in dimension ${d}, beyond ${lim}`);
      });
      w.str(s.file).str(s.dataset);
      w.bytes(encodeHyperslabSelection(src));
      w.bytes(encodeHyperslabSelection(dst));
    });
    const block = withChecksum(w);
    const dataspace = encodeDataspace(o.shape, maxShape);
    super(file, name, dataspace.length + 24 + 16 + 16 + 16);
    const id = file.heap.add(block);
    this.fixed = [
      { type: MSG_DATASPACE, flags: 0, body: dataspace },
      { type: MSG_DATATYPE, flags: 1, body: encodeDatatype(o.dtype) },
      { type: MSG_FILL, flags: 1, body: encodeFillValue(ALLOC_INCR, fillBytes(o.dtype, o.fill)) },
      { type: MSG_LAYOUT, flags: 0, body: encodeVirtualLayout(id.addr, id.index) },
    ];
  }

  protected baseMessages(): Msg[] {
    return this.fixed.slice();
  }
}

// ---------------------------------------------------------------------------

const EXCLUSIVE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** Open a new file; with `replace`, unlink what is there first (never a folder) and retry if it comes back. */
export function openExclusive(path: string, replace: boolean, mode = 0o644): number {
  for (let attempt = 0; ; attempt++) {
    try {
      return fs.openSync(path, EXCLUSIVE, mode);
    } catch (e) {
      if (!replace || (e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
    }
    removeEntry(path);
  }
}

/** Remove the directory entry at `path` (a file or a link, never what a link points at); missing is fine. */
export function removeEntry(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path} is a folder, not a file that may be replaced`), { code: 'EISDIR' });
  try {
    fs.unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export class H5Writer {
  readonly root: H5Group;
  /** @internal */ readonly heap: GlobalHeap;
  /** @internal */ readonly chunkedDatasets: ChunkedDataset[] = [];
  private readonly objects: H5Object[] = [];
  private fd: number;
  private eof = SUPERBLOCK_SIZE;
  private closed = false;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
    this.heap = new GlobalHeap((n) => this.alloc(n));
    this.root = new Group(this, '/');
  }

  /**
   * Always an exclusive create that never follows a link (O_CREAT|O_EXCL|O_NOFOLLOW):
   * an existing entry gives an Error with code 'EEXIST', unless `overwrite`, which
   * first removes the entry (a symlink is removed, its target untouched).
   */
  static create(path: string, options: { overwrite?: boolean } = {}): H5Writer {
    const fd = openExclusive(path, options.overwrite === true);
    let w: H5Writer;
    try {
      w = new H5Writer(path, fd);
      w.flush();
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return w;
  }

  /** @internal */ register(o: H5Object): void {
    this.objects.push(o);
  }

  /** @internal */ alloc(size: number): number {
    const a = this.eof;
    this.eof += size;
    return a;
  }

  /** @internal */ checkOpen(): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
  }

  /** @internal */ writeRaw(buf: Uint8Array, addr: number): void {
    let done = 0;
    while (done < buf.byteLength) {
      done += fs.writeSync(this.fd, buf, done, buf.byteLength - done, addr + done);
    }
  }

  /** @internal */ encodeStrings(strings: string[]): Buffer {
    const out = Buffer.alloc(strings.length * 16);
    strings.forEach((s, i) => {
      if (typeof s !== 'string') throw new TypeError('string arrays must only hold strings');
      const bytes = Buffer.from(s, 'utf8');
      const id = this.heap.add(bytes);
      out.writeUInt32LE(bytes.length, i * 16);
      writeU64(out, i * 16 + 4, id.addr);
      out.writeUInt32LE(id.index, i * 16 + 12);
    });
    return out;
  }

  /** @internal */ encodeAttr(name: string, v: AttrValue, owner: string): Buffer {
    let datatype: Buffer;
    let data: Buffer;
    let dims: number[] | null = null;
    if (typeof v === 'string') {
      datatype = encodeVlenStringType();
      data = this.encodeStrings([v]);
    } else if (typeof v === 'boolean') {
      datatype = encodeDatatype('u1');
      data = Buffer.from([v ? 1 : 0]);
    } else if (typeof v === 'number') {
      const dt: H5Dtype = Number.isInteger(v) && Number.isSafeInteger(v) ? 'i8' : 'f8';
      datatype = encodeDatatype(dt);
      data = encodeNumbers([v], dt);
    } else if (typeof v === 'bigint') {
      const dt: H5Dtype = v > 0x7fffffffffffffffn ? 'u8' : 'i8';
      datatype = encodeDatatype(dt);
      data = encodeNumbers([v], dt);
    } else if (isTypedArray(v)) {
      datatype = encodeDatatype(dtypeOf(v));
      data = Buffer.from(typedBytes(v));
      dims = [v.length];
    } else if (Array.isArray(v)) {
      dims = [v.length];
      if (v.length > 0 && v.every((x) => typeof x === 'string')) {
        datatype = encodeVlenStringType();
        data = this.encodeStrings(v as string[]);
      } else if (v.every((x) => typeof x === 'number')) {
        const nums = v as number[];
        const dt: H5Dtype = isIntegral(nums) && nums.every((x) => Number.isSafeInteger(x)) ? 'i8' : 'f8';
        datatype = encodeDatatype(dt);
        data = encodeNumbers(nums, dt);
      } else {
        throw new TypeError(`attribute '${name}' on ${owner}: arrays must be all strings or all numbers`);
      }
    } else {
      throw new TypeError(`attribute '${name}' on ${owner}: unsupported value`);
    }
    return encodeAttribute(name, datatype, encodeDataspace(dims), data);
  }

  /**
   * Make the file on disk consistent: write the pending chunk of append(),
   * the changed index blocks, object headers and heaps. Blocks in new space go
   * first, then the superblock (end-of-file address), then in-place rewrites
   * of blocks a reader may already use.
   */
  flush(options: { fsync?: boolean } = {}): void {
    this.checkOpen();
    const out: MetaWrite[] = [];
    for (const d of this.chunkedDatasets) d.collectIndex(out);
    for (const o of this.objects) {
      if (o.dirty) {
        o.serializeHeader(out);
        o.dirty = false;
      }
    }
    this.heap.collect(out);
    for (const m of out) if (m.fresh) this.writeRaw(m.buf, m.addr);
    const st = fs.fstatSync(this.fd);
    if (st.size < this.eof) fs.ftruncateSync(this.fd, this.eof);
    if (options.fsync) fs.fdatasyncSync(this.fd);
    this.writeRaw(this.superblock(), 0);
    for (const m of out) if (!m.fresh) this.writeRaw(m.buf, m.addr);
    if (options.fsync) fs.fsyncSync(this.fd);
  }

  private superblock(): Buffer {
    const w = new ByteWriter(SUPERBLOCK_SIZE);
    w.bytes(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]));
    w.u8(2).u8(8).u8(8).u8(0); // version 2, sizes of offsets and lengths, consistency flags
    w.addr(0); // base address
    w.addr(UNDEF); // superblock extension
    w.addr(this.eof);
    w.addr((this.root as Group).headerAddr);
    return withChecksum(w);
  }

  /** flush and close; idempotent */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
