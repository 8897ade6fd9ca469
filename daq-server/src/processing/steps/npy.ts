/**
 * A small, strict reader and writer of NumPy `.npy` files (format versions
 * 1.0 and 2.0), for calibration maps (masks, darks, flats, Jungfrau
 * pedestals and gains).
 *
 * Read: little-endian (or byte-order-free one-byte) float32 `<f4`, float64
 * `<f8`, uint16 `<u2`, and for masks uint8 `|u1`, bool `|b1` (read as
 * uint8), int8 `|i1`, int16 `<i2`, uint32 `<u4`, int32 `<i4`; C order only.
 * Anything else — bad magic, version 3.0, big-endian data, Fortran order,
 * object arrays, a header that is not the dict numpy writes, a data size
 * that does not match the shape (truncated or trailing bytes) — is an
 * error whose message names the file and what is wrong.
 *
 * Write: version 1.0 (2.0 when the header needs it), header padded so the
 * data start at a multiple of 64 bytes, like numpy.save.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dtypeOf, type DType, type TypedArray } from '../../protocol/index.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_READ: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<u2': 'uint16',
  '<i2': 'int16',
  '<u4': 'uint32',
  '<i4': 'int32',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|i1': 'int8',
  '<i1': 'int8',
  '|b1': 'uint8',
};

const DESCR_WRITE: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  uint16: '<u2',
  int16: '<i2',
  uint32: '<u4',
  int32: '<i4',
  uint8: '|u1',
  int8: '|i1',
};

const ITEM: Record<DType, number> = { float32: 4, float64: 8, uint16: 2, int16: 2, uint32: 4, int32: 4, uint8: 1, int8: 1 };

export interface NpyArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
  /** the descr of the file (e.g. `|b1` for a bool mask read as uint8) */
  descr: string;
}

export class NpyError extends Error {
  constructor(name: string, what: string) {
    super(`${name}: ${what}`);
    this.name = 'NpyError';
  }
}

type PyValue = string | number | boolean | PyValue[];

/** Parse the header dict numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
function parseHeader(text: string, name: string): Record<string, PyValue> {
  let i = 0;
  const fail = (what: string): never => {
    throw new NpyError(name, `bad .npy header (${what} at character ${i})`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\t')) i++;
  };
  const value = (): PyValue => {
    ws();
    const ch = text[i];
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (ch === '(' || ch === '[') {
      const close = ch === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      ws();
      while (text[i] !== close) {
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          ws();
        } else if (text[i] !== close) fail(`expected , or ${close}`);
      }
      i++;
      return items;
    }
    const m = /^(True|False|-?\d+)/.exec(text.slice(i));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (text[i] === 'L') i++; // Python 2 long
    return Number(m[0]);
  };
  ws();
  if (text[i] !== '{') fail('expected {');
  i++;
  const out: Record<string, PyValue> = {};
  ws();
  while (text[i] !== '}') {
    const key = value();
    if (typeof key !== 'string') fail('dict keys must be strings');
    ws();
    if (text[i] !== ':') fail('expected :');
    i++;
    out[key as string] = value();
    ws();
    if (text[i] === ',') {
      i++;
      ws();
    } else if (text[i] !== '}') fail('expected , or }');
    if (i >= text.length) fail('unterminated dict');
  }
  i++;
  ws();
  if (i !== text.length) fail('trailing characters after the dict');
  return out;
}

/** Decode the bytes of a .npy file; `name` appears in every error message. */
export function parseNpy(bytes: Uint8Array, name = '<npy>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new NpyError(name, 'not a .npy file (the magic string \\x93NUMPY is missing)');
  }
  const major = bytes[6], minor = bytes[7];
  let headerLen: number, start: number;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1 && minor === 0) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 && minor === 0) {
    if (bytes.length < 12) throw new NpyError(name, 'truncated .npy header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyError(name, `unsupported .npy format version ${major}.${minor} (1.0 and 2.0 are read)`);
  }
  if (start + headerLen > bytes.length) throw new NpyError(name, `truncated .npy header (${headerLen} bytes announced, file is ${bytes.length} bytes)`);
  let text = '';
  for (let k = start; k < start + headerLen; k++) {
    if (bytes[k] > 127) throw new NpyError(name, 'the .npy header is not ASCII');
    text += String.fromCharCode(bytes[k]);
  }
  const h = parseHeader(text, name);
  const keys = Object.keys(h).sort().join(',');
  // messages say what is wrong, never what the file holds (it may not be a .npy file the client owns)
  if (keys !== 'descr,fortran_order,shape') throw new NpyError(name, `the .npy header must have exactly the keys descr, fortran_order, shape (it has ${Object.keys(h).length} keys)`);
  const descr = h.descr;
  if (typeof descr !== 'string') throw new NpyError(name, 'descr must be a string');
  const dtype = DESCR_READ[descr];
  if (!dtype) {
    const why = descr.startsWith('>') ? ' (big-endian data are not read: save with a little-endian dtype)' : '';
    throw new NpyError(name, `unsupported dtype${why}; supported: ${Object.keys(DESCR_READ).join(' ')}`);
  }
  if (h.fortran_order !== false) throw new NpyError(name, 'Fortran-order arrays are not read (save a C-contiguous array: numpy.ascontiguousarray)');
  const shape = h.shape;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    throw new NpyError(name, 'shape must be a tuple of non-negative integers');
  }
  const dims = shape as number[];
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const expected = count * ITEM[dtype];
  const have = bytes.length - offset;
  if (have !== expected) {
    throw new NpyError(
      name,
      `${have < expected ? 'truncated data' : 'trailing bytes after the data'}: shape [${dims.join(', ')}] ${descr} needs ${expected} bytes, the file has ${have}`,
    );
  }
  const C = ctorOf(dtype);
  const abs = bytes.byteOffset + offset;
  let data: TypedArray;
  if (abs % ITEM[dtype] === 0) data = new C(bytes.buffer, abs, count);
  else data = new C(bytes.slice(offset).buffer, 0, count);
  if (descr === '|b1') {
    for (let k = 0; k < data.length; k++) if (data[k] > 1) throw new NpyError(name, `bool array holds a value other than 0 and 1 at index ${k}`);
  }
  return { dtype, shape: dims, data, descr };
}

function ctorOf(d: DType): { new (b: ArrayBufferLike, o: number, n: number): TypedArray } {
  switch (d) {
    case 'float32': return Float32Array;
    case 'float64': return Float64Array;
    case 'uint16': return Uint16Array;
    case 'int16': return Int16Array;
    case 'uint32': return Uint32Array;
    case 'int32': return Int32Array;
    case 'uint8': return Uint8Array;
    case 'int8': return Int8Array;
  }
}

/** Read a .npy file (errors name the file). */
export function readNpy(path: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NpyError(path, code === 'ENOENT' ? 'no such file' : `cannot be read (${(err as Error).message})`);
  }
  return parseNpy(bytes, path);
}

/** Encode an array as .npy bytes (C order). */
export function encodeNpy(data: TypedArray, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`encodeNpy: shape [${shape.join(', ')}] has ${count} elements, data has ${data.length}`);
  const dtype = dtypeOf(data);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${DESCR_WRITE[dtype]}', 'fortran_order': False, 'shape': ${tuple}, }`;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  let major = 1;
  if (total - pre > 0xffff) {
    major = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - pre;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';
  for (let k = 0; k < header.length; k++) out[pre + k] = header.charCodeAt(k);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** Write a .npy file. */
export function writeNpy(path: string, data: TypedArray, shape: readonly number[]): void {
  writeFileSync(path, encodeNpy(data, shape));
}

/** Parsed client files (bytes from env.files): check() and create() in one thread parse a big map once. */
const parsed = new WeakMap<Uint8Array, NpyArray>();

/** parseNpy, once per byte array. */
export function parseNpyCached(bytes: Uint8Array, name: string): NpyArray {
  let npy = parsed.get(bytes);
  if (!npy) parsed.set(bytes, (npy = parseNpy(bytes, name)));
  return npy;
}

/** A few recently read files (path, size, mtime): check() and create() in one thread read a big map once. */
const cache = new Map<string, { key: string; npy: NpyArray }>();
const CACHE_ENTRIES = 4;

/** readNpy through a small cache keyed by path, size and modification time. */
export function loadNpyCached(path: string): NpyArray {
  let key: string;
  try {
    const st = statSync(path);
    key = `${st.size}:${st.mtimeMs}`;
  } catch {
    return readNpy(path); // raises the error naming the file
  }
  const hit = cache.get(path);
  if (hit && hit.key === key) {
    cache.delete(path);
    cache.set(path, hit);
    return hit.npy;
  }
  const npy = readNpy(path);
  cache.set(path, { key, npy });
  while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  return npy;
}
