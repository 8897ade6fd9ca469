/**
 * The live 1D plot of LiveImage's line profile: a light 2D-canvas plot (a frame rate's worth of
 * redraws a second would be too much for Plotly), with ticked, labelled axes. Its data-* attributes
 * carry the samples drawn (for tests and scripts).
 */
import { formatValue } from '../colormap.js';
import { el } from '../daqview.js';
import { niceTicks, tickLabel } from './axes.js';
import type { ProfileData } from './profile.js';

const HEIGHT = 150;
const M = { l: 56, r: 12, t: 8, b: 30 };

export class ProfilePlot {
  readonly el = el('div', 'daqlab-li-profile');
  readonly canvas = el('canvas');
  private color = '';
  private width = 0;

  constructor() {
    this.el.append(this.canvas);
    this.el.style.display = 'none';
  }

  show(visible: boolean): void {
    this.el.style.display = visible ? '' : 'none';
    this.width = 0;
  }

  /** The widget was resized: read the width once here, not per plot (a read after a DOM write forces layout). */
  resized(): void {
    this.width = this.el.clientWidth || 600;
  }

  draw(data: ProfileData | null, title: string): void {
    const c = this.canvas;
    if (!this.width) this.resized();
    const width = this.width;
    const dpr = window.devicePixelRatio || 1;
    // resized (and the theme colour read) only when the width changes: the plot follows the frames
    if (c.width !== Math.round(width * dpr) || !this.color) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(HEIGHT * dpr);
      c.style.width = `${width}px`;
      c.style.height = `${HEIGHT}px`;
      this.color = getComputedStyle(this.el).color || '#888';
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    const color = this.color;
    ctx.fillStyle = ctx.strokeStyle = color;
    ctx.font = '10px sans-serif';
    const n = data?.value.length ?? 0;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = data!.value[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.el.dataset.samples = String(n);
    this.el.dataset.max = Number.isFinite(hi) ? String(hi) : '';
    if (!data || !n || !Number.isFinite(lo)) {
      ctx.textAlign = 'center';
      ctx.fillText('profile: click (horizontal / vertical) or drag (line) on the image', width / 2, HEIGHT / 2);
      return;
    }
    if (!(hi > lo)) hi = lo + 1;
    const x1 = data.position[n - 1] + (n > 1 ? data.position[1] - data.position[0] : 1) / 2;
    const px = (p: number) => M.l + (p / x1) * (width - M.l - M.r);
    const py = (v: number) => HEIGHT - M.b - ((v - lo) / (hi - lo)) * (HEIGHT - M.t - M.b);
    // axes, ticks, labels
    ctx.strokeRect(M.l, M.t, width - M.l - M.r, HEIGHT - M.t - M.b);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xt = niceTicks(0, x1, Math.max(2, Math.floor(width / 90)));
    for (const v of xt) {
      ctx.fillRect(px(v), HEIGHT - M.b, 1, 4);
      ctx.fillText(tickLabel(v, xt.length > 1 ? xt[1] - xt[0] : 1), px(v), HEIGHT - M.b + 5);
    }
    ctx.fillText(`${title}: position along the line (px)`, M.l + (width - M.l - M.r) / 2, HEIGHT - 12);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of niceTicks(lo, hi, 4)) {
      ctx.fillRect(M.l - 4, py(v), 4, 1);
      ctx.fillText(formatValue(v), M.l - 6, py(v));
    }
    ctx.save();
    ctx.translate(10, M.t + (HEIGHT - M.t - M.b) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('mean / px', 0, 0);
    ctx.restore();
    // the profile; masked samples (NaN) break the line
    ctx.strokeStyle = '#1f77b4';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < n; i++) {
      const v = data.value[i];
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      const x = px(data.position[i]);
      const y = py(v);
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  }
}
