/**
 * The levels panel of LiveImage: labelled min/max inputs around a histogram of the drawn frame
 * (log counts) with the two levels as lines to drag, a percentile autoscale preset, and "lock
 * range" (auto_range off: the levels stay where they are while frames, zoom and pan change).
 */
import { AUTO_SCOPES } from './autoscope.js';
import { formatValue } from '../colormap.js';
import { el } from '../daqview.js';
import { LevelStats, PERCENTILE_PRESETS, presetLabel } from './levels.js';
import type { Model } from './model.js';

export class LevelsPanel {
  readonly el = el('div', 'daqlab-li-levels');
  readonly stats = new LevelStats(128);
  private readonly canvas = el('canvas', 'daqlab-li-histogram');
  private readonly vmin = el('input', 'daqlab-li-number daqlab-li-vmin');
  private readonly vmax = el('input', 'daqlab-li-number daqlab-li-vmax');
  private readonly preset = el('select', 'daqlab-li-percentiles');
  /** autoscale on the whole frame (zoom keeps the levels) or on the drawn view */
  private readonly scope = el('select', 'daqlab-li-autoscope');
  private readonly lock = el('input');
  /** the histogram's value axis: [lo, hi] */
  private span: [number, number] = [0, 1];
  private width = 0;

  constructor(private readonly model: Model, private readonly save: (values: Record<string, unknown>) => void) {
    const labelled = (text: string, input: HTMLElement, cls: string) => {
      const l = el('label', cls, text);
      l.append(input);
      return l;
    };
    for (const [input, name] of [[this.vmin, 'vmin'], [this.vmax, 'vmax']] as const) {
      input.type = 'number';
      input.title = `${name}: the value drawn with the ${name === 'vmin' ? 'lowest' : 'highest'} colour (locks the range)`;
      input.onchange = () => this.save({ [name]: Number(input.value), auto_range: false });
    }
    for (const p of PERCENTILE_PRESETS) this.preset.append(new Option(presetLabel(p), p.join(',')));
    this.preset.title = 'autoscale: the levels follow these percentiles of the drawn frame';
    this.preset.onchange = () => this.save({ auto_percentiles: this.preset.value.split(',').map(Number), auto_range: true });
    for (const sc of AUTO_SCOPES) this.scope.append(new Option(sc === 'frame' ? 'of frame' : 'of view', sc));
    this.scope.title = 'autoscale on the whole frame (zooming keeps the levels), or on the zoomed view';
    this.scope.onchange = () => this.save({ auto_scope: this.scope.value, auto_range: true });
    this.lock.type = 'checkbox';
    this.lock.onchange = () => this.save({ auto_range: !this.lock.checked });
    const lock = labelled('', this.lock, 'daqlab-li-check daqlab-li-check-lock');
    lock.append('lock range');
    lock.title = 'keep the levels: frames, zoom and pan no longer change them';
    this.canvas.title = 'histogram of the drawn frame (log counts): drag the min/max lines to set the levels';
    this.canvas.height = 40;
    const auto = labelled('auto ', this.preset, 'daqlab-li-auto');
    auto.append(this.scope);
    this.el.append(labelled('min ', this.vmin, 'daqlab-li-level'), this.canvas, labelled('max ', this.vmax, 'daqlab-li-level'), auto, lock);
    this.bindDrag();
  }

  /** The widget was resized: read the width once here, not per histogram (a read after a DOM write forces layout). */
  resized(): void {
    this.width = this.canvas.clientWidth || 240;
  }

  /** A new frame's values (called at a bounded rate). Returns the autoscale levels when auto_range is on. */
  update(values: ArrayLike<number>, ignoreAbove: number): [number, number] | null {
    this.stats.update(values, ignoreAbove);
    this.draw();
    if (!this.model.get('auto_range')) return null;
    const [lo, hi] = (this.model.get('auto_percentiles') as number[]) ?? [1, 99.5];
    return this.stats.range(lo, hi);
  }

  sync(): void {
    const auto = Boolean(this.model.get('auto_range'));
    this.lock.checked = !auto;
    for (const [input, name] of [[this.vmin, 'vmin'], [this.vmax, 'vmax']] as const) {
      if (document.activeElement !== input) input.value = String(+(this.model.get(name) as number).toPrecision(6));
    }
    const p = ((this.model.get('auto_percentiles') as number[]) ?? []).join(',');
    if (![...this.preset.options].some((o) => o.value === p)) this.preset.append(new Option(`${p.replace(',', '–')} %`, p));
    this.preset.value = p;
    this.scope.value = (this.model.get('auto_scope') as string) || 'frame';
    this.el.dataset.locked = String(!auto);
    this.draw();
  }

  /** Bars of log counts; the levels as lines, the clipped ends shaded. */
  draw(): void {
    const c = this.canvas;
    if (!this.width) this.resized();
    const width = this.width;
    const height = 40;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(width * dpr) || c.height !== Math.round(height * dpr)) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const s = this.stats;
    const vmin = this.model.get('vmin') as number;
    const vmax = this.model.get('vmax') as number;
    const lo = Math.min(s.lo, vmin);
    const hi = Math.max(s.hi, vmax);
    this.span = [lo, hi > lo ? hi : lo + 1];
    const x = (v: number) => ((v - this.span[0]) / (this.span[1] - this.span[0])) * width;
    const counts = s.counts;
    let top = 0;
    for (const n of counts) top = Math.max(top, Math.log1p(n));
    ctx.fillStyle = '#7a8fa6';
    const bw = (s.hi - s.lo) / counts.length;
    for (let i = 0; i < counts.length; i++) {
      if (!counts[i]) continue;
      const h = top ? (Math.log1p(counts[i]) / top) * (height - 12) : 0;
      const x0 = x(s.lo + i * bw);
      ctx.fillRect(x0, height - 12 - h, Math.max(1, x(s.lo + (i + 1) * bw) - x0), h);
    }
    ctx.fillStyle = 'rgba(0,0,0,0.25)';
    ctx.fillRect(0, 0, x(vmin), height - 12);
    ctx.fillRect(x(vmax), 0, width - x(vmax), height - 12);
    ctx.strokeStyle = '#ff4081';
    ctx.lineWidth = 2;
    for (const v of [vmin, vmax]) {
      ctx.beginPath();
      ctx.moveTo(x(v), 0);
      ctx.lineTo(x(v), height - 12);
      ctx.stroke();
    }
    ctx.fillStyle = '#888';
    ctx.font = '10px sans-serif';
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    ctx.fillText(formatValue(this.span[0]), 1, height);
    ctx.textAlign = 'right';
    ctx.fillText(formatValue(this.span[1]), width - 1, height);
    c.dataset.samples = String(s.count);
  }

  /** Drag the nearer level line; the range locks (auto_range off) and goes to Python on release. */
  private bindDrag(): void {
    const c = this.canvas;
    const valueAt = (e: MouseEvent) => {
      const r = c.getBoundingClientRect();
      return this.span[0] + ((e.clientX - r.left) / Math.max(1, r.width)) * (this.span[1] - this.span[0]);
    };
    c.addEventListener('mousedown', (e) => {
      e.preventDefault();
      const v = valueAt(e);
      const vmin = this.model.get('vmin') as number;
      const vmax = this.model.get('vmax') as number;
      const which = Math.abs(v - vmin) <= Math.abs(v - vmax) ? 'vmin' : 'vmax';
      const move = (ev: MouseEvent) => {
        const w = valueAt(ev);
        const other = this.model.get(which === 'vmin' ? 'vmax' : 'vmin') as number;
        // the two levels never cross
        this.model.set({ [which]: which === 'vmin' ? Math.min(w, other) : Math.max(w, other), auto_range: false });
      };
      const up = () => {
        window.removeEventListener('mousemove', move);
        window.removeEventListener('mouseup', up);
        this.model.save_changes();
      };
      move(e);
      window.addEventListener('mousemove', move);
      window.addEventListener('mouseup', up);
    });
  }
}
