/**
 * Read a saved scan back: the NeXus master's metadata (the detector as it was
 * described at acquisition, its geometry, the prepare parameters) and its
 * frames through the master's virtual dataset.
 *
 * The HDF5 C library does the reading (h5wasm: HDF5 compiled to WebAssembly,
 * with direct access to the local file system in Node), so every layout and
 * compression HDF5 knows works — our own none/gzip/bitshuffle-LZ4 files and
 * files written by other software — and the virtual dataset is resolved by
 * the library that defines it. The bitshuffle filter (id 32008) comes from
 * h5wasm-plugins, loaded from its folder on disk.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import type * as H5 from 'h5wasm/node';
import { TYPED_ARRAY, type DType, type TypedArray } from '../../protocol/index.js';
import { H5FormatError } from '../../saving/hdf5/chunk-index-reader.js';
import { DirectFrames } from './direct-frames.js';

/** A saved scan that cannot be replayed: the message says which file and why. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/** h5wasm once loaded (a few hundred ms: loaded on first use, so a server without replays never pays it) */
let h5wasm: typeof H5;
let loading: Promise<void> | null = null;

/** Load h5wasm, once per thread, with the compression plugins on its search path. */
function h5(): Promise<void> {
  loading ??= import('h5wasm/node').then(async (lib) => {
    const module = await lib.ready;
    const require = createRequire(import.meta.url);
    module.insert_plugin_search_path(join(dirname(require.resolve('h5wasm-plugins/package.json')), 'plugins'), 0);
    h5wasm = lib;
  });
  return loading;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Why HDF5 would not read this file, or null: no file, no HDF5 signature (at
 * 0, or after a user block of 512·2^k bytes), or shorter than the end-of-file
 * address its superblock records (a truncated copy). Checked before the
 * library opens it, because the library prints its error stack to stderr and
 * reads a virtual dataset's unreadable source file as fill values.
 */
export function hdf5Problem(path: string): string | null {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return 'not a file';
    size = st.size;
  } catch {
    return 'no such file';
  }
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    for (let at = 0; at + 8 <= size && at <= 1 << 24; at = at === 0 ? 512 : at * 2) {
      const n = readSync(fd, head, 0, 64, at);
      if (!head.subarray(0, 8).equals(HDF5_SIGNATURE)) continue;
      const version = head[8];
      // the end-of-file address, for 8-byte offsets (the library stores the file's size there, user block included)
      const eofAt = version >= 2 ? (head[9] === 8 ? 28 : -1) : head[13] === 8 ? (version === 0 ? 40 : 44) : -1;
      if (eofAt < 0 || eofAt + 8 > n) return null;
      const end = Number(head.readBigUInt64LE(eofAt));
      return end > size ? `truncated: ${size} bytes, its superblock says ${end}` : null;
    }
    return 'not an HDF5 file (no HDF5 signature)';
  } finally {
    closeSync(fd);
  }
}

type Node = ReturnType<H5.File['get']>;

/** The address of an object's header: what an HDF5 object reference holds (8 bytes, little-endian). */
function objectAddress(d: H5.Dataset): number {
  const ref = Buffer.from(d.create_reference().ref_data); // a plain array of bytes, as h5wasm returns it
  if (ref.length !== 8) throw new SourceError(`${d.path}: unexpected object reference of ${ref.length} bytes`);
  return Number(ref.readBigUInt64LE(0));
}
const isGroup = (n: Node): n is H5.Group => n instanceof h5wasm.Group;
const isDataset = (n: Node): n is H5.Dataset => n instanceof h5wasm.Dataset;

function attr(node: H5.Group | H5.Dataset, name: string): unknown {
  const a = (node.attrs as Record<string, { value: unknown } | undefined>)[name];
  return a?.value;
}

/** HDF5 numeric type → our dtype name. */
function dtypeOf(meta: H5.Dataset['metadata']): DType | null {
  const { type, size, signed } = meta as { type: number; size: number; signed: boolean };
  if (type === 1) return size === 4 ? 'float32' : size === 8 ? 'float64' : null;
  if (type !== 0) return null;
  const bits = size * 8;
  if (![8, 16, 32].includes(bits)) return null;
  return `${signed ? 'int' : 'uint'}${bits}` as DType;
}

export interface SavedDetector {
  /** `DetectorInfo` of the source detector, as it was described at acquisition (may be empty for foreign files) */
  info: Record<string, unknown>;
  /** the source run's `describe()`: geometry, poni, energy, dummy, layout ... */
  description: Record<string, unknown>;
  /** the source's validated `detector` configuration */
  config: Record<string, unknown>;
}

export class SavedMaster {
  /** frames in the virtual dataset */
  readonly nbFrames: number;
  /** shape of one frame */
  readonly frameShape: number[];
  readonly dtype: DType;
  readonly detector: SavedDetector;
  /** prepare parameters of the source (acquisition, detector, processing, saving, scan), {} when absent */
  readonly parameters: Record<string, unknown>;
  /** acquisition frame index of each saved frame (the source's `measurement/frame_index`) */
  readonly frameIndex: number[];
  /** per saved frame: false for incomplete frames */
  readonly valid: boolean[];
  /** path of the NXentry (`/entry`) */
  readonly entryPath: string;
  /** the source's scan key (`entry_identifier`) */
  readonly key: string | null;
  /** NXtomo of the scan, per saved frame: what each frame is and its angle (degrees); null when the master has none */
  readonly tomo: SavedTomo | null;
  private readonly file: H5.File;
  private readonly data: H5.Dataset;
  private readonly frameElements: number;
  /** frames read by one positional read + our decoder, where the layout allows (see direct-frames.ts) */
  private direct: DirectFrames | null = null;

  private constructor(
    readonly path: string,
    file: H5.File,
  ) {
    this.file = file;
    const root = file as unknown as H5.Group;
    const entryName = String(attr(root, 'default') ?? 'entry');
    const entry = file.get(entryName);
    if (!isGroup(entry) || attr(entry, 'NX_class') !== 'NXentry') {
      throw new SourceError(`${path} is not a daqlab/NeXus master: it has no NXentry ${JSON.stringify(entryName)}`);
    }
    const det = findDetector(entry);
    const data = det ? det.get('data') : null;
    if (!det || !isDataset(data)) {
      throw new SourceError(`${path} is not a daqlab/NeXus master: no NXinstrument/NXdetector with a 'data' dataset in /${entryName}`);
    }
    const shape = (data.shape ?? []).map(Number);
    if (shape.length < 3) throw new SourceError(`${path}: detector data has shape [${shape.join(', ')}]; expected [frames, rows, cols]`);
    const dtype = dtypeOf(data.metadata);
    if (!dtype) throw new SourceError(`${path}: detector data has an element type daqlab cannot process (${data.dtype})`);
    // HDF5 reads a missing source file of a virtual dataset as fill values, silently: refuse instead
    const sources = (data.metadata as { virtual_sources?: { file_name: string }[] }).virtual_sources ?? [];
    const bad = [...new Set(sources.map((v) => v.file_name))]
      .filter((f) => f !== '.')
      .map((f) => [f, hdf5Problem(isAbsolute(f) ? f : join(dirname(path), f))])
      .filter(([, problem]) => problem !== null);
    if (bad.length) throw new SourceError(`${path}: data files of its frames cannot be read: ${bad.map(([f, p]) => `${f} (${p})`).join(', ')}`);
    this.data = data;
    this.entryPath = `/${entryName}`;
    this.nbFrames = shape[0];
    this.frameShape = shape.slice(1);
    this.frameElements = this.frameShape.reduce((a, b) => a * b, 1);
    this.dtype = dtype;
    this.key = textOf(entry.get('entry_identifier'));
    this.parameters = jsonOf(entry.get('process/parameters/data'), path) ?? {};
    const params = (jsonOf(det.get('params/data'), path) ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const info = { ...(params.detector ?? {}) };
    // a NeXus master from other software: the pixel size of NXdetector
    const px = numbersOf(det.get('x_pixel_size'));
    const py = numbersOf(det.get('y_pixel_size'));
    if (!Array.isArray(info.pixel_size) && px?.length === 1 && py?.length === 1) info.pixel_size = [py[0], px[0]];
    if (!Array.isArray(info.pixel_size)) {
      throw new SourceError(`${path} is not a daqlab/NeXus master: its NXdetector gives no pixel size (x_pixel_size, y_pixel_size)`);
    }
    this.detector = {
      info,
      description: params.description ?? {},
      config: params.config ?? {},
    };
    const n = this.nbFrames;
    const idx = numbersOf(entry.get('measurement/frame_index'));
    this.frameIndex = idx && idx.length === n ? idx : Array.from({ length: n }, (_, k) => k);
    const valid = numbersOf(entry.get('measurement/valid'));
    this.valid = valid && valid.length === n ? valid.map((v) => v !== 0) : new Array(n).fill(true);
    this.tomo = readNXtomo(entry, n, path);
  }

  /**
   * Open a master file; a missing file, a file that is not HDF5 or not a
   * NeXus master is a SourceError, and so is a damaged chunk index or VDS
   * mapping list. `direct: false` reads every frame through the library.
   */
  static async open(path: string, opts: { direct?: boolean } = {}): Promise<SavedMaster> {
    const problem = hdf5Problem(path);
    if (problem) throw new SourceError(`${path}: ${problem}`);
    await h5();
    const file = new h5wasm.File(path, 'r');
    if (Number(file.file_id) < 0) throw new SourceError(`${path}: HDF5 could not open it`);
    try {
      const master = new SavedMaster(path, file);
      if (opts.direct !== false) master.openDirect();
      return master;
    } catch (err) {
      file.close();
      if (err instanceof H5FormatError) throw new SourceError(err.message);
      throw err;
    }
  }

  /** frames read directly (the others, if any, through the library) */
  get directFrames(): number {
    return this.direct?.direct ?? 0;
  }

  private openDirect(): void {
    const T = TYPED_ARRAY[this.dtype];
    const cls = this.dtype.startsWith('float') ? 1 : 0;
    const frame = { nbFrames: this.nbFrames, shape: this.frameShape, elemSize: T.BYTES_PER_ELEMENT, cls };
    this.direct = DirectFrames.open(this.path, objectAddress(this.data), frame, (file, dataset) => {
      if (hdf5Problem(file)) return null;
      const f = new h5wasm.File(file, 'r');
      try {
        const d = Number(f.file_id) < 0 ? null : f.get(dataset);
        return d && isDataset(d) ? objectAddress(d) : null;
      } finally {
        f.close();
      }
    });
  }

  /**
   * Saved frame `k` in a fresh array in shared memory, like a simulator's
   * frame: receivers, the store and the writer threads then share it without
   * a copy. A frame HDF5 cannot read (a missing data file, an unavailable
   * filter) throws with the reason.
   */
  frame(k: number): TypedArray {
    if (!Number.isInteger(k) || k < 0 || k >= this.nbFrames) throw new RangeError(`frame ${k} is outside [0, ${this.nbFrames})`);
    const T = TYPED_ARRAY[this.dtype];
    if (this.direct) {
      const shared = new T(new SharedArrayBuffer(this.frameElements * T.BYTES_PER_ELEMENT), 0, this.frameElements);
      try {
        if (this.direct.read(k, new Uint8Array(shared.buffer))) return shared;
      } catch (err) {
        if (err instanceof H5FormatError) throw new SourceError(err.message);
        throw err;
      }
    }
    const out = this.data.slice([[k, k + 1]]) as unknown as TypedArray | null;
    if (!out || out.length !== this.frameElements) {
      throw new SourceError(`${this.path}: frame ${k} could not be read (a data file is missing or its compression filter is unavailable)`);
    }
    const shared = new T(new SharedArrayBuffer(out.length * T.BYTES_PER_ELEMENT), 0, out.length);
    shared.set(out as never);
    return shared;
  }

  close(): void {
    this.direct?.close();
    this.file.close();
  }
}

export interface SavedTomo {
  /** path of the NXtomo group */
  path: string;
  /** per saved frame: 0 projection, 1 flat, 2 dark (3 invalid) */
  image_key: number[];
  /** per saved frame, degrees */
  rotation_angle: number[];
}

/**
 * The NXtomo application definition of the entry (the entry itself or a
 * subentry, as daqlab writes it): `instrument/detector/image_key` and
 * `sample/rotation_angle`, one value per frame of the detector data.
 */
function readNXtomo(entry: H5.Group, frames: number, file: string): SavedTomo | null {
  const candidates = [entry, ...entry.keys().map((k) => entry.get(k)).filter((g): g is H5.Group => isGroup(g) && ['NXsubentry', 'NXentry'].includes(String(attr(g, 'NX_class'))))];
  const tomo = candidates.find((g) => textOf(g.get('definition')) === 'NXtomo');
  if (!tomo) return null;
  const read = (rel: string): number[] => {
    const v = numbersOf(tomo.get(rel));
    if (!v) throw new SourceError(`${file}: the NXtomo ${tomo.path} has no ${rel}`);
    if (v.length !== frames) throw new SourceError(`${file}: ${tomo.path}/${rel} has ${v.length} values for ${frames} frames of detector data`);
    return v;
  };
  return { path: tomo.path, image_key: read('instrument/detector/image_key'), rotation_angle: read('sample/rotation_angle') };
}

function findDetector(entry: H5.Group): H5.Group | null {
  for (const name of entry.keys()) {
    const inst = entry.get(name);
    if (!isGroup(inst) || attr(inst, 'NX_class') !== 'NXinstrument') continue;
    for (const d of inst.keys()) {
      const det = inst.get(d);
      if (isGroup(det) && attr(det, 'NX_class') === 'NXdetector' && isDataset(det.get('data'))) return det;
    }
  }
  return null;
}

function textOf(n: Node): string | null {
  if (!isDataset(n)) return null;
  const v = n.value;
  return typeof v === 'string' ? v : null;
}

function jsonOf(n: Node, path: string): Record<string, unknown> | null {
  const text = textOf(n);
  if (text === null) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SourceError(`${path}: ${(n as H5.Dataset).path} is not valid JSON`);
  }
}

function numbersOf(n: Node): number[] | null {
  if (!isDataset(n)) return null;
  const v = n.value as ArrayLike<number | bigint> | number | bigint | null;
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  if (!v || typeof v !== 'object') return null;
  return Array.from(v, (x) => Number(x));
}
