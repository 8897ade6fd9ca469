/**
 * A volume whose z slices are the items of a daqlab server stream (e.g. a
 * tomography `volume` stream, or detector frames with the frame index as z),
 * read by the browser straight from the server:
 * - the LOD: one lossless subscription with the server's sum-binning on the
 *   image axes and `every` along z (items arriving later, while the scan runs,
 *   fill their planes as they come);
 * - a full-resolution cut plane: slice z = k is item k; slices x = k and
 *   y = k are a one-column / one-row ROI of every item.
 */
import type { DaqClient } from './client.js';
import { count, extendRange, packNormalised, streamLod, type Vec3i } from './volume-math.js';
import type { Lod, Slice } from './volume3d.js';

export interface StreamVolumeOptions {
  scan: string;
  stream: string;
  /** (z, y, x): z = the number of slices expected */
  shape: Vec3i;
  maxSize: number;
  maxBytes: number;
  complexMode: 'abs' | 'phase';
  onLod: (lod: Lod) => void;
  onSlice: (slice: Slice) => void;
  onStatus: (text: string) => void;
}

export class StreamVolume {
  private sub: string | null = null;
  private values: Float32Array;
  private half: Uint16Array;
  private range: [number, number] = [Infinity, -Infinity];
  private layout: ReturnType<typeof streamLod>;
  private uploadTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private uploaded = false;
  private sliceSubs: (string | null)[] = [null, null, null];

  constructor(
    private readonly client: DaqClient,
    private readonly o: StreamVolumeOptions,
  ) {
    this.layout = streamLod(o.shape, o.maxSize, o.maxBytes);
    const n = count(this.layout.lodShape);
    this.values = new Float32Array(n);
    this.half = new Uint16Array(n);
  }

  async start(): Promise<void> {
    const { every, binning, lodShape } = this.layout;
    const [depth] = this.o.shape;
    const scale = 1 / (binning * binning); // sums → means
    const plane = lodShape[1] * lodShape[2];
    const result = await this.client.subscribe(
      { scan: this.o.scan, stream: this.o.stream, mode: 'lossless', binning, every, stop: depth, window: 8 },
      (msg) => {
        if (msg.header.sub !== this.sub) return;
        for (const item of msg.items) {
          const z = Math.floor(item.index / every);
          if (z >= lodShape[0]) continue;
          const src = item.data;
          const dst = this.values.subarray(z * plane, (z + 1) * plane);
          // the server drops the remainder of binning, so the item is exactly (rows, cols) of the LOD
          for (let i = 0; i < plane; i++) dst[i] = src[i] * scale;
          this.range = extendRange(dst, this.range);
        }
        this.client.ack(this.sub!, msg.header.msg);
        this.scheduleUpload();
      },
    );
    this.sub = result.sub;
    this.o.onStatus(`${this.o.scan} · ${this.o.stream}${binning > 1 || every > 1 ? ` · 3D view binned ${binning}×, every ${every}` : ''}`);
  }

  /** Re-pack the LOD (normalised float16) at most every 300 ms while slices arrive. */
  private scheduleUpload(): void {
    if (this.uploadTimer || this.closed) return;
    const first = !this.uploaded;
    this.uploaded = true;
    this.uploadTimer = setTimeout(() => {
      this.uploadTimer = null;
      if (this.closed) return;
      const [lo, hi] = this.range[0] <= this.range[1] ? this.range : [0, 1];
      packNormalised(this.values, lo, hi, this.half);
      this.o.onLod({ shape: this.layout.lodShape, range: [lo, hi], half: this.half });
    }, first ? 0 : 300);
  }

  setComplexMode(mode: 'abs' | 'phase'): void {
    this.o.complexMode = mode; // server streams are real-valued today; kept for complex streams
  }

  /** Ask the server for slice k of axis a at full resolution (one subscription, ended by the server). */
  async requestSlice(axis: number, k: number): Promise<void> {
    const [nz, ny, nx] = this.o.shape;
    const old = this.sliceSubs[axis];
    if (old) void this.client.unsubscribe(old);
    const rows = axis === 0 ? ny : nz;
    const cols = axis === 2 ? ny : nx;
    const data = new Float32Array(rows * cols).fill(NaN); // slices not there yet are drawn black
    const params =
      axis === 0
        ? { start: k, stop: k + 1 }
        : { start: 0, stop: nz, roi: (axis === 1 ? [k, 0, 1, nx] : [0, k, ny, 1]) as [number, number, number, number] };
    const mode = this.o.complexMode;
    let got = 0;
    const result = await this.client.subscribe({ scan: this.o.scan, stream: this.o.stream, mode: 'lossless', window: 8, ...params }, (msg) => {
      if (msg.header.sub !== this.sliceSubs[axis]) return;
      for (const item of msg.items) {
        const src = item.data;
        if (axis === 0) for (let i = 0; i < src.length; i++) data[i] = src[i];
        else {
          const row = item.index; // x/y slices: row = z
          if (row >= rows) continue;
          for (let i = 0; i < cols; i++) data[row * cols + i] = src[i];
        }
        got++;
      }
      this.client.ack(this.sliceSubs[axis]!, msg.header.msg);
      if (axis === 0 || got === rows || got % 64 === 0) this.o.onSlice({ axis, index: k, rows, cols, data, complexMode: mode });
    });
    this.sliceSubs[axis] = result.sub;
  }

  close(): void {
    this.closed = true;
    if (this.uploadTimer) clearTimeout(this.uploadTimer);
    if (this.sub) void this.client.unsubscribe(this.sub);
    for (const s of this.sliceSubs) if (s) void this.client.unsubscribe(s);
  }
}
