/**
 * Frames of a series: frame k is frame k of the daqlab simulator the
 * model maps onto, opened once with the scene configuration given on the
 * command line (same plugin, same validated configuration, same seed), so
 * it equals what the built-in simulator hands its receivers.
 *
 * Encoded frames (compressed, with their MD5 for stream v1) are kept per
 * pool slot: replaying a pool then costs nothing per image. Frames with
 * lost packets, and every frame when pool_size is 0, are encoded each time.
 */
import { createHash } from 'node:crypto';
import { simulatorPlugins } from '../detectors/sim/index.js';
import type { SimRun } from '../detectors/sim/run.js';
import { bslz4Compress, bslz4MaxCompressedSize } from '../saving/codec/bslz4.js';
import { lz4CompressBlock, lz4CompressBound } from '../saving/codec/lz4.js';
import type { DetectorModel } from './models.js';

/** SIMPLON detector/config/compression. */
export const COMPRESSIONS = ['bslz4', 'lz4', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** HDF5 LZ4 filter framing (Stream2 "lz4"): blocks of this many bytes. */
const LZ4_H5_BLOCK = 1 << 20;

export interface EncodedFrame {
  compression: Compression;
  /** element size in bytes */
  elemSize: number;
  /** Stream2 form: bslz4 and lz4 in HDF5-filter framing, none = raw little-endian */
  stream2: Uint8Array;
  /** stream v1 blob: bslz4 with its 12-byte header, lz4 as one raw LZ4 block, none raw */
  legacy: Uint8Array;
  /** MD5 of the v1 blob, hex */
  md5: string;
}

export class FrameSource {
  readonly shape: [number, number];
  readonly dtype: 'uint16' | 'uint32';
  private readonly cache = new Map<string, EncodedFrame>();

  private constructor(
    readonly model: DetectorModel,
    readonly run: SimRun,
  ) {
    this.shape = [run.shape[0], run.shape[1]];
    this.dtype = run.dtype as 'uint16' | 'uint32';
  }

  /** Open the model's simulator with `config` (its `detector` section: scene, seed, ...). Throws ParameterError. */
  static async open(model: DetectorModel, config: Record<string, unknown>): Promise<FrameSource> {
    const plugin = simulatorPlugins().find((p) => p.name === model.sim.name);
    if (!plugin) throw new Error(`detector-sim: no simulator ${model.sim.name}`);
    const run = (await plugin.open(config)) as SimRun;
    // render the pool now (worker threads for large pools), not while a series runs
    await run.prefill();
    return new FrameSource(model, run);
  }

  /** Frame `index` as the simulator renders it (throws DetectorFault where the configuration asks for one). */
  raw(index: number): Uint8Array {
    const data = this.run.frame(index).data;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Frame `index`, encoded for both stream formats. */
  encoded(index: number, compression: Compression): EncodedFrame {
    const fault = this.run.cfg.fault_at_frame;
    if (fault !== null && index >= fault) this.run.frame(index); // throws the simulated DetectorFault, cached or not
    const P = this.run.cfg.pool_size;
    const complete = this.run.lostRegion(index) === null;
    const key = P > 0 && complete ? `${compression}:${index % P}` : null;
    const hit = key ? this.cache.get(key) : undefined;
    if (hit) return hit;
    const frame = encodeFrame(this.raw(index), this.run.dtype === 'uint32' ? 4 : 2, compression);
    if (key) this.cache.set(key, frame);
    return frame;
  }

  close(): void {
    this.cache.clear();
    this.run.close();
  }
}

export function encodeFrame(bytes: Uint8Array, elemSize: number, compression: Compression): EncodedFrame {
  if (compression === 'none') {
    const copy = bytes.slice();
    return { compression, elemSize, stream2: copy, legacy: copy, md5: md5(copy) };
  }
  if (compression === 'bslz4') {
    const out = new Uint8Array(bslz4MaxCompressedSize(bytes.length, elemSize));
    const chunk = out.slice(0, bslz4Compress(bytes, elemSize, out));
    // v1 bs16-lz4< / bs32-lz4< carry the same 12-byte header as the HDF5 filter's chunk
    return { compression, elemSize, stream2: chunk, legacy: chunk, md5: md5(chunk) };
  }
  const block = new Uint8Array(lz4CompressBound(bytes.length));
  const legacy = block.slice(0, lz4CompressBlock(bytes, block));
  return { compression, elemSize, stream2: lz4H5(bytes), legacy, md5: md5(legacy) };
}

/** The HDF5 LZ4 filter's framing: u64 BE size, u32 BE block size, then per block u32 BE length + LZ4 block (raw when it does not shrink). */
export function lz4H5(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(12);
  const dv = new DataView(head.buffer);
  dv.setBigUint64(0, BigInt(bytes.length));
  dv.setUint32(8, LZ4_H5_BLOCK);
  parts.push(head);
  const scratch = new Uint8Array(lz4CompressBound(LZ4_H5_BLOCK));
  for (let p = 0; p < bytes.length; p += LZ4_H5_BLOCK) {
    const src = bytes.subarray(p, Math.min(p + LZ4_H5_BLOCK, bytes.length));
    const n = lz4CompressBlock(src, scratch);
    const body = n < src.length ? scratch.slice(0, n) : src.slice();
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, body.length);
    parts.push(len, body);
  }
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
