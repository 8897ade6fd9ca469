/**
 * Arrow IPC encoding of stream items (see docs/PROTOCOL.md, "Data messages").
 *
 * Frames are large, so the encoder returns the IPC stream as a list of byte
 * chunks that still point at the item memory: a one-item payload is sent
 * without copying the pixels (ws writes the chunks as fragments of one message).
 */
import {
  Binary,
  Bool,
  Data,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Uint16,
  Uint32,
  Uint8,
  Utf8,
  makeData,
  type DataType,
} from 'apache-arrow';
import type { Compression, DType, TypedArray } from '../protocol/index.js';
import { META_COMPRESSION, TYPED_ARRAY, product } from '../protocol/index.js';
import { compressItem } from './compress.js';

const ARROW_TYPE: Record<DType, () => DataType> = {
  uint8: () => new Uint8(),
  int8: () => new Int8(),
  uint16: () => new Uint16(),
  int16: () => new Int16(),
  uint32: () => new Uint32(),
  int32: () => new Int32(),
  float32: () => new Float32(),
  float64: () => new Float64(),
};

export interface ArrayPayloadMeta {
  scan: string;
  stream: string;
  dtype: DType;
  /** per-item shape of the items as sent */
  shape: number[];
  /** the ROI/binning the items went through (a compressed item is then cached by scan/stream/index/view) */
  view?: string;
}

/** Bytes of an IPC stream, as chunks in order (views: do not modify the items until sent). */
export type IpcChunks = Uint8Array[];

export const chunksLength = (chunks: IpcChunks): number => chunks.reduce((n, c) => n + c.byteLength, 0);

function indexData(first: number, count: number, step: number): Data<Int64> {
  const idx = new BigInt64Array(count);
  for (let i = 0; i < count; i++) idx[i] = BigInt(first + i * step);
  return makeData({ type: new Int64(), length: count, data: idx });
}

function indexDataFrom(indexes: readonly number[]): Data<Int64> {
  const idx = BigInt64Array.from(indexes, (i) => BigInt(i));
  return makeData({ type: new Int64(), length: idx.length, data: idx });
}

function validData(valid: readonly boolean[]): Data<Bool> {
  const bits = new Uint8Array(Math.ceil(valid.length / 8));
  valid.forEach((v, i) => {
    if (v) bits[i >> 3] |= 1 << (i & 7);
  });
  return makeData({ type: new Bool(), length: valid.length, data: bits });
}

/** Items laid out back to back: the item itself when there is one, else one copy. */
function contiguous(dtype: DType, items: readonly TypedArray[], itemLength: number): TypedArray {
  if (items.length === 1) return items[0];
  const out = new TYPED_ARRAY[dtype](items.length * itemLength);
  items.forEach((item, i) => out.set(item as never, i * itemLength));
  return out;
}

function writeChunks(batch: RecordBatch): IpcChunks {
  const writer = RecordBatchStreamWriter.writeAll([batch]);
  // The writer's sink holds the chunks it wrote, as views of the column buffers.
  const sink = (writer as unknown as { _sink?: { _values?: unknown } })._sink;
  if (sink && Array.isArray(sink._values) && sink._values.every((v) => v instanceof Uint8Array)) {
    return sink._values as Uint8Array[];
  }
  return [writer.toUint8Array(true)];
}

/**
 * Encode array items. `indexes` are the stream indexes of the items (they need
 * not be consecutive: decimated subscriptions skip some).
 */
export function encodeArrayItems(
  meta: ArrayPayloadMeta,
  indexes: readonly number[],
  items: readonly TypedArray[],
  valid: readonly boolean[],
): IpcChunks {
  const itemLength = product(meta.shape);
  const values = contiguous(meta.dtype, items, itemLength);
  const valueType = ARROW_TYPE[meta.dtype]();
  const child = makeData({ type: valueType, length: values.length, data: values } as never) as unknown as Data;
  const listType = new FixedSizeList(itemLength, new Field('item', valueType, false));
  const list = makeData({ type: listType, length: items.length, nullCount: 0, child });
  const fields = [
    new Field('index', new Int64(), false),
    new Field('valid', new Bool(), false),
    new Field('data', listType, false),
  ];
  const metadata = new Map([
    ['daqlab.dtype', meta.dtype],
    ['daqlab.shape', JSON.stringify(meta.shape)],
    ['daqlab.stream', meta.stream],
    ['daqlab.scan', meta.scan],
  ]);
  const schema = new Schema(fields, metadata);
  const struct = makeData({
    type: new Struct(fields),
    length: items.length,
    nullCount: 0,
    children: [indexDataFrom(indexes), validData(valid), list],
  });
  return writeChunks(new RecordBatch(schema, struct));
}

/**
 * Encode compressed array items: `data` is Binary, one chunk per item (the
 * chunk itself when there is one item: no copy); `meta` describes the items
 * once decoded, `daqlab.compression` names the codec.
 */
export function encodeCompressedItems(
  meta: ArrayPayloadMeta & { compression: Exclude<Compression, 'none'> },
  indexes: readonly number[],
  chunks: readonly Uint8Array[],
  valid: readonly boolean[],
): IpcChunks {
  const offsets = new Int32Array(chunks.length + 1);
  chunks.forEach((c, i) => (offsets[i + 1] = offsets[i] + c.byteLength));
  let bytes: Uint8Array;
  if (chunks.length === 1) bytes = chunks[0];
  else {
    bytes = new Uint8Array(offsets[chunks.length]);
    chunks.forEach((c, i) => bytes.set(c, offsets[i]));
  }
  const data = makeData({ type: new Binary(), length: chunks.length, nullCount: 0, valueOffsets: offsets, data: bytes } as never) as unknown as Data;
  const fields = [
    new Field('index', new Int64(), false),
    new Field('valid', new Bool(), false),
    new Field('data', new Binary(), false),
  ];
  const metadata = new Map([
    ['daqlab.dtype', meta.dtype],
    ['daqlab.shape', JSON.stringify(meta.shape)],
    [META_COMPRESSION, meta.compression],
    ['daqlab.stream', meta.stream],
    ['daqlab.scan', meta.scan],
  ]);
  const struct = makeData({
    type: new Struct(fields),
    length: chunks.length,
    nullCount: 0,
    children: [indexDataFrom(indexes), validData(valid), data],
  });
  return writeChunks(new RecordBatch(new Schema(fields, metadata), struct));
}

/** Array items as an Arrow payload, compressed item by item when asked. */
export function encodeItems(
  meta: ArrayPayloadMeta,
  compression: Compression,
  indexes: readonly number[],
  items: readonly TypedArray[],
  valid: readonly boolean[],
): IpcChunks {
  if (compression === 'none') return encodeArrayItems(meta, indexes, items, valid);
  const key = (k: number) => (meta.view === undefined ? undefined : `${meta.scan}/${meta.stream}/${indexes[k]}/${meta.view}`);
  const compressed = items.map((item, k) => compressItem(item, compression, key(k)));
  return encodeCompressedItems({ ...meta, compression }, indexes, compressed, valid);
}

/** Encode JSON events as (index, json) rows. */
export function encodeEvents(scan: string, stream: string, first: number, events: readonly unknown[], step = 1): IpcChunks {
  const encoder = new TextEncoder();
  const encoded = events.map((e) => encoder.encode(JSON.stringify(e) ?? 'null'));
  const offsets = new Int32Array(encoded.length + 1);
  encoded.forEach((b, i) => (offsets[i + 1] = offsets[i] + b.byteLength));
  const bytes = new Uint8Array(offsets[encoded.length]);
  encoded.forEach((b, i) => bytes.set(b, offsets[i]));
  const json = makeData({ type: new Utf8(), length: encoded.length, nullCount: 0, valueOffsets: offsets, data: bytes } as never) as unknown as Data<Utf8>;
  const fields = [new Field('index', new Int64(), false), new Field('json', new Utf8(), false)];
  const schema = new Schema(
    fields,
    new Map([
      ['daqlab.stream', stream],
      ['daqlab.scan', scan],
    ]),
  );
  const struct = makeData({
    type: new Struct(fields),
    length: encoded.length,
    nullCount: 0,
    children: [indexData(first, encoded.length, step), json],
  });
  return writeChunks(new RecordBatch(schema, struct));
}
