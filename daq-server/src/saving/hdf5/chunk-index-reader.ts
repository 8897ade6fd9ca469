/**
 * Where a chunked dataset's chunks lie in its file, read from the HDF5 file
 * itself (File Format Specification 3.0), so that a reader can fetch a
 * compressed chunk with one positional read and decode it with our own codec
 * instead of the library's filter.
 *
 * Given the address of a dataset's object header (the library gives it: an
 * object reference is that address), this reads the header (version 1 or 2,
 * with continuation blocks), its dataspace, datatype, filter pipeline and
 * layout, then the chunk index of the layouts our writer and h5py/HDF5 ≥ 1.10
 * write: the version-1 B-tree (layout v3, and what the library's default
 * "earliest" format uses for every chunked dataset), and in layout v4 the
 * Fixed Array and the single chunk. A virtual dataset's mapping list (global
 * heap object, regular hyperslab / "all" selections) is read too. Other
 * layouts (Extensible Array, version-2 B-tree, implicit, compact, contiguous)
 * are `UnsupportedLayout`: the caller falls back to the library.
 *
 * A damaged file is an `H5FormatError` naming the structure and its address:
 * every read is bounded by the file's size, every checksum of a version-2
 * structure is checked, and walking an index visits each node at most once.
 */
import { fstatSync, readSync } from 'node:fs';
import { lookup3 } from './checksum.js';

/** The file is not what its structures say (truncated, a bad signature or checksum, a cycle). */
export class H5FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'H5FormatError';
  }
}

/** A well-formed layout this reader does not read (the library still can). */
export class UnsupportedLayout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedLayout';
  }
}

export interface ChunkLocation {
  /** element offset of the chunk's first element in each dimension */
  offset: number[];
  /** absolute position in the file */
  address: number;
  /** stored bytes */
  size: number;
  /** bit i set: filter i of the pipeline was skipped for this chunk */
  filterMask: number;
}

export interface FilterInfo {
  id: number;
  cdValues: number[];
}

/** A regular hyperslab, one entry per dimension. */
export interface Slab {
  start: number[];
  stride: number[];
  count: number[];
  block: number[];
}

/** A serialized selection: null is "all" (the whole extent); else a regular hyperslab or a list of blocks (inclusive ends). */
export type Selection = Slab | { blocks: { start: number[]; end: number[] }[] } | null;

export interface VirtualMapping {
  /** as stored: '.' is the same file, relative names are the library's business to resolve */
  file: string;
  dataset: string;
  src: Selection;
  dst: Selection;
}

export interface DatasetInfo {
  shape: number[];
  /** HDF5 datatype class (0 integer, 1 float, ...), size in bytes, little-endian */
  dtype: { cls: number; size: number; littleEndian: boolean };
  filters: FilterInfo[];
  layout:
    | { kind: 'chunked'; chunk: number[]; chunks: ChunkLocation[] }
    | { kind: 'virtual'; mappings: VirtualMapping[] };
}

/** Bounds for what a damaged file can make us do. */
const MAX_HEADER_BLOCKS = 1024;
const MAX_BTREE_NODES = 1 << 22;
const MAX_CHUNKS = 1 << 24;
const MAX_MAPPINGS = 1 << 20;
/** Addresses read as Numbers: the undefined address (all ones) and anything past 2^53 are "none". */
const NO_ADDR = 2 ** 53;

const MSG = { dataspace: 0x1, datatype: 0x3, layout: 0x8, filters: 0xb, continuation: 0x10 } as const;

/** Positional reads of one open file, bounded by its size. */
class FileReader {
  readonly size: number;
  constructor(
    readonly fd: number,
    readonly name: string,
  ) {
    this.size = fstatSync(fd).size;
  }

  read(addr: number, len: number, what: string): Buffer {
    if (!Number.isSafeInteger(addr) || addr < 0 || len < 0 || addr + len > this.size) {
      throw new H5FormatError(`${this.name}: ${what} at ${addr} (+${len} bytes) lies beyond the end of the file (${this.size} bytes): truncated or corrupt`);
    }
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, buf, got, len - got, addr + got);
      if (n <= 0) throw new H5FormatError(`${this.name}: ${what} at ${addr}: short read`);
      got += n;
    }
    return buf;
  }

  /** a version-2 structure: signature, then its checksum over everything before the last 4 bytes */
  checked(addr: number, len: number, sig: string, what: string): Buffer {
    const b = this.read(addr, len, what);
    if (b.toString('latin1', 0, 4) !== sig) throw new H5FormatError(`${this.name}: ${what} at ${addr}: no ${sig} signature`);
    if (lookup3(b.subarray(0, len - 4)) !== b.readUInt32LE(len - 4)) throw new H5FormatError(`${this.name}: ${what} at ${addr}: checksum mismatch`);
    return b;
  }
}

/** A little-endian cursor over one buffer; running off its end is a format error. */
class Cursor {
  constructor(
    readonly b: Buffer,
    public p: number,
    readonly what: string,
  ) {}
  private need(n: number): void {
    if (this.p + n > this.b.length) throw new H5FormatError(`${this.what}: runs past its end`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++];
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.p);
    this.p += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }
  /** unsigned little-endian of n bytes (n ≤ 8), as a Number (exact below 2^53) */
  uN(n: number): number {
    this.need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.b[this.p + i];
    this.p += n;
    return v;
  }
  u64(): number {
    return this.uN(8);
  }
  cstring(): string {
    const end = this.b.indexOf(0, this.p);
    if (end < 0) throw new H5FormatError(`${this.what}: unterminated string`);
    const s = this.b.toString('utf8', this.p, end);
    this.p = end + 1;
    return s;
  }
  skip(n: number): void {
    this.need(n);
    this.p += n;
  }
}

/**
 * One HDF5 file: its superblock's base address and offset/length sizes
 * (this reader takes the usual 8-byte ones), and datasets by object header address.
 */
export class H5File {
  /** absolute position of address 0 (the superblock; after a user block when there is one) */
  readonly base: number;
  private readonly r: FileReader;

  constructor(fd: number, name: string) {
    this.r = new FileReader(fd, name);
    const sig = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    let at = -1;
    for (let a = 0; a + 8 <= this.r.size && a <= 1 << 24; a = a === 0 ? 512 : a * 2) {
      if (this.r.read(a, 8, 'superblock signature').equals(sig)) {
        at = a;
        break;
      }
    }
    if (at < 0) throw new H5FormatError(`${name}: no HDF5 superblock signature`);
    const sb = this.r.read(at, Math.min(48, this.r.size - at), 'superblock');
    const version = sb[8];
    const [offs, lens, baseAt] = version >= 2 ? [sb[9], sb[10], 12] : [sb[13], sb[14], version === 0 ? 24 : 28];
    if (version > 3) throw new UnsupportedLayout(`${name}: superblock version ${version}`);
    if (offs !== 8 || lens !== 8) throw new UnsupportedLayout(`${name}: ${offs}-byte offsets and ${lens}-byte lengths (this reader takes 8)`);
    if (sb.length < baseAt + 8) throw new H5FormatError(`${name}: superblock truncated`);
    this.base = new Cursor(sb, baseAt, 'superblock').u64();
  }

  get name(): string {
    return this.r.name;
  }

  /** The dataset whose object header is at (relative) address `addr`. */
  dataset(addr: number): DatasetInfo {
    const msgs = this.messages(addr);
    const one = (type: number, what: string): Buffer => {
      const m = msgs.find((x) => x.type === type);
      if (!m) throw new H5FormatError(`${this.name}: object at ${addr} has no ${what} message (not a dataset?)`);
      // a shared message (a committed datatype, say) holds a reference, not the message itself
      if (m.shared) throw new UnsupportedLayout(`${this.name}: object at ${addr}: shared ${what} message`);
      return m.body;
    };
    const { shape, max } = parseDataspace(new Cursor(one(MSG.dataspace, 'dataspace'), 0, `${this.name}: dataspace of object ${addr}`));
    const dt = one(MSG.datatype, 'datatype');
    if (dt.length < 8) throw new H5FormatError(`${this.name}: datatype of object ${addr} truncated`);
    const dtype = { cls: dt[0] & 0x0f, size: dt.readUInt32LE(4), littleEndian: (dt[1] & 1) === 0 };
    const fp = msgs.find((x) => x.type === MSG.filters);
    if (fp?.shared) throw new UnsupportedLayout(`${this.name}: object at ${addr}: shared filter pipeline message`);
    const filters = fp ? parseFilters(new Cursor(fp.body, 0, `${this.name}: filter pipeline of object ${addr}`)) : [];
    const lc = new Cursor(one(MSG.layout, 'layout'), 0, `${this.name}: layout of object ${addr}`);
    return { shape, dtype, filters, layout: this.layout(lc, shape, max, filters.length > 0) };
  }

  /** Messages of an object header (v1 or v2), continuation blocks followed. */
  private messages(addr: number): { type: number; body: Buffer; shared: boolean }[] {
    const out: { type: number; body: Buffer; shared: boolean }[] = [];
    const abs = this.base + addr;
    const first = this.r.read(abs, 16, `object header`);
    const blocks: { at: number; len: number }[] = [];
    let v2 = false;
    if (first.toString('latin1', 0, 4) === 'OHDR') {
      v2 = true;
      const flags = first[5];
      let p = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
      const sizeBytes = 1 << (flags & 3);
      const h = this.r.read(abs, p + sizeBytes, 'object header');
      const size = new Cursor(h, p, 'object header').uN(sizeBytes);
      p += sizeBytes;
      const whole = this.r.checked(abs, p + size + 4, 'OHDR', 'object header');
      this.walk(whole.subarray(p, p + size), flags, out, blocks);
    } else if (first[0] === 1) {
      const size = first.readUInt32LE(8);
      this.walk(this.r.read(abs + 16, size, 'object header'), 0, out, blocks, true);
    } else {
      throw new H5FormatError(`${this.name}: no object header at ${addr} (version ${first[0]})`);
    }
    const seen = new Set<number>();
    while (blocks.length) {
      const { at, len } = blocks.shift()!;
      if (seen.has(at) || seen.size >= MAX_HEADER_BLOCKS) throw new H5FormatError(`${this.name}: object header at ${addr}: continuation blocks loop`);
      seen.add(at);
      if (v2) {
        const b = this.r.checked(this.base + at, len, 'OCHK', 'object header continuation');
        this.walk(b.subarray(4, len - 4), first[5], out, blocks);
      } else this.walk(this.r.read(this.base + at, len, 'object header continuation'), 0, out, blocks, true);
    }
    return out;
  }

  private walk(b: Buffer, flags: number, out: { type: number; body: Buffer; shared: boolean }[], blocks: { at: number; len: number }[], v1 = false): void {
    const c = new Cursor(b, 0, `${this.name}: object header messages`);
    const prefix = v1 ? 8 : 4 + (flags & 0x04 ? 2 : 0);
    while (b.length - c.p >= prefix) {
      let type: number;
      let size: number;
      let mflags: number;
      if (v1) {
        type = c.u16();
        size = c.u16();
        mflags = c.u8();
        c.skip(3);
      } else {
        type = c.u8();
        size = c.u16();
        mflags = c.u8();
        c.skip(flags & 0x04 ? 2 : 0);
      }
      const start = c.p;
      c.skip(size);
      const body = b.subarray(start, start + size);
      if (type === MSG.continuation) {
        const cc = new Cursor(body, 0, `${this.name}: continuation message`);
        blocks.push({ at: cc.u64(), len: cc.u64() });
      } else out.push({ type, body, shared: (mflags & 0x02) !== 0 });
    }
  }

  private layout(c: Cursor, shape: number[], max: number[], filtered: boolean): DatasetInfo['layout'] {
    const version = c.u8();
    if (version === 3) {
      const cls = c.u8();
      if (cls !== 2) throw new UnsupportedLayout(`${this.name}: layout class ${cls} (not chunked)`);
      const dims = c.u8();
      const addr = c.u64();
      const chunk = Array.from({ length: dims }, () => c.u32()).slice(0, -1);
      this.checkRank(chunk, shape);
      return { kind: 'chunked', chunk, chunks: addr >= NO_ADDR ? [] : this.btree(addr, chunk.length) };
    }
    if (version !== 4) throw new UnsupportedLayout(`${this.name}: layout message version ${version}`);
    const cls = c.u8();
    if (cls === 3) return { kind: 'virtual', mappings: this.virtualMappings(c.u64(), c.u32()) };
    if (cls !== 2) throw new UnsupportedLayout(`${this.name}: layout class ${cls} (not chunked or virtual)`);
    const flags = c.u8();
    const dims = c.u8();
    const enc = c.u8();
    const all = Array.from({ length: dims }, () => c.uN(enc));
    const chunk = all.slice(0, -1);
    const chunkBytes = all.reduce((a, b) => a * b, 1);
    this.checkRank(chunk, shape);
    const type = c.u8();
    if (type === 1) {
      // single chunk: the whole dataset
      const size = flags & 2 ? c.u64() : 0;
      const mask = flags & 2 ? c.u32() : 0;
      const addr = c.u64();
      const chunks = addr >= NO_ADDR ? [] : [{ offset: chunk.map(() => 0), address: this.base + addr, size: flags & 2 ? size : chunkBytes, filterMask: mask }];
      return { kind: 'chunked', chunk, chunks };
    }
    if (type !== 3) throw new UnsupportedLayout(`${this.name}: chunk index type ${type} (Fixed Array and v1 B-tree are read)`);
    c.skip(1); // page bits: the header repeats them
    const addr = c.u64();
    return { kind: 'chunked', chunk, chunks: addr >= NO_ADDR ? [] : this.fixedArray(addr, chunk, chunkBytes, shape, max, filtered) };
  }

  private checkRank(chunk: number[], shape: number[]): void {
    if (chunk.length !== shape.length || chunk.some((d) => d < 1)) {
      throw new H5FormatError(`${this.name}: chunk dims [${chunk}] do not fit the dataspace [${shape}]`);
    }
  }

  /** Version-1 B-tree of raw-data chunks (node type 1): every leaf entry, in key order. */
  private btree(root: number, rank: number): ChunkLocation[] {
    const out: ChunkLocation[] = [];
    const keyBytes = 8 + 8 * (rank + 1);
    const seen = new Set<number>();
    const visit = (addr: number, expectLevel: number): void => {
      if (seen.has(addr)) throw new H5FormatError(`${this.name}: chunk B-tree node ${addr} is reached twice (a cycle)`);
      if (seen.size >= MAX_BTREE_NODES) throw new H5FormatError(`${this.name}: chunk B-tree has more than ${MAX_BTREE_NODES} nodes`);
      seen.add(addr);
      const head = this.r.read(this.base + addr, 24, 'chunk B-tree node');
      if (head.toString('latin1', 0, 4) !== 'TREE') throw new H5FormatError(`${this.name}: chunk B-tree node at ${addr}: no TREE signature`);
      if (head[4] !== 1) throw new H5FormatError(`${this.name}: B-tree node at ${addr} is of type ${head[4]}, not raw-data chunks`);
      const level = head[5];
      if (expectLevel >= 0 && level !== expectLevel) throw new H5FormatError(`${this.name}: chunk B-tree node at ${addr} has level ${level}, expected ${expectLevel}`);
      const used = head.readUInt16LE(6);
      const body = this.r.read(this.base + addr + 24, used * (keyBytes + 8) + keyBytes, 'chunk B-tree node');
      const c = new Cursor(body, 0, `${this.name}: chunk B-tree node ${addr}`);
      for (let i = 0; i < used; i++) {
        const size = c.u32();
        const mask = c.u32();
        const offset = Array.from({ length: rank }, () => c.u64());
        c.skip(8); // the element-size dimension, always 0
        const child = c.u64();
        if (level === 0) {
          if (out.length >= MAX_CHUNKS) throw new H5FormatError(`${this.name}: more than ${MAX_CHUNKS} chunks`);
          out.push({ offset, address: this.base + child, size, filterMask: mask });
        } else visit(child, level - 1);
      }
    };
    visit(root, -1);
    return out;
  }

  /** Fixed Array index (FAHD + FADB, paged or not): the allocated chunks of the grid over the dataset's (max) extent. */
  private fixedArray(addr: number, chunk: number[], chunkBytes: number, shape: number[], max: number[], filtered: boolean): ChunkLocation[] {
    const hb = this.r.checked(this.base + addr, 28, 'FAHD', 'Fixed Array header');
    const hc = new Cursor(hb, 4, `${this.name}: Fixed Array header`);
    hc.skip(1); // version
    const client = hc.u8();
    const entrySize = hc.u8();
    const pageBits = hc.u8();
    const n = hc.u64();
    const dblk = hc.u64();
    if ((client === 1) !== filtered) throw new H5FormatError(`${this.name}: Fixed Array client ${client} does not match the filter pipeline`);
    const csl = entrySize - 12;
    if (filtered ? csl < 1 || csl > 8 : entrySize !== 8) throw new H5FormatError(`${this.name}: Fixed Array entry size ${entrySize}`);
    if (n > MAX_CHUNKS) throw new H5FormatError(`${this.name}: Fixed Array of ${n} entries`);
    // the grid over the maximum dimensions, row-major (the library's max_down_chunks; our writer's maxShape)
    const grid = chunk.map((c, d) => Math.ceil(max[d] / c));
    const cells = grid.reduce((a, b) => a * b, 1);
    if (cells !== n) throw new H5FormatError(`${this.name}: Fixed Array of ${n} entries for a chunk grid of [${grid}]`);
    const pageN = 2 ** pageBits;
    const paged = n > pageN;
    const npages = paged ? Math.ceil(n / pageN) : 0;
    const bitmap = Math.ceil(npages / 8);
    const prefix = 4 + 1 + 1 + 8 + bitmap;
    const entries = (first: number, count: number, b: Buffer, at: number, into: ChunkLocation[]): void => {
      const c = new Cursor(b, at, `${this.name}: Fixed Array entries`);
      for (let i = first; i < first + count; i++) {
        const a = c.u64();
        const size = filtered ? c.uN(csl) : 0;
        const mask = filtered ? c.u32() : 0;
        if (a >= NO_ADDR) continue;
        let rest = i;
        const offset = new Array<number>(grid.length);
        for (let d = grid.length - 1; d >= 0; d--) {
          offset[d] = (rest % grid[d]) * chunk[d];
          rest = Math.floor(rest / grid[d]);
        }
        if (offset.some((o, d) => o >= shape[d])) continue;
        into.push({ offset, address: this.base + a, size: filtered ? size : chunkBytes, filterMask: mask });
      }
    };
    const out: ChunkLocation[] = [];
    if (!paged) {
      const b = this.r.checked(this.base + dblk, prefix + n * entrySize + 4, 'FADB', 'Fixed Array data block');
      entries(0, n, b, prefix, out);
      return out;
    }
    const pre = this.r.checked(this.base + dblk, prefix + 4, 'FADB', 'Fixed Array data block');
    let at = this.base + dblk + prefix + 4;
    for (let p = 0; p < npages; p++) {
      const count = Math.min(pageN, n - p * pageN);
      const len = count * entrySize + 4;
      if (pre[prefix - bitmap + (p >> 3)] & (0x80 >> (p & 7))) {
        const b = this.r.read(at, len, 'Fixed Array page');
        if (lookup3(b.subarray(0, len - 4)) !== b.readUInt32LE(len - 4)) throw new H5FormatError(`${this.name}: Fixed Array page ${p} at ${at}: checksum mismatch`);
        entries(p * pageN, count, b, 0, out);
      }
      at += len;
    }
    return out;
  }

  /** The mapping list of a virtual dataset (global heap object, encoding version 0). */
  private virtualMappings(heap: number, index: number): VirtualMapping[] {
    const head = this.r.read(this.base + heap, 16, 'global heap collection');
    if (head.toString('latin1', 0, 4) !== 'GCOL') throw new H5FormatError(`${this.name}: global heap at ${heap}: no GCOL signature`);
    const size = new Cursor(head, 8, 'global heap').u64();
    const col = this.r.read(this.base + heap, size, 'global heap collection');
    const c = new Cursor(col, 16, `${this.name}: global heap collection ${heap}`);
    let obj: Buffer | null = null;
    while (col.length - c.p >= 16) {
      const id = c.u16();
      c.skip(6);
      const len = c.u64();
      if (id === 0) break; // free space
      const at = c.p;
      c.skip(Math.min(Math.ceil(len / 8) * 8, Math.max(len, col.length - c.p))); // data padded to 8 bytes
      if (id === index) {
        obj = col.subarray(at, at + len);
        break;
      }
    }
    if (!obj) throw new H5FormatError(`${this.name}: global heap ${heap} has no object ${index} (the virtual dataset's mappings)`);
    const m = new Cursor(obj, 0, `${this.name}: virtual dataset mappings`);
    const version = m.u8();
    if (version !== 0) throw new UnsupportedLayout(`${this.name}: virtual dataset mapping encoding version ${version}`);
    const n = m.u64();
    if (n > MAX_MAPPINGS) throw new H5FormatError(`${this.name}: ${n} virtual dataset mappings`);
    const out: VirtualMapping[] = [];
    for (let i = 0; i < n; i++) {
      const file = m.cstring();
      const dataset = m.cstring();
      const src = parseSelection(m);
      const dst = parseSelection(m);
      out.push({ file, dataset, src, dst });
    }
    return out;
  }
}

/** dims and max dims (unlimited: Infinity; no max dims stored: the dims) */
function parseDataspace(c: Cursor): { shape: number[]; max: number[] } {
  const version = c.u8();
  const rank = c.u8();
  const flags = c.u8();
  if (version === 1) c.skip(5);
  else if (version === 2) c.u8();
  else throw new UnsupportedLayout(`dataspace version ${version}`);
  const shape = Array.from({ length: rank }, () => c.u64());
  const max = flags & 1 ? Array.from({ length: rank }, () => c.u64()).map((m) => (m >= 2 ** 53 ? Infinity : m)) : shape;
  return { shape, max };
}

function parseFilters(c: Cursor): FilterInfo[] {
  const version = c.u8();
  const n = c.u8();
  if (version === 1) c.skip(6);
  else if (version !== 2) throw new UnsupportedLayout(`filter pipeline version ${version}`);
  const out: FilterInfo[] = [];
  for (let i = 0; i < n; i++) {
    const id = c.u16();
    const nameLen = version === 1 || id >= 256 ? c.u16() : 0;
    c.u16(); // flags
    const ncd = c.u16();
    c.skip(version === 1 ? Math.ceil(nameLen / 8) * 8 : nameLen);
    const cdValues = Array.from({ length: ncd }, () => c.u32());
    if (version === 1 && ncd % 2) c.skip(4);
    out.push({ id, cdValues });
  }
  return out;
}

/** A serialized selection (H5S_select_serialize): "all", hyperslab versions 1–3, regular or as blocks. */
function parseSelection(c: Cursor): Selection {
  const type = c.u32();
  const version = c.u32();
  if (type === 3) {
    c.skip(8); // reserved, length
    return null;
  }
  if (type !== 2) throw new UnsupportedLayout(`virtual dataset selection of type ${type} (hyperslabs and "all" are read)`);
  const blockList = (rank: number, n: number, enc: number): Selection => {
    const blocks: { start: number[]; end: number[] }[] = [];
    for (let i = 0; i < n; i++) {
      // each read is bounded by the heap object: a bogus count ends in a format error
      blocks.push({ start: Array.from({ length: rank }, () => c.uN(enc)), end: Array.from({ length: rank }, () => c.uN(enc)) });
    }
    return { blocks };
  };
  if (version === 1) {
    c.skip(8); // reserved, length
    const rank = c.u32();
    return blockList(rank, c.u32(), 4);
  }
  const flags = c.u8();
  let enc = 8;
  if (version === 2) c.u32(); // length
  else if (version === 3) enc = c.u8();
  else throw new UnsupportedLayout(`hyperslab selection version ${version}`);
  const rank = c.u32();
  if (!(flags & 1)) {
    if (version === 2) throw new H5FormatError('hyperslab selection version 2 that is not regular');
    return blockList(rank, c.uN(enc), enc);
  }
  const s: Slab = { start: [], stride: [], count: [], block: [] };
  for (let d = 0; d < rank; d++) {
    s.start.push(c.uN(enc));
    s.stride.push(c.uN(enc));
    s.count.push(c.uN(enc));
    s.block.push(c.uN(enc));
  }
  if (s.count.some((v) => v >= 2 ** 32 && v >= 2 ** (8 * enc) - 1)) throw new UnsupportedLayout('unlimited virtual dataset mapping');
  return s;
}
