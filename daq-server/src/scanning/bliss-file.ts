/**
 * A step scan saved in BLISS's HDF5 layout, written point by point as the scan runs:
 *   /<n>.1                  NXentry, @default = plotselect; title, start_time, end_time
 *   /<n>.1/instrument/<dev> one group per device (NXpositioner `value`, NXdetector `data`, MCA ROIs)
 *   /<n>.1/measurement/<ch> a flat soft link per channel
 *   /<n>.1/plotselect       NXdata: the plotselect counter against the scanned axis
 * One scan per file (`scan_<n>.h5` in the folder the client names, inside the data roots).
 */
import { join } from 'node:path';
import { H5Writer, type H5ChunkedDataset, type H5Group } from '../saving/hdf5/index.js';
import { h5dtype } from '../saving/dtypes.js';
import type { ArrayStream, Scan } from '../store/types.js';
import type { TypedArray } from '../protocol/index.js';
import { VERSION } from '../version.js';

/** How often the file is made readable while the scan runs (its metadata flushed). */
const FLUSH_MS = 1000;

export const blissFileName = (dir: string, number: number): string => join(dir, `scan_${number}.h5`);

interface Column {
  channel: string;
  data: H5ChunkedDataset;
}

export class BlissScanFile {
  private readonly file: H5Writer;
  private readonly entry: H5Group;
  private readonly columns: Column[] = [];
  private lastFlush = 0;

  constructor(readonly path: string, private readonly scan: Scan, positions: Record<string, number>) {
    this.file = H5Writer.create(path);
    const n = `${scan.identity.number}.1`;
    this.file.root.attrs({ NX_class: 'NXroot', default: n, creator: `daqlab ${VERSION}`, file_name: path });
    const info = scan.info as Record<string, unknown>;
    this.entry = this.file.root.group(n, { NX_class: 'NXentry', default: 'plotselect' });
    this.entry.dataset('title', String(info.title));
    this.entry.dataset('start_time', String(info.start_time));
    const sample = this.entry.group('sample', { NX_class: 'NXsample' });
    sample.dataset('name', scan.identity.sample || 'unknown');
    const instrument = this.entry.group('instrument', { NX_class: 'NXinstrument' });
    const start = instrument.group('positioners_start', { NX_class: 'NXcollection' });
    for (const [axis, x] of Object.entries(positions)) start.dataset(axis, new Float64Array([x]), { shape: [] });
    const measurement = this.entry.group('measurement', { NX_class: 'NXcollection' });
    const groups = new Map<string, H5Group>();
    for (const [channel, stream] of scan.streams) {
      const s = stream as ArrayStream;
      const { group, name, nxClass } = this.place(channel, s);
      let g = groups.get(group);
      if (!g) {
        g = instrument.group(group, { NX_class: nxClass });
        groups.set(group, g);
      }
      const { code, size } = h5dtype(s.dtype);
      const rowBytes = size * s.shape.reduce((a, b) => a * b, 1);
      const rows = Math.max(1, Math.min(1024, Math.floor((1 << 20) / rowBytes))); // chunks of ≤ 1 MiB
      const units: Record<string, string> = typeof s.info.unit === 'string' ? { units: s.info.unit } : {};
      const data = g.chunked(name, { dtype: code, shape: [0, ...s.shape], maxShape: [null, ...s.shape], chunk: [rows, ...s.shape], attrs: units });
      measurement.softLink(channel, `/${n}/instrument/${group}/${name}`);
      // BLISS names a detector's images after the detector alone (what its readers look for)
      if (s.info.kind === 'image' && !scan.streams.has(group)) measurement.softLink(group, `/${n}/instrument/${group}/${name}`);
      this.columns.push({ channel, data });
    }
    this.file.flush();
  }

  /** Where a channel lives under instrument/: axes are positioners, everything else a detector's dataset. */
  private place(channel: string, s: ArrayStream): { group: string; name: string; nxClass: string } {
    const kind = s.info.kind;
    if (kind === 'axis') return { group: channel, name: 'value', nxClass: 'NXpositioner' };
    if (channel === 'elapsed_time' || channel === 'epoch') return { group: 'timer', name: channel, nxClass: 'NXdetector' };
    const [device, sub] = channel.includes(':') ? channel.split(':', 2) : [channel, 'data'];
    const name = sub === 'spectrum' || sub === 'image' ? 'data' : sub;
    return { group: device, name, nxClass: 'NXdetector' };
  }

  /** One point: a row per channel, in the streams' order. */
  point(values: Map<string, number | TypedArray>): void {
    for (const c of this.columns) {
      const v = values.get(c.channel)!;
      const s = this.scan.stream(c.channel) as ArrayStream;
      if (typeof v === 'number') {
        const row = new (s.dtype === 'float64' ? Float64Array : Float32Array)([v]);
        c.data.append(row as TypedArray as never);
      } else c.data.append(v as never);
    }
    const now = Date.now();
    if (now - this.lastFlush >= FLUSH_MS) {
      this.file.flush();
      this.lastFlush = now;
    }
  }

  /** A block of rows for some channels (fly scans: per-trigger and fast channels grow apart). */
  block(values: Map<string, TypedArray>): void {
    for (const c of this.columns) {
      const v = values.get(c.channel);
      if (v) c.data.append(v as never);
    }
    const now = Date.now();
    if (now - this.lastFlush >= FLUSH_MS) {
      this.file.flush();
      this.lastFlush = now;
    }
  }

  /** The end: times, the plot BLISS's viewers open, and the file closed. */
  end(plotselect: { x: string; y: string | null }, endState: string): void {
    const info = this.scan.info as Record<string, unknown>;
    this.entry.dataset('end_time', String(info.end_time ?? new Date().toISOString()));
    this.entry.dataset('end_reason', endState);
    const y = plotselect.y;
    const plot = this.entry.group('plotselect', { NX_class: 'NXdata', ...(y ? { signal: y, axes: [plotselect.x] } : {}) });
    const n = `${this.scan.identity.number}.1`;
    for (const ch of new Set([plotselect.x, ...(y ? [y] : [])])) {
      if (this.scan.streams.has(ch)) plot.softLink(ch, `/${n}/measurement/${ch}`);
    }
    this.file.flush({ fsync: true });
    this.file.close();
  }

  abandon(): void {
    try {
      this.file.close();
    } catch {
      // already closed
    }
  }
}
