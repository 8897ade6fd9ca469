/**
 * The server's binary `data` response: u32 little-endian header length H, H bytes of JSON
 * header (padded so the payload starts on an 8-byte boundary), then the values as a
 * little-endian typed array, viewed in place (no copy).
 */
import { ProviderError } from './provider.js';
import type { NumArray, Slice, SliceHeader } from './types.js';

const ARRAYS: Record<string, { new (b: ArrayBuffer, offset: number, length: number): NumArray; BYTES_PER_ELEMENT: number }> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
};

export function decodeSlice(buffer: ArrayBuffer): Slice {
  if (buffer.byteLength < 4) throw new ProviderError(`data: a ${buffer.byteLength}-byte response is too short`);
  const h = new DataView(buffer).getUint32(0, true);
  if (4 + h > buffer.byteLength) throw new ProviderError(`data: header length ${h} exceeds the response (${buffer.byteLength} bytes)`);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, h))) as SliceHeader;
  const Ctor = ARRAYS[header.dtype];
  if (!Ctor) throw new ProviderError(`data: unsupported dtype ${header.dtype}`);
  const offset = 4 + h;
  const length = header.shape.reduce((a, b) => a * b, 1);
  if (offset + length * Ctor.BYTES_PER_ELEMENT > buffer.byteLength) {
    throw new ProviderError(`data: ${length} ${header.dtype} values announced, ${buffer.byteLength - offset} bytes received`);
  }
  // the server aligns the payload to 8 bytes; a view needs alignment to the element size
  const data = offset % Ctor.BYTES_PER_ELEMENT === 0 ? new Ctor(buffer, offset, length) : new Ctor(buffer.slice(offset), 0, length);
  return { header, data };
}
