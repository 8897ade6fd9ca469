/**
 * View negotiation of LiveImage: which region of the detector, at which
 * binning, the browser asks the server for. The server sends only what the
 * canvas can show: a 4 Mpx frame in a 600 px canvas comes binned; once the
 * user zooms in, the visible region (with a margin for panning) comes at full
 * resolution. Pure functions, unit tested (widgets/test/viewspec.test.ts).
 */
import { fitBinning } from './colormap.js';

/** [row0, col0, rows, cols] in detector pixels, as the protocol's `roi`. */
export type RoiBox = [number, number, number, number];

/** What one subscription / read asks for: `roi` null = the whole frame. */
export interface ViewRequest {
  roi: RoiBox | null;
  binning: number;
}

/** Half-open rectangle in detector pixels: rows r0…r1-1, cols c0…c1-1. */
export interface Rect {
  r0: number;
  c0: number;
  r1: number;
  c1: number;
}

/**
 * The detector pixels a canvas of width × height screen pixels shows, with the
 * view centred on (cx, cy) (cx: column, cy: row) at s detector pixels per
 * screen pixel; clipped to the rows × cols frame.
 */
export function visibleRect(cx: number, cy: number, s: number, width: number, height: number, rows: number, cols: number): Rect {
  const clip = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  return {
    r0: clip(Math.floor(cy - (height / 2) * s), rows),
    c0: clip(Math.floor(cx - (width / 2) * s), cols),
    r1: clip(Math.ceil(cy + (height / 2) * s), rows),
    c1: clip(Math.ceil(cx + (width / 2) * s), cols),
  };
}

/** Regions at least this fraction of the frame's area are asked for whole (no ROI). */
const WHOLE_FRACTION = 0.8;

/**
 * The request for a visible region shown at s detector pixels per screen pixel:
 * binning floor(s) (never coarser than the screen), at least enough that the
 * region fits `maxSize` a side; the region grown by `margin` of its size on each
 * side so small pans need no new request.
 */
export function chooseView(visible: Rect, s: number, rows: number, cols: number, maxSize: number, margin = 0.25): ViewRequest {
  const screenBin = Math.max(1, Math.floor(s));
  const h = Math.max(1, visible.r1 - visible.r0);
  const w = Math.max(1, visible.c1 - visible.c0);
  const r0 = Math.max(0, Math.floor(visible.r0 - margin * h));
  const c0 = Math.max(0, Math.floor(visible.c0 - margin * w));
  const r1 = Math.min(rows, Math.ceil(visible.r1 + margin * h));
  const c1 = Math.min(cols, Math.ceil(visible.c1 + margin * w));
  if ((r1 - r0) * (c1 - c0) >= WHOLE_FRACTION * rows * cols) {
    return { roi: null, binning: Math.max(screenBin, fitBinning(rows, cols, maxSize)) };
  }
  const binning = Math.max(screenBin, fitBinning(r1 - r0, c1 - c0, maxSize));
  // at least one binned pixel each way
  const nr = Math.min(rows - r0, Math.max(r1 - r0, binning));
  const nc = Math.min(cols - c0, Math.max(c1 - c0, binning));
  return { roi: [r0, c0, nr, nc], binning: Math.min(binning, nr, nc) };
}

/** Whether the current request still serves a visible region that wants `wanted`: same binning, region inside. */
export function stillServes(current: ViewRequest | null, wanted: ViewRequest, visible: Rect): boolean {
  if (!current || current.binning !== wanted.binning) return false;
  if (current.roi === null) return true; // the whole frame at the wanted binning
  const [r0, c0, nr, nc] = current.roi;
  return visible.r0 >= r0 && visible.c0 >= c0 && visible.r1 <= r0 + nr && visible.c1 <= c0 + nc;
}

export function sameView(a: ViewRequest | null, b: ViewRequest | null): boolean {
  if (!a || !b) return a === b;
  return a.binning === b.binning && JSON.stringify(a.roi) === JSON.stringify(b.roi);
}
