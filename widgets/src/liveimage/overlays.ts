/**
 * What LiveImage draws above the image: the ROIs (DOM boxes, numbered as in `live.rois`,
 * RoiStats(roi=k) and the pipeline's roi_stats rows, with their live statistics beside them), and
 * on a 2D canvas the peaks of the drawn frame, the beam centre and q / 2θ rings of the scan's
 * geometry, and the profile line. The canvas is redrawn only when what it shows changes: a
 * cleared canvas still costs a composite.
 */
import type { EventItem } from '../client.js';
import { formatValue } from '../colormap.js';
import { el } from '../daqview.js';
import { PeakStore, drawPeaks, type Peak } from '../peaks.js';
import { beamCentre, chooseRings, ringPoints, type Poni, type RingUnit } from './geometry.js';
import type { Roi } from './model.js';
import type { Line, RoiStat } from './profile.js';
import type { ViewTransform } from './transform.js';

export interface OverlayState {
  rois: Roi[];
  /** the drawn frame's index (its peaks) */
  frame: number;
  showPeaks: boolean;
  geometry: Poni | null;
  rings: RingUnit | 'off';
  profile: Line | null;
  profileWidth: number;
}

/** peak centres listed in the canvas' data-peak-centres */
const MAX_DESCRIBED = 500;

export class Overlays {
  readonly el = el('div', 'daqlab-li-overlay');
  readonly canvas = el('canvas', 'daqlab-li-peaks');
  private key = '';
  private readonly peaks = new PeakStore();
  private statText: string[] = [];
  /** ring points in detector pixels, per geometry/unit/size (computed once, not per draw) */
  private ringCache: { key: string; rings: { label: string; points: Float64Array }[] } = { key: '', rings: [] };

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

  /** Live statistics beside the ROIs (one per ROI, in order); only the text changes. */
  setRoiStats(stats: RoiStat[]): void {
    this.statText = stats.map((s) => (s.pixels ? `mean ${formatValue(s.mean)} · max ${formatValue(s.max)} · sum ${formatValue(s.sum)}` : 'outside the drawn region'));
    for (const span of Array.from(this.el.querySelectorAll<HTMLElement>('.daqlab-li-roi-stats'))) {
      const k = Number(span.dataset.roi);
      span.textContent = this.statText[k] ?? '';
      if (stats[k]) Object.assign(span.dataset, { mean: String(stats[k].mean), max: String(stats[k].max), sum: String(stats[k].sum) });
    }
  }

  draw(t: ViewTransform, s: OverlayState): void {
    const peaks = s.showPeaks ? this.peaksOf(s.frame) : [];
    const key = [
      t.key(), this.canvas.width, this.canvas.height, JSON.stringify(s.rois), peaks.length ? `${s.frame}:${peaks.length}` : '',
      s.geometry && s.rings !== 'off' ? `${JSON.stringify(s.geometry)}${s.rings}${t.fullRows}x${t.fullCols}` : '',
      s.profile ? `${s.profile.join(',')}/${s.profileWidth}` : '',
    ].join('|');
    if (key === this.key) return;
    this.key = key;
    for (const old of Array.from(this.el.querySelectorAll('.daqlab-li-roi:not(.daqlab-li-roi-drawing)'))) old.remove();
    (s.rois ?? []).forEach(([r0, c0, nr, nc], k) => {
      const box = el('div', 'daqlab-li-roi');
      box.dataset.roi = String(k);
      box.title = `ROI ${k}: rows ${r0}+${nr}, cols ${c0}+${nc} (index ${k} in live.rois and the pipeline's roi_stats)`;
      const stats = el('span', 'daqlab-li-roi-stats', this.statText[k] ?? '');
      stats.dataset.roi = String(k);
      box.append(el('span', 'daqlab-li-roi-label', `ROI ${k}`), stats);
      const [left, top] = t.toScreen(c0, r0);
      Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${nc / t.s}px`, height: `${nr / t.s}px` });
      this.el.append(box);
    });
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (s.geometry && s.rings !== 'off' && t.fullRows) this.drawRings(ctx, t, s.geometry, s.rings);
    if (s.profile) this.drawProfileLine(ctx, t, s.profile, s.profileWidth);
    if (peaks.length) drawPeaks(ctx, peaks, (x, y) => t.toScreen(x, y), 1 / t.s);
    this.describePeaks(s.frame, peaks, t);
  }

  /**
   * What was circled, for tests and tools that check the overlay against the data: the acquisition
   * frame whose peaks these are and their centres in CSS pixels of the canvas (at most MAX_DESCRIBED;
   * written only when the canvas is redrawn).
   */
  private describePeaks(frame: number, peaks: readonly Peak[], t: ViewTransform): void {
    const centres = peaks.slice(0, MAX_DESCRIBED).map((p) => t.toScreen(p.x + 0.5, p.y + 0.5).map((v) => Math.round(v * 10) / 10));
    Object.assign(this.canvas.dataset, { peakFrame: String(peaks.length ? frame : -1), peakCount: String(peaks.length), peakCentres: JSON.stringify(centres) });
  }

  private drawRings(ctx: CanvasRenderingContext2D, t: ViewTransform, g: Poni, unit: RingUnit): void {
    const ck = `${JSON.stringify(g)}${unit}${t.fullRows}x${t.fullCols}`;
    if (this.ringCache.key !== ck) {
      const rings = chooseRings(g, t.fullRows, t.fullCols, unit).map((r) => ({ label: r.label, points: ringPoints(g, r.tth, 360) }));
      this.ringCache = { key: ck, rings };
    }
    const { width, height } = t.size;
    ctx.lineWidth = 1;
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'bottom';
    for (const { label, points } of this.ringCache.rings) {
      ctx.strokeStyle = 'rgba(255,255,255,0.75)';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      let pen = false;
      let labelAt: [number, number] | null = null;
      for (let k = 0; k <= points.length / 2; k++) {
        const i = k % (points.length / 2);
        const x = points[2 * i], y = points[2 * i + 1];
        if (!Number.isFinite(x)) {
          pen = false;
          continue;
        }
        const [px, py] = t.toScreen(x, y);
        if (pen) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        pen = true;
        // the label where the ring is on screen, nearest the top-left corner's side
        if (px > 4 && py > 14 && px < width - 80 && py < height - 2 && (!labelAt || py + px < labelAt[1] + labelAt[0])) labelAt = [px, py];
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (labelAt) {
        ctx.fillStyle = 'rgba(0,0,0,0.55)';
        const w = ctx.measureText(label).width + 4;
        ctx.fillRect(labelAt[0], labelAt[1] - 13, w, 13);
        ctx.fillStyle = '#fff';
        ctx.fillText(label, labelAt[0] + 2, labelAt[1]);
      }
    }
    const c = beamCentre(g);
    if (c) {
      const [px, py] = t.toScreen(c[0], c[1]);
      ctx.strokeStyle = '#00e5ff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(px - 8, py);
      ctx.lineTo(px + 8, py);
      ctx.moveTo(px, py - 8);
      ctx.lineTo(px, py + 8);
      ctx.stroke();
    }
    this.canvas.dataset.rings = String(this.ringCache.rings.length);
  }

  private drawProfileLine(ctx: CanvasRenderingContext2D, t: ViewTransform, line: Line, width: number): void {
    const [x0, y0] = t.toScreen(line[0], line[1]);
    const [x1, y1] = t.toScreen(line[2], line[3]);
    ctx.strokeStyle = '#ffd54f';
    if (width > 1) {
      ctx.globalAlpha = 0.3;
      ctx.lineWidth = Math.max(1, width / t.s);
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }
}
