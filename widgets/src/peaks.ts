/**
 * Peak overlay of LiveImage: the smx pipeline's `peaks` events (one per peak,
 * `{frame_idx, x, y, intensity, …}`) kept per frame, bounded, and drawn as
 * circles on a 2D canvas above the image.
 */
import type { EventItem } from './client.js';

export interface Peak {
  /** column and row of the centroid, detector pixels (pixel i spans i…i+1) */
  x: number;
  y: number;
  intensity: number;
}

/** Peaks by frame index; the oldest frames are dropped past `maxFrames` (Map keeps insertion order). */
export class PeakStore {
  private frames = new Map<number, Peak[]>();

  constructor(private readonly maxFrames = 4096) {}

  add(events: EventItem[]): Set<number> {
    const touched = new Set<number>();
    for (const { value } of events) {
      const frame = Number(value.frame_idx);
      const x = Number(value.x);
      const y = Number(value.y);
      if (!Number.isInteger(frame) || !Number.isFinite(x) || !Number.isFinite(y)) continue;
      let list = this.frames.get(frame);
      if (!list) {
        this.frames.set(frame, (list = []));
        if (this.frames.size > this.maxFrames) this.frames.delete(this.frames.keys().next().value as number);
      }
      list.push({ x, y, intensity: Number(value.intensity) });
      touched.add(frame);
    }
    return touched;
  }

  get(frame: number): Peak[] {
    return this.frames.get(frame) ?? [];
  }

  clear(): void {
    this.frames.clear();
  }

  get size(): number {
    return this.frames.size;
  }
}

/**
 * Draw circles around peaks; `toScreen` maps detector (column, row) to canvas
 * pixels; the radius is a few detector pixels but at least 5 screen pixels.
 */
export function drawPeaks(
  ctx: CanvasRenderingContext2D,
  peaks: readonly Peak[],
  toScreen: (x: number, y: number) => [number, number],
  pixelsPerDetectorPixel: number,
): void {
  const r = Math.max(5, 3 * pixelsPerDetectorPixel);
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#ff2a2a';
  ctx.beginPath();
  for (const p of peaks) {
    // centroids are in pixel-index coordinates: the centre of pixel i is at i + 0.5
    const [px, py] = toScreen(p.x + 0.5, p.y + 0.5);
    ctx.moveTo(px + r, py);
    ctx.arc(px, py, r, 0, 2 * Math.PI);
  }
  ctx.stroke();
}
