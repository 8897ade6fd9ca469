/**
 * Chunk indexes: Fixed Array (layout v4, index type 3) for datasets without
 * unlimited dimensions, version-1 B-tree (layout v3) for datasets with an
 * unlimited dimension. Both keep the index in memory and, on flush, emit only
 * the blocks that changed since the previous flush.
 */
import { lookup3 } from './checksum.js';
import { ByteWriter, UNDEF, writeU64 } from './encode.js';

export interface MetaWrite {
  addr: number;
  buf: Buffer;
  /** true when these bytes have never been written (the block lies in new space) */
  fresh: boolean;
}

export type Allocator = (size: number) => number;

export interface ChunkIndex {
  /** address the layout message points at (UNDEF when none yet) */
  readonly address: number;
  set(scaled: number[], addr: number, size: number, mask: number): void;
  /** emit changed blocks; returns true when `address` changed */
  collect(out: MetaWrite[], alloc: Allocator): boolean;
}

function withChecksum(w: ByteWriter): Buffer {
  const body = w.result();
  const out = Buffer.alloc(body.length + 4);
  body.copy(out);
  out.writeUInt32LE(lookup3(body), body.length);
  return out;
}

// ---------------------------------------------------------------------------

export const FA_PAGE_BITS = 10;

/** size in bytes of the chunk-size field of filtered entries (H5D_FARRAY_FILT_COMPUTE_CHUNK_SIZE_LEN) */
export function chunkSizeLen(chunkBytes: number): number {
  const log2 = Math.floor(Math.log2(Math.max(1, chunkBytes)));
  return Math.min(8, 1 + Math.floor((log2 + 8) / 8));
}

export class FixedArrayIndex implements ChunkIndex {
  readonly address: number;
  private readonly dblkAddr: number;
  private readonly entrySize: number;
  private readonly csl: number;
  private readonly pageN: number;
  private readonly npages: number;
  private readonly prefixSize: number;
  private readonly addrs: Float64Array;
  private readonly sizes: Float64Array;
  private readonly masks: Uint32Array;
  private readonly pageInit: Uint8Array;
  private readonly pageWritten: Uint8Array;
  private readonly dirtyPages = new Set<number>();
  private hdrWritten = false;
  private dblkWritten = false;
  private dblkDirty = true;

  constructor(
    readonly nelmts: number,
    readonly filtered: boolean,
    chunkBytes: number,
    readonly downChunks: number[], // linear index strides over max-dims chunk grid
    alloc: Allocator,
  ) {
    this.csl = filtered ? chunkSizeLen(chunkBytes) : 0;
    this.entrySize = filtered ? 8 + this.csl + 4 : 8;
    this.pageN = 2 ** FA_PAGE_BITS;
    this.npages = nelmts > this.pageN ? Math.ceil(nelmts / this.pageN) : 0;
    this.prefixSize = 4 + 1 + 1 + 8 + Math.ceil(this.npages / 8) + 4;
    this.addrs = new Float64Array(nelmts).fill(UNDEF);
    this.sizes = new Float64Array(filtered ? nelmts : 0);
    this.masks = new Uint32Array(filtered ? nelmts : 0);
    this.pageInit = new Uint8Array(Math.ceil(this.npages / 8));
    this.pageWritten = new Uint8Array(this.npages);
    this.address = alloc(28);
    let dsize: number;
    if (this.npages === 0) dsize = this.prefixSize + nelmts * this.entrySize;
    else dsize = this.prefixSize + nelmts * this.entrySize + 4 * this.npages;
    this.dblkAddr = alloc(dsize);
  }

  private get clientId(): number {
    return this.filtered ? 1 : 0;
  }

  set(scaled: number[], addr: number, size: number, mask: number): void {
    let idx = 0;
    for (let d = 0; d < scaled.length; d++) idx += scaled[d] * this.downChunks[d];
    if (idx >= this.nelmts) throw new RangeError('chunk index out of range');
    this.addrs[idx] = addr;
    if (this.filtered) {
      this.sizes[idx] = size;
      this.masks[idx] = mask >>> 0;
    }
    if (this.npages === 0) this.dblkDirty = true;
    else {
      const p = Math.floor(idx / this.pageN);
      this.dirtyPages.add(p);
      if (!(this.pageInit[p >> 3] & (0x80 >> (p & 7)))) {
        this.pageInit[p >> 3] |= 0x80 >> (p & 7);
        this.dblkDirty = true;
      }
    }
  }

  private encodeEntries(w: ByteWriter, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      w.addr(this.addrs[i]);
      if (this.filtered) {
        w.uN(this.addrs[i] === UNDEF ? 0 : this.sizes[i], this.csl);
        w.u32(this.addrs[i] === UNDEF ? 0 : this.masks[i]);
      }
    }
  }

  collect(out: MetaWrite[]): boolean {
    if (!this.hdrWritten) {
      const w = new ByteWriter(32);
      w.bytes(Buffer.from('FAHD', 'latin1')).u8(0).u8(this.clientId).u8(this.entrySize).u8(FA_PAGE_BITS);
      w.u64(this.nelmts).addr(this.dblkAddr);
      out.push({ addr: this.address, buf: withChecksum(w), fresh: true });
      this.hdrWritten = true;
    }
    const prefix = (): ByteWriter => {
      const w = new ByteWriter(this.prefixSize + (this.npages ? 0 : this.nelmts * this.entrySize));
      w.bytes(Buffer.from('FADB', 'latin1')).u8(0).u8(this.clientId).addr(this.address);
      if (this.npages) w.bytes(this.pageInit);
      return w;
    };
    if (this.npages === 0) {
      if (this.dblkDirty) {
        const w = prefix();
        this.encodeEntries(w, 0, this.nelmts);
        out.push({ addr: this.dblkAddr, buf: withChecksum(w), fresh: !this.dblkWritten });
        this.dblkWritten = true;
        this.dblkDirty = false;
      }
      return false;
    }
    const pageSize = this.pageN * this.entrySize + 4;
    for (const p of [...this.dirtyPages].sort((a, b) => a - b)) {
      const from = p * this.pageN;
      const to = Math.min(this.nelmts, from + this.pageN);
      const w = new ByteWriter((to - from) * this.entrySize + 4);
      this.encodeEntries(w, from, to);
      out.push({ addr: this.dblkAddr + this.prefixSize + p * pageSize, buf: withChecksum(w), fresh: !this.pageWritten[p] });
      this.pageWritten[p] = 1;
    }
    this.dirtyPages.clear();
    if (this.dblkDirty || !this.dblkWritten) {
      out.push({ addr: this.dblkAddr, buf: withChecksum(prefix()), fresh: !this.dblkWritten });
      this.dblkWritten = true;
      this.dblkDirty = false;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------

const BT_K = 32; // HDF5_BTREE_CHUNK_IK_DEF: the default for files without a superblock extension
const BT_FAN = 2 * BT_K;

interface Rec {
  s: number[];
  addr: number;
  size: number;
  mask: number;
}

function cmpScaled(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

export class BTreeIndex implements ChunkIndex {
  private readonly recs: Rec[] = [];
  private readonly levels: number[][] = []; // node addresses per level (0 = leaves)
  private readonly written: number[] = []; // nodes per level already written once
  private dirtyFrom = Infinity;
  private root = UNDEF;
  private readonly keySize: number;
  private readonly nodeSize: number;

  constructor(readonly chunk: readonly number[], readonly elemSize: number) {
    this.keySize = 8 + 8 * (chunk.length + 1);
    this.nodeSize = 24 + (BT_FAN + 1) * this.keySize + BT_FAN * 8;
  }

  get address(): number {
    return this.root;
  }

  get count(): number {
    return this.recs.length;
  }

  set(scaled: number[], addr: number, size: number, mask: number): void {
    const rec: Rec = { s: scaled, addr, size, mask: mask >>> 0 };
    const n = this.recs.length;
    if (n === 0 || cmpScaled(scaled, this.recs[n - 1].s) > 0) {
      this.recs.push(rec);
      if (n < this.dirtyFrom) this.dirtyFrom = n;
      return;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmpScaled(this.recs[mid].s, scaled) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo < n && cmpScaled(this.recs[lo].s, scaled) === 0) this.recs[lo] = rec;
    else this.recs.splice(lo, 0, rec);
    if (lo < this.dirtyFrom) this.dirtyFrom = lo;
  }

  private key(w: ByteWriter, r: Rec): void {
    w.u32(r.size).u32(r.mask);
    for (let d = 0; d < this.chunk.length; d++) w.u64(r.s[d] * this.chunk[d]);
    w.u64(0);
  }

  private endKey(w: ByteWriter): void {
    const r = this.recs[this.recs.length - 1];
    w.u32(0).u32(0);
    for (let d = 0; d < this.chunk.length; d++) w.u64((r.s[d] + 1) * this.chunk[d]);
    w.u64(this.elemSize);
  }

  collect(out: MetaWrite[], alloc: Allocator): boolean {
    const n = this.recs.length;
    if (this.dirtyFrom === Infinity || n === 0) return false;
    // node counts per level
    const counts: number[] = [];
    let c = Math.ceil(n / BT_FAN);
    counts.push(c);
    while (c > 1) {
      c = Math.ceil(c / BT_FAN);
      counts.push(c);
    }
    for (let l = 0; l < counts.length; l++) {
      if (!this.levels[l]) {
        this.levels[l] = [];
        this.written[l] = 0;
      }
      while (this.levels[l].length < counts[l]) this.levels[l].push(alloc(this.nodeSize));
    }
    let start = Math.max(0, Math.floor(this.dirtyFrom / BT_FAN) - 1);
    let span = 1; // records covered by one node below this level's children
    for (let l = 0; l < counts.length; l++) {
      if (l > 0) start = Math.max(0, Math.floor(start / BT_FAN) - 1);
      const perNode = span * BT_FAN; // records covered by one node of this level
      for (let i = start; i < counts[l]; i++) {
        const w = new ByteWriter(this.nodeSize);
        const childCount = l === 0 ? Math.min(BT_FAN, n - i * BT_FAN) : Math.min(BT_FAN, counts[l - 1] - i * BT_FAN);
        w.bytes(Buffer.from('TREE', 'latin1')).u8(1).u8(l).u16(childCount);
        w.addr(i > 0 ? this.levels[l][i - 1] : UNDEF);
        w.addr(i + 1 < counts[l] ? this.levels[l][i + 1] : UNDEF);
        for (let j = 0; j < childCount; j++) {
          const firstRec = i * perNode + j * span;
          this.key(w, this.recs[firstRec]);
          w.addr(l === 0 ? this.recs[firstRec].addr : this.levels[l - 1][i * BT_FAN + j]);
        }
        const nextFirst = (i + 1) * perNode;
        if (nextFirst < n) this.key(w, this.recs[nextFirst]);
        else this.endKey(w);
        const buf = Buffer.alloc(this.nodeSize);
        w.result().copy(buf);
        out.push({ addr: this.levels[l][i], buf, fresh: i >= this.written[l] });
      }
      this.written[l] = Math.max(this.written[l], counts[l]);
      span = perNode;
    }
    this.dirtyFrom = Infinity;
    const root = this.levels[counts.length - 1][0];
    const changed = root !== this.root;
    this.root = root;
    return changed;
  }
}

export { writeU64 };
