/**
 * The detector's pixel mask as SIMPLON serves it (`detector/api/<v>/config/pixel_mask`): DECTRIS's "darray"
 * JSON — `{"__darray__": [1,0,0], "type": "<u4", "shape": [...], "filters": ["base64"], "data": "…"}` — or, from
 * simulators such as tickit-devices, a nested list of rows. Non-zero = masked (DECTRIS's bits: gap, dead, cold,
 * hot, noisy …), which is pyFAI's convention and the `mask` step's: the pipelines leave those pixels out.
 */

/** The mask as [rows × cols] uint32, or why it could not be used. */
export function parsePixelMask(value: unknown, rows: number, cols: number): { mask: Uint32Array } | { error: string } {
  const n = rows * cols;
  if (Array.isArray(value)) {
    if (value.length !== rows || !value.every((r) => Array.isArray(r) && r.length === cols)) return { error: `a list of ${value.length} rows, the detector has ${rows} × ${cols}` };
    const mask = new Uint32Array(n);
    let k = 0;
    for (const row of value as unknown[][]) for (const v of row) mask[k++] = Number(v) >>> 0;
    return { mask };
  }
  if (typeof value !== 'object' || value === null || !('__darray__' in value)) return { error: 'neither a darray nor a list of rows' };
  const d = value as { type?: unknown; shape?: unknown; filters?: unknown; data?: unknown };
  const filters = Array.isArray(d.filters) ? d.filters : [];
  if (typeof d.data !== 'string' || filters.length !== 1 || filters[0] !== 'base64') return { error: `darray filters ${JSON.stringify(d.filters)}: only ["base64"] is understood` };
  const size = { '<u4': 4, '<i4': 4, '<u2': 2, '<u1': 1 }[String(d.type)];
  if (!size) return { error: `darray type ${JSON.stringify(d.type)}: <u4, <i4, <u2 or <u1 expected` };
  const shape = Array.isArray(d.shape) ? d.shape.map(Number) : [];
  // DECTRIS gives [width, height]; either order is taken when it matches the detector
  if (shape.length !== 2 || shape[0] * shape[1] !== n || !(shape.includes(rows) && shape.includes(cols))) {
    return { error: `darray shape ${JSON.stringify(d.shape)}, the detector has ${rows} × ${cols}` };
  }
  // bounded by the detector's size before anything is decoded
  if (d.data.length > Math.ceil((n * size) / 3) * 4 + 4) return { error: `darray data of ${d.data.length} base64 characters, more than ${n} pixels` };
  const bytes = Buffer.from(d.data, 'base64');
  if (bytes.length !== n * size) return { error: `darray data of ${bytes.length} bytes, ${n} pixels of ${size} bytes expected` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mask = new Uint32Array(n);
  for (let k = 0; k < n; k++) mask[k] = size === 4 ? view.getUint32(4 * k, true) : size === 2 ? view.getUint16(2 * k, true) : view.getUint8(k);
  return { mask };
}
