/**
 * Stream v1 (SIMPLON stream format `legacy`) multipart messages:
 * global header dheader-1.0 (+ the detector configuration with
 * header_detail basic/all, + flatfield, pixel mask and count-rate table
 * with all), per image dimage-1.0, dimage_d-1.0, the blob, dconfig-1.0
 * (times in ns), and dseries_end-1.0. Shapes are [x, y] = [cols, rows].
 * Encodings: bs32-lz4< / bs16-lz4< (bitshuffle+LZ4 with the 12-byte
 * header), lz4< (one LZ4 block), < (raw little endian).
 */
import { hasAppendix, type SeriesImage, type SeriesInfo } from './series.js';

const utf8 = new TextEncoder();
const json = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v));
const appendix = (v: unknown): Uint8Array => (typeof v === 'string' ? utf8.encode(v) : json(v));
const bytesOf = (a: Uint32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Count-rate correction table sent with header_detail all: identity (the simulator applies none), [2, N]. */
function countrateTable(): Float32Array {
  const n = 1000;
  const t = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) t[k] = t[n + k] = k;
  return t;
}

export function headerParts(s: SeriesInfo): Uint8Array[] {
  const [rows, cols] = s.shape;
  const parts = [json({ htype: 'dheader-1.0', series: s.seriesId, header_detail: s.headerDetail })];
  if (s.headerDetail !== 'none') parts.push(json(s.config));
  if (s.headerDetail === 'all') {
    parts.push(json({ htype: 'dflatfield-1.0', shape: [cols, rows], type: 'float32' }), bytesOf(s.flatfield));
    parts.push(json({ htype: 'dpixelmask-1.0', shape: [cols, rows], type: 'uint32' }), bytesOf(s.pixelMask));
    const table = countrateTable();
    parts.push(json({ htype: 'dcountrate_table-1.0', shape: [table.length / 2, 2], type: 'float32' }), bytesOf(table));
  }
  if (hasAppendix(s.headerAppendix)) parts.push(appendix(s.headerAppendix));
  return parts;
}

export function encoding(s: SeriesInfo, img: SeriesImage): string {
  const bits = s.dtype === 'uint32' ? 32 : 16;
  switch (img.frame.compression) {
    case 'bslz4':
      return `bs${bits}-lz4<`;
    case 'lz4':
      return 'lz4<';
    default:
      return '<';
  }
}

export function imageParts(s: SeriesInfo, img: SeriesImage): Uint8Array[] {
  const [rows, cols] = s.shape;
  const blob = img.frame.legacy;
  const parts = [
    json({ htype: 'dimage-1.0', series: s.seriesId, frame: img.index, hash: img.frame.md5 }),
    json({ htype: 'dimage_d-1.0', shape: [cols, rows], type: s.dtype, encoding: encoding(s, img), size: blob.length }),
    blob,
    json({ htype: 'dconfig-1.0', start_time: img.startNs, stop_time: img.stopNs, real_time: img.realNs }),
  ];
  if (hasAppendix(s.imageAppendix)) parts.push(appendix(s.imageAppendix));
  return parts;
}

export function endParts(s: SeriesInfo): Uint8Array[] {
  return [json({ htype: 'dseries_end-1.0', series: s.seriesId })];
}
