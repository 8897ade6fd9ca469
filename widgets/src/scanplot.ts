/**
 * ScanPlot: counters of a step scan against the scanned motor (or time), live. Several counters,
 * normalisation by a monitor, log y, derivative, and markers at the peak and cen of each curve
 * (reported back to Python as `stats`). Clicking a point sets `selected` (its index; Python's
 * `ScanPlot.show_frames` shows that point's frame in a LiveImage). With `follow` it switches to each new step scan. Every
 * channel is a lossless subscription to one stream of the scan, joined by point index
 * (scan-data.ts). The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient } from './client.js';
import { labelScan, type ScanSummaryLike } from './daqview.js';
import { PlotView } from './plot-view.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { PointTable, derivative, normalise, peakStats, type PeakStats } from './scan-data.js';
import { ChannelSubscriptions, isStepScan, scalarOf, stepScan } from './scan-streams.js';
import { widgetIdentity } from './version.js';

export class ScanPlotModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('ScanPlot'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      follow: false,
      x: '',
      counters: [],
      monitor: '',
      log_y: false,
      derivative: false,
      markers: true,
      height: 320,
      stats: {},
      selected: -1,
    };
  }
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export class ScanPlotView extends PlotView {
  protected readonly cssClass = 'daqlab-scanplot';
  protected readonly redrawAttributes = 'change:log_y change:derivative change:markers change:selected';
  protected readonly targetAttributes = 'change:scan change:x change:counters change:monitor';
  private table = new PointTable([]);
  private xName = '';
  private yNames: string[] = [];
  private monitor = '';
  private npoints: number | null = null;
  private subs = new ChannelSubscriptions();
  private clickBound = false;

  protected detach(client: DaqClient | null): void {
    this.subs.close(client);
  }

  protected async attach(client: DaqClient): Promise<void> {
    const key = await this.resolveStepScan(client);
    if (!key) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage('no step scan yet: waiting for one…');
      return;
    }
    const s = await stepScan(client, key);
    const channels = s.info.channels ?? [];
    const x = (this.model.get('x') as string) || s.info.plotselect?.x || 'elapsed_time';
    const wanted = this.model.get('counters') as string[];
    const ys = wanted.length ? wanted : s.info.plotselect?.y ? [s.info.plotselect.y] : [];
    const monitor = this.model.get('monitor') as string;
    for (const [field, names] of [['x', [x]], ['counters', ys], ['monitor', monitor ? [monitor] : []]] as const) {
      const missing = names.filter((n) => !channels.includes(n));
      if (missing.length) throw new Error(`${field}: ${missing.join(', ')} not in the scan (channels: ${channels.filter((c) => !c.includes(':spectrum') && !c.includes(':image')).join(', ')})`);
    }
    if (ys.length === 0) throw new Error('counters: the scan has no counter to plot');
    this.xName = x;
    this.yNames = ys;
    this.monitor = monitor;
    this.npoints = s.info.npoints ?? null;
    const names = [...new Set([x, ...ys, ...(monitor ? [monitor] : [])])];
    this.table = new PointTable(names);
    if (key !== this.el.dataset.scan && (this.model.get('selected') as number) >= 0) this.setAndSave({ selected: -1 }); // a new scan: nothing selected yet
    this.el.dataset.scan = key;
    this.dirty = true;
    for (const name of names) {
      await this.subs.add(client, key, name, (item) => this.table.set(name, item.index, scalarOf(item)), () => (this.dirty = true));
    }
    if (client !== this.client) return this.subs.close(client);
    this.el.dataset.title = s.info.title ?? '';
    await labelScan(this.statusLabel, client, key, ` · ${s.info.title ?? ''}`);
    this.showMessage(null);
  }

  /** the model's scan, or the newest step scan */
  private async resolveStepScan(client: DaqClient): Promise<string | null> {
    const scan = this.model.get('scan') as string;
    if (scan) return scan;
    const { scans } = await client.request<{ scans: ScanSummaryLike[] }>('scans.search', {});
    const steps = scans.filter(isStepScan);
    return steps.length ? steps.reduce((a, b) => (b.seq > a.seq ? b : a)).key : null;
  }

  protected async followScan(_client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    return isStepScan(scan) ? { scan: scan.key } : null;
  }

  private curves(): { name: string; x: number[]; y: number[]; stats: PeakStats | null }[] {
    const x = this.table.column(this.xName);
    const m = this.monitor ? this.table.column(this.monitor) : null;
    return this.yNames.map((name) => {
      let y = this.table.column(name);
      let label = name;
      if (m) {
        y = normalise(y, m);
        label = `${name} / ${this.monitor}`;
      }
      if (this.model.get('derivative')) {
        y = derivative(x, y);
        label = `d(${label})/d${this.xName}`;
      }
      return { name: label, x, y, stats: peakStats(x, y) };
    });
  }

  protected async draw(): Promise<void> {
    const Plotly = await loadPlotly();
    if (this.closed) return;
    const rows = this.table.rows;
    const curves = this.curves();
    this.el.dataset.points = String(rows);
    this.summary.textContent = `${rows}${this.npoints ? ` / ${this.npoints}` : ''} points`;
    const markers = Boolean(this.model.get('markers'));
    const twin = curves.length === 2;
    const logY = this.model.get('log_y') ? 'log' : 'linear';
    const stats: Record<string, PeakStats> = {};
    const shapes: unknown[] = [];
    const annotations: unknown[] = [];
    curves.forEach((c, k) => {
      if (!c.stats) return;
      stats[c.name] = c.stats;
      if (!markers || rows < 3) return;
      const color = COLORS[k % COLORS.length];
      for (const [what, at, dash] of [['peak', c.stats.peak, 'dot'], ['cen', c.stats.cen, 'dash']] as const) {
        shapes.push({ type: 'line', xref: 'x', x0: at, x1: at, yref: 'paper', y0: 0, y1: 1, line: { color, dash, width: 1 } });
        annotations.push({ xref: 'x', x: at, yref: 'paper', y: what === 'peak' ? 1 : 0.94, text: `${what} ${at.toPrecision(4)}`, showarrow: false, xanchor: 'left', font: { color, size: 10 } });
      }
    });
    // the selected point (a click, or `selected` from Python): a solid grey line at its position
    const selected = this.model.get('selected') as number;
    const xs = curves[0]?.x ?? [];
    if (selected >= 0 && selected < xs.length && Number.isFinite(xs[selected])) {
      shapes.push({ type: 'line', xref: 'x', x0: xs[selected], x1: xs[selected], yref: 'paper', y0: 0, y1: 1, line: { color: '#555', width: 2 } });
      annotations.push({ xref: 'x', x: xs[selected], yref: 'paper', y: 0.88, text: `point ${selected}`, showarrow: false, xanchor: 'left', font: { color: '#555', size: 10 } });
    }
    this.el.dataset.selected = String(selected);
    await Plotly.react(
      this.plot,
      // two curves: the second on its own (right) axis, as counters rarely share a scale (diode vs an MCA ROI)
      curves.map((c, k) => ({ type: 'scatter', mode: 'lines+markers', name: c.name, x: c.x, y: c.y, ...(twin && k === 1 ? { yaxis: 'y2' } : {}), line: { color: COLORS[k % COLORS.length], width: 1.5 }, marker: { size: 5 } })),
      {
        ...baseLayout(this.model.get('height') as number),
        xaxis: { title: { text: this.xName }, autorange: true },
        yaxis: { title: { text: curves.length <= 2 ? (curves[0]?.name ?? '') : 'counts', font: { color: twin ? COLORS[0] : undefined } }, type: logY, autorange: true },
        ...(twin ? { yaxis2: { title: { text: curves[1].name, font: { color: COLORS[1] } }, overlaying: 'y', side: 'right', type: logY, autorange: true, showgrid: false } } : {}),
        shapes,
        annotations,
        showlegend: true,
      },
      PLOT_CONFIG,
    );
    this.bindClick();
    if (JSON.stringify(stats) !== JSON.stringify(this.model.get('stats'))) this.setAndSave({ stats });
  }

  /** A click on a point selects it: its index is the point's (the curves are joined by point index). */
  private bindClick(): void {
    const plot = this.plot as unknown as { on?: (event: string, fn: (ev: { points?: { pointIndex?: number }[] }) => void) => void };
    if (this.clickBound || typeof plot.on !== 'function') return;
    this.clickBound = true;
    plot.on('plotly_click', (ev) => {
      const i = ev.points?.[0]?.pointIndex;
      if (typeof i === 'number' && i >= 0) this.setAndSave({ selected: i });
    });
  }
}
