/**
 * The axes of LiveImage: detector rows down the left of the image and columns along the bottom,
 * in detector pixels, ticked with nice numbers for what is visible, redrawn only when the view moves.
 */
import { el } from '../daqview.js';
import { niceTicks, tickLabel } from './axes.js';
import type { ViewTransform } from './transform.js';

export const AXIS_LEFT = 48;
export const AXIS_BOTTOM = 30;

export class AxesView {
  readonly left = el('canvas', 'daqlab-li-axis daqlab-li-axis-rows');
  readonly bottom = el('canvas', 'daqlab-li-axis daqlab-li-axis-cols');
  private key = '';

  draw(t: ViewTransform, show: boolean): void {
    this.left.style.visibility = this.bottom.style.visibility = show ? 'visible' : 'hidden';
    const { width, height } = t.size;
    const key = `${t.key()}|${show}|${t.fullRows}`;
    if (!show || key === this.key) return;
    this.key = key;
    const dpr = window.devicePixelRatio || 1;
    const prep = (c: HTMLCanvasElement, w: number, h: number) => {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      const ctx = c.getContext('2d')!;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      ctx.fillStyle = ctx.strokeStyle = getComputedStyle(c).color || '#888';
      ctx.font = '10px sans-serif';
      ctx.lineWidth = 1;
      return ctx;
    };
    // columns along the bottom
    const b = prep(this.bottom, width, AXIS_BOTTOM);
    const c0 = t.toImage(0, 0).x;
    const c1 = t.toImage(width, 0).x;
    const cols = niceTicks(Math.max(0, c0), Math.min(t.fullCols || c1, c1), Math.max(2, Math.floor(width / 90)));
    const cstep = cols.length > 1 ? cols[1] - cols[0] : 1;
    b.textAlign = 'center';
    b.textBaseline = 'top';
    for (const v of cols) {
      const x = t.toScreen(v, 0)[0];
      const label = tickLabel(v, cstep);
      const half = b.measureText(label).width / 2;
      b.fillRect(Math.round(x), 0, 1, 4);
      b.fillText(label, Math.min(width - half, Math.max(half, x)), 5); // the end labels stay whole
    }
    b.fillText('column (px)', width / 2, 18);
    // rows down the left
    const l = prep(this.left, AXIS_LEFT, height);
    const r0 = t.toImage(0, 0).y;
    const r1 = t.toImage(0, height).y;
    const rows = niceTicks(Math.max(0, r0), Math.min(t.fullRows || r1, r1), Math.max(2, Math.floor(height / 60)));
    const rstep = rows.length > 1 ? rows[1] - rows[0] : 1;
    l.textAlign = 'right';
    l.textBaseline = 'middle';
    for (const v of rows) {
      const y = t.toScreen(0, v)[1];
      l.fillRect(AXIS_LEFT - 4, Math.round(y), 4, 1);
      l.fillText(tickLabel(v, rstep), AXIS_LEFT - 6, y);
    }
    l.save();
    l.translate(9, height / 2);
    l.rotate(-Math.PI / 2);
    l.textAlign = 'center';
    l.fillText('row (px)', 0, 0);
    l.restore();
    this.bottom.dataset.ticks = cols.join(',');
    this.left.dataset.ticks = rows.join(',');
  }
}
