/**
 * What LiveImage draws above the image: the ROIs (DOM boxes, numbered as in `live.rois`,
 * RoiStats(roi=k) and the pipeline's roi_stats rows) and the peaks of the drawn frame (a 2D
 * canvas). Redrawn only when what they show changes: a cleared canvas still costs a composite.
 */
import type { EventItem } from '../client.js';
import { el } from '../daqview.js';
import { PeakStore, drawPeaks, type Peak } from '../peaks.js';
import type { Roi } from './model.js';
import type { ViewTransform } from './transform.js';

export class Overlays {
  readonly el = el('div', 'daqlab-li-overlay');
  readonly canvas = el('canvas', 'daqlab-li-peaks');
  private key = '';
  private readonly peaks = new PeakStore();

  constructor() {
    this.el.append(this.canvas);
  }

  // ------------------------------------------------------------ peaks (the smx pipeline's `peaks` events)

  /** New peak events; returns the frames they belong to. */
  addPeaks(events: EventItem[]): Set<number> {
    return this.peaks.add(events);
  }

  clearPeaks(): void {
    this.peaks.clear();
  }

  /** The peaks to circle on drawn frame `frame` (the one place that looks them up). */
  peaksOf(frame: number): Peak[] {
    return frame >= 0 ? this.peaks.get(frame) : [];
  }

  // ------------------------------------------------------------ drawing

  resize(width: number, height: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.key = ''; // resizing cleared the canvas
  }

  /** ROIs and the peaks of drawn frame `frame` (when `showPeaks`). */
  draw(t: ViewTransform, rois: Roi[], frame: number, showPeaks: boolean): void {
    const peaks = showPeaks ? this.peaksOf(frame) : [];
    const key = [t.key(), this.canvas.width, this.canvas.height, JSON.stringify(rois), peaks.length ? `${frame}:${peaks.length}` : ''].join('|');
    if (key === this.key) return;
    this.key = key;
    for (const old of Array.from(this.el.querySelectorAll('.daqlab-li-roi:not(.daqlab-li-roi-drawing)'))) old.remove();
    (rois ?? []).forEach(([r0, c0, nr, nc], k) => {
      const box = el('div', 'daqlab-li-roi');
      box.dataset.roi = String(k);
      box.title = `ROI ${k}: rows ${r0}+${nr}, cols ${c0}+${nc} (index ${k} in live.rois and the pipeline's roi_stats)`;
      box.append(el('span', 'daqlab-li-roi-label', `ROI ${k}`));
      const [left, top] = t.toScreen(c0, r0);
      Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${nc / t.s}px`, height: `${nr / t.s}px` });
      this.el.append(box);
    });
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (peaks.length) drawPeaks(ctx, peaks, (x, y) => t.toScreen(x, y), 1 / t.s);
  }
}
