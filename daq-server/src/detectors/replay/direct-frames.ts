/**
 * Saved frames read without the HDF5 library's filter: where each frame's
 * chunk lies is read once from the files' chunk indexes (through the
 * master's virtual dataset when it has one), then a frame is one positional
 * read of its compressed bytes and one decode by our WebAssembly bitshuffle +
 * LZ4 decoder, in whatever thread calls `read` (the replay's reader threads).
 *
 * Taken where every frame is a chunk of its own ([1, rows, cols]), stored
 * raw or with filter 32008 (bitshuffle + LZ4) alone, little-endian: what our
 * writer, DECTRIS detectors and h5py + hdf5plugin write for area detectors.
 * `open` returns null for anything else (the caller reads through the
 * library), and `read` returns false for a frame no mapping or no allocated
 * chunk holds (the library then gives its fill value).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { Bslz4Error, defaultCodec } from '../../saving/codec/bslz4.js';
import { H5File, H5FormatError, UnsupportedLayout, type DatasetInfo, type Selection } from '../../saving/hdf5/chunk-index-reader.js';

const BSLZ4 = 32008;
const BSHUF_LZ4 = 2;

/** The object header address of `dataset` in `file` (the HDF5 library resolves the path), or null when there is none. */
export type AddressOf = (file: string, dataset: string) => number | null;

/** Data files kept open at once by one reader (a scan of thousands of small files stays under the fd limit). */
const OPEN_FILES = 64;

interface Source {
  path: string;
  /** −1 when closed (opened again on demand) */
  fd: number;
  /** true: chunks are bitshuffle + LZ4 (unless their filter mask says the filter was skipped) */
  bslz4: boolean;
}

export class DirectFrames {
  /** per frame: index into `sources`, −1 when not read directly */
  private readonly src: Int32Array;
  private readonly addr: Float64Array;
  private readonly size: Float64Array;
  private readonly mask: Uint32Array;
  private buf = Buffer.alloc(0);
  /** sources with an open descriptor, oldest first */
  private readonly open: Source[] = [];

  private constructor(
    private readonly sources: Source[],
    nbFrames: number,
    private readonly frameBytes: number,
    private readonly elemSize: number,
  ) {
    this.src = new Int32Array(nbFrames).fill(-1);
    this.addr = new Float64Array(nbFrames);
    this.size = new Float64Array(nbFrames);
    this.mask = new Uint32Array(nbFrames);
  }

  /** frames read directly (the others go through the library) */
  get direct(): number {
    return this.src.reduce((n, s) => n + (s >= 0 ? 1 : 0), 0);
  }

  /**
   * The frames of the dataset at object header `dataAddr` of `master`
   * ([nbFrames, ...frameShape] of `elemSize`-byte little-endian elements of
   * HDF5 class `cls`). Null when its layout is not one read here. A damaged
   * chunk index or mapping list is an `H5FormatError`.
   */
  static open(master: string, dataAddr: number, frame: { nbFrames: number; shape: number[]; elemSize: number; cls: number }, addressOf: AddressOf): DirectFrames | null {
    const files = new Map<string, { fd: number; h5: H5File }>();
    const fileOf = (path: string): { fd: number; h5: H5File } => {
      let f = files.get(path);
      if (!f) {
        const fd = openSync(path, 'r');
        try {
          f = { fd, h5: new H5File(fd, path) };
        } catch (err) {
          closeSync(fd);
          throw err;
        }
        files.set(path, f);
      }
      return f;
    };
    const frameElems = frame.shape.reduce((a, b) => a * b, 1);
    const sources: Source[] = [];
    const sourceIndex = new Map<string, number>();
    let out: DirectFrames;
    try {
      const m = fileOf(master);
      const info = m.h5.dataset(dataAddr);
      out = new DirectFrames(sources, frame.nbFrames, frameElems * frame.elemSize, frame.elemSize);
      const take = (path: string, ds: DatasetInfo, dst: number[], src: number[]): boolean => {
        if (ds.layout.kind !== 'chunked') return false;
        const { chunk, chunks } = ds.layout;
        const { dtype, filters } = ds;
        if (dtype.size !== frame.elemSize || dtype.cls !== frame.cls || !dtype.littleEndian) return false;
        if (chunk.length !== frame.shape.length + 1 || chunk[0] !== 1 || chunk.slice(1).some((c, d) => c !== frame.shape[d])) return false;
        if (ds.shape.slice(1).some((s, d) => s !== frame.shape[d])) return false;
        const bslz4 = filters.length === 1 && filters[0].id === BSLZ4 && filters[0].cdValues[4] === BSHUF_LZ4;
        if (filters.length && !bslz4) return false;
        let s = sourceIndex.get(path);
        if (s === undefined) {
          s = sources.length;
          sources.push({ path, fd: -1, bslz4 });
          sourceIndex.set(path, s);
        }
        const byFrame = new Map<number, number>();
        chunks.forEach((c, i) => byFrame.set(c.offset[0], i));
        for (let i = 0; i < dst.length; i++) {
          const c = byFrame.get(src[i]);
          if (c === undefined) continue;
          const loc = chunks[c];
          out.src[dst[i]] = s;
          out.addr[dst[i]] = loc.address;
          out.size[dst[i]] = loc.size;
          out.mask[dst[i]] = loc.filterMask;
        }
        return true;
      };
      if (info.layout.kind === 'chunked') {
        const all = Array.from({ length: Math.min(frame.nbFrames, info.shape[0]) }, (_, k) => k);
        if (!take(master, info, all, all)) throw new UnsupportedLayout(`${master}: frames are not one chunk each`);
      } else {
        for (const map of info.layout.mappings) {
          const path = map.file === '.' ? master : isAbsolute(map.file) ? map.file : join(dirname(master), map.file);
          const addr = addressOf(path, map.dataset);
          if (addr === null) continue; // the library reads it as fill values
          const ds = fileOf(path).h5.dataset(addr);
          const dst = framesOf(map.dst, frame.nbFrames, frame.shape);
          const src = framesOf(map.src, ds.shape[0], frame.shape);
          if (!dst || !src) throw new UnsupportedLayout(`${master}: a virtual dataset mapping that cuts frames`);
          const n = Math.min(dst.length, src.length); // equal but where the extent cut one
          if (!take(path, ds, dst.slice(0, n), src.slice(0, n))) throw new UnsupportedLayout(`${path}: frames are not one chunk each`);
          if (path !== master) {
            // one data file open at a time while indexing: reads open them again on demand
            closeSync(files.get(path)!.fd);
            files.delete(path);
          }
        }
      }
      if (!sources.length) throw new UnsupportedLayout(`${master}: no frame is read directly`);
      return out;
    } catch (err) {
      if (err instanceof UnsupportedLayout) return null;
      throw err;
    } finally {
      for (const f of files.values()) closeSync(f.fd);
    }
  }

  /**
   * Frame `k` into `out` (its frameBytes bytes); false when it is not read
   * directly. A chunk that does not decode to the frame is an error naming the file.
   */
  read(k: number, out: Uint8Array): boolean {
    const s = this.src[k];
    if (s < 0) return false;
    const src = this.sources[s];
    const fd = this.fdOf(src);
    const size = this.size[k];
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(Math.max(size, Math.ceil(this.buf.length * 1.25)));
    const chunk = this.buf.subarray(0, size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, chunk, got, size - got, this.addr[k] + got);
      if (n <= 0) throw new H5FormatError(`${src.path}: frame ${k}: chunk at ${this.addr[k]} (${size} bytes) lies beyond the end of the file`);
      got += n;
    }
    if (!src.bslz4 || this.mask[k] & 1) {
      if (size !== this.frameBytes) throw new H5FormatError(`${src.path}: frame ${k}: raw chunk of ${size} bytes, the frame has ${this.frameBytes}`);
      out.set(chunk);
      return true;
    }
    try {
      const n = defaultCodec().decompress(chunk, this.elemSize, out);
      if (n !== this.frameBytes) throw new Bslz4Error(`the chunk holds ${n} bytes, the frame has ${this.frameBytes}`);
    } catch (err) {
      if (err instanceof Bslz4Error || err instanceof RangeError) throw new H5FormatError(`${src.path}: frame ${k}: ${err.message}`);
      throw err;
    }
    return true;
  }

  /** the file's descriptor, opened on demand; the least recently opened is closed beyond OPEN_FILES */
  private fdOf(src: Source): number {
    if (src.fd >= 0) return src.fd;
    if (this.open.length >= OPEN_FILES) {
      const old = this.open.shift()!;
      closeSync(old.fd);
      old.fd = -1;
    }
    src.fd = openSync(src.path, 'r');
    this.open.push(src);
    return src.fd;
  }

  close(): void {
    for (const s of this.open) closeSync(s.fd);
    for (const s of this.sources) s.fd = -1;
    this.open.length = 0;
    this.src.fill(-1);
  }
}

/**
 * The frame indexes (first dimension) a selection picks, in selection order,
 * when it takes whole frames of `shape`; null when it cuts frames.
 * Indexes at or beyond `limit` end the list (the selection is bounded by the extent).
 */
function framesOf(sel: Selection, limit: number, shape: number[]): number[] | null {
  if (!sel) return Array.from({ length: limit }, (_, k) => k);
  if ('blocks' in sel) {
    // whole frames each; the library visits the points in index order, so the blocks are taken by first index
    const blocks = [...sel.blocks].sort((a, b) => a.start[0] - b.start[0]);
    const out: number[] = [];
    for (const b of blocks) {
      if (b.start.length !== shape.length + 1 || shape.some((s, d) => b.start[d + 1] !== 0 || b.end[d + 1] !== s - 1)) return null;
      for (let k = b.start[0]; k <= b.end[0]; k++) {
        if (k >= limit) return out;
        out.push(k);
      }
    }
    return out;
  }
  const slab = sel;
  if (slab.start.length !== shape.length + 1) return null;
  for (let d = 1; d <= shape.length; d++) {
    const whole = slab.start[d] === 0 && ((slab.count[d] === 1 && slab.block[d] === shape[d - 1]) || (slab.block[d] === 1 && slab.stride[d] === 1 && slab.count[d] === shape[d - 1]));
    if (!whole) return null;
  }
  const out: number[] = [];
  const { start, stride, count, block } = slab;
  for (let i = 0; i < count[0]; i++) {
    for (let j = 0; j < block[0]; j++) {
      const k = start[0] + i * stride[0] + j;
      if (k >= limit) return out;
      out.push(k);
    }
  }
  return out;
}
