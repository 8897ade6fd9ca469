/**
 * One writer's file series: frames appended in the order they come, one
 * compressed chunk per frame, `nb_frames_per_file` frames per file, files
 * named `{prefix}_{rank}_{file:05d}.h5`. Runs in a writer thread; every
 * file is flushed every `flushInterval` seconds, so a killed server leaves
 * readable files holding what was flushed.
 */
import { join } from 'node:path';
import type { TypedArray } from '../protocol/index.js';
import type { H5Writer, H5ChunkedDataset, Filter } from './hdf5/index.js';
import { BSLZ4_FILTER_ID, bslz4Compress, bslz4Decompress, bslz4FilterCdValues, bslz4MaxCompressedSize, deflateChunk } from './codec/index.js';
import { h5dtype } from './dtypes.js';
import { dataFileName } from './params.js';
import { createH5 } from './files.js';
import type { SavedFrame, SeriesConfig } from './messages.js';
import { directChunk, type CompressedChunk } from './direct-chunk.js';

export class FrameSeries {
  private file: H5Writer | null = null;
  private data: H5ChunkedDataset | null = null;
  private fileNumber: number;
  private inFile = 0;
  private lastFlush = performance.now();
  private readonly scratch: Uint8Array | null;
  private readonly elemSize: number;
  readonly frameBytes: number;
  saved = 0;
  /** frames written as the detector's compressed chunk, not re-encoded */
  direct = 0;

  constructor(
    private readonly cfg: SeriesConfig,
    private readonly onOpen: (path: string, file: number) => void,
    /** a flush made frames 0…count−1 of file `file` (and every earlier file) durable */
    private readonly onFlush: (file: number, count: number) => void = () => {},
  ) {
    this.fileNumber = cfg.startNumber;
    this.elemSize = h5dtype(cfg.dtype).size;
    this.frameBytes = cfg.shape.reduce((a, b) => a * b, 1) * this.elemSize;
    this.scratch = cfg.compression === 'bslz4' ? new Uint8Array(bslz4MaxCompressedSize(this.frameBytes, this.elemSize)) : null;
  }

  private filters(): Filter[] {
    switch (this.cfg.compression) {
      case 'bslz4':
        return [{ id: BSLZ4_FILTER_ID, name: 'bitshuffle; see https://github.com/kiyo-masui/bitshuffle', cdValues: bslz4FilterCdValues(this.elemSize) }];
      case 'gzip':
        return [{ id: 1, name: 'deflate', cdValues: [this.cfg.compressionLevel] }];
      default:
        return [];
    }
  }

  private open(): void {
    const c = this.cfg;
    const path = join(c.folder, dataFileName(c.prefix, c.rank, this.fileNumber));
    // the policy holds for every file, also those that appear after prepare; never through a link
    const f = createH5(path, c.policy);
    f.root.attrs({ NX_class: 'NXroot', default: c.entry, creator: 'daqlab', file_name: dataFileName(c.prefix, c.rank, this.fileNumber) });
    const entry = f.root.group(c.entry, { NX_class: 'NXentry', default: 'data', ...c.entryAttrs });
    const det = entry.group(c.instrument, { NX_class: 'NXinstrument' }).group(c.detector, { NX_class: 'NXdetector' });
    this.data = det.chunked('data', {
      dtype: h5dtype(c.dtype).code,
      shape: [0, ...c.shape],
      maxShape: [c.nbFramesPerFile, ...c.shape],
      chunk: [1, ...c.shape],
      filters: this.filters(),
      attrs: { interpretation: 'image', writer_rank: c.rank },
    });
    const plot = entry.group('data', { NX_class: 'NXdata', signal: 'data' });
    plot.softLink('data', `/${c.entry}/${c.instrument}/${c.detector}/data`);
    f.flush();
    this.file = f;
    this.inFile = 0;
    this.onOpen(path, this.fileNumber);
  }

  /** Compress and write one frame (or write `chunk`, the detector's compression of it, when it fits); returns where it went. */
  write(seq: number, frame: TypedArray | null, chunk?: CompressedChunk): SavedFrame {
    if (!this.file || this.inFile >= this.cfg.nbFramesPerFile) {
      if (this.file) this.closeFile();
      this.open();
    }
    let bytes: Uint8Array;
    const kept = directChunk(chunk, this.cfg.compression, this.elemSize, this.frameBytes);
    const raw = kept ? null : this.pixels(frame, chunk);
    if (kept) {
      bytes = kept;
      this.direct++;
    } else if (this.cfg.compression === 'bslz4') bytes = this.scratch!.subarray(0, bslz4Compress(raw!, this.elemSize, this.scratch!));
    else if (this.cfg.compression === 'gzip') bytes = deflateChunk(raw!, this.cfg.compressionLevel);
    else bytes = raw!;
    const index = this.inFile;
    const loc = this.data!.writeChunk([index, ...this.cfg.shape.map(() => 0)], bytes);
    this.inFile++;
    this.saved++;
    return { seq, file: this.fileNumber, index, address: loc.address, size: loc.size };
  }

  /** The frame's bytes: its pixels, or its never-decoded chunk decoded here (off the main thread). */
  private pixels(frame: TypedArray | null, chunk: CompressedChunk | undefined): Uint8Array {
    if (frame) return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
    const out = new Uint8Array(this.frameBytes);
    if (!chunk) throw new Error('a frame came with neither pixels nor a compressed chunk');
    // a chunk that does not decode to the whole frame leaves zeros: the frame was flagged when it was received
    try {
      bslz4Decompress(chunk.bytes, chunk.elemSize, out);
    } catch {
      /* keep what decoded */
    }
    return out;
  }

  /** Flush when the interval has passed (or when forced). */
  maybeFlush(force = false): void {
    if (!this.file) return;
    const t = performance.now();
    if (force || t - this.lastFlush >= this.cfg.flushInterval * 1000) {
      this.file.flush();
      this.lastFlush = t;
      this.onFlush(this.fileNumber, this.inFile);
    }
  }

  private closeFile(): void {
    const f = this.file;
    this.file = null;
    this.data = null;
    if (f) {
      f.close();
      this.onFlush(this.fileNumber, this.inFile);
    }
    this.fileNumber++;
  }

  close(): void {
    this.closeFile();
  }
}
