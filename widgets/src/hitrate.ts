/**
 * HitRate: serial crystallography at a glance. Peaks per frame (markers), the
 * rolling hit fraction over the last `window` frames (line, right axis) and the
 * hit threshold (min_nb_peaks from the `peak_counter` stream info). The view
 * reads `peak_counter` losslessly in batches (acked per message), redraws at
 * most twice a second, and keeps a bounded, decimated history (`max_points`).
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient, DataMessage } from './client.js';
import { labelScan, type ScanSummaryLike } from './daqview.js';
import { PlotView } from './plot-view.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { DecimatedSeries, RollingFraction } from './series.js';
import { FrameTally, acquisitionFrame } from './frame-join.js';
import { widgetIdentity } from './version.js';

export class HitRateModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('HitRate'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'peak_counter',
      follow: false,
      window: 100,
      max_points: 5000,
      height: 320,
      hit_fraction: 0,
    };
  }
}

const REDRAW_MS = 500;

export class HitRateView extends PlotView {
  protected readonly cssClass = 'daqlab-hitrate';
  protected readonly redrawAttributes = '';
  protected override readonly redrawMs = REDRAW_MS;
  protected readonly targetAttributes = 'change:scan change:stream change:window';
  private peaks = new DecimatedSeries(5000);
  private fraction = new DecimatedSeries(5000);
  private rolling = new RollingFraction(100);
  private threshold: number | null = null;
  /** frames on the x axis (acquisition frames), analysed ones and hits: the header counts what the axis shows */
  private tally = new FrameTally();
  private scanKey = '';
  private sub: string | null = null;
  private lastSaved = NaN;
  private offEnd: (() => void) | null = null;

  protected override build(): void {
    super.build();
    this.listenTo(this.model, 'change:max_points', () => {
      const n = this.model.get('max_points') as number;
      this.peaks.setMaxPoints(n);
      this.fraction.setMaxPoints(n);
      this.dirty = true;
    });
  }

  protected detach(client: DaqClient | null): void {
    if (this.sub && client) void client.unsubscribe(this.sub);
    this.sub = null;
    this.offEnd?.();
    this.offEnd = null;
  }

  private reset(): void {
    const n = this.model.get('max_points') as number;
    this.peaks = new DecimatedSeries(n);
    this.fraction = new DecimatedSeries(n);
    this.rolling = new RollingFraction(this.model.get('window') as number);
    this.tally = new FrameTally();
    this.dirty = true;
  }

  protected async attach(client: DaqClient): Promise<void> {
    const stream = this.model.get('stream') as string;
    const scan = await this.resolveScan(client);
    if (!scan) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage('no scan yet: waiting for an acquisition…');
      return;
    }
    const info = await client.request<{ kind: string; info?: Record<string, unknown> }>('stream.info', { scan, stream });
    if (info.kind !== 'event') throw new Error(`${scan}/${stream} is not an event stream`);
    const t = Number(info.info?.min_nb_peaks);
    this.threshold = Number.isFinite(t) ? t : null;
    this.reset();
    this.scanKey = scan;
    const result = await client.subscribe({ scan, stream, mode: 'lossless', start: 0 }, (msg) => this.onData(client, msg));
    if (client !== this.client) return void client.unsubscribe(result.sub);
    this.sub = result.sub;
    await labelScan(this.statusLabel, client, scan, ` · ${stream}`);
    this.showMessage(null);
    this.offEnd = client.on('sub.end', (ev) => {
      if (ev.sub === result.sub && this.sub === result.sub) {
        this.sub = null;
        void labelScan(this.statusLabel, client, scan, ` · ${stream} · scan ended (${this.tally.framesText()})`);
      }
    });
  }

  protected async followScan(client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    const s = await this.scanWithStream(client, scan.key, this.model.get('stream') as string);
    return s ? { scan: s.key } : null;
  }

  private onData(client: DaqClient, msg: DataMessage): void {
    if (msg.header.sub !== this.sub) return;
    for (const ev of msg.events ?? []) {
      const v = ev.value;
      if (v.invalid) continue; // incomplete frame: no peak search
      const x = acquisitionFrame(ev);
      const hit = Boolean(v.is_hit);
      this.tally.push(x, hit);
      this.peaks.push(x, Number(v.nb_peaks ?? 0));
      this.fraction.push(x, this.rolling.push(hit));
    }
    this.dirty = true;
    client.ack(msg.header.sub, msg.header.msg);
  }

  /** Every REDRAW_MS: report the hit fraction to Python. */
  protected override onTick(): void {
    const f = this.rolling.value;
    if (Number.isFinite(f) && f !== this.lastSaved) {
      this.lastSaved = f;
      this.setAndSave({ hit_fraction: f });
    }
  }

  protected async draw(): Promise<void> {
    const Plotly = await loadPlotly();
    if (this.closed) return;
    const { analysed, hits } = this.tally;
    const f = this.rolling.value;
    this.summary.textContent = analysed
      ? `${this.tally.framesText()} · ${hits} hits (${((100 * hits) / analysed).toFixed(1)}% of analysed) · last ${this.rolling.count}: ${(100 * f).toFixed(1)}%`
      : '';
    this.el.dataset.points = String(this.peaks.length);
    this.el.dataset.frames = String(analysed);
    this.el.dataset.span = String(this.tally.span);
    const data: unknown[] = [
      { type: 'scatter', mode: 'markers', name: 'peaks / frame', x: this.peaks.x, y: this.peaks.y, marker: { size: 4, color: '#1f77b4', opacity: 0.6 } },
      { type: 'scatter', mode: 'lines', name: `hit fraction (last ${this.model.get('window')})`, x: this.fraction.x, y: this.fraction.y, yaxis: 'y2', line: { color: '#d62728', width: 2 } },
    ];
    const shapes =
      this.threshold !== null
        ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, yref: 'y', y0: this.threshold, y1: this.threshold, line: { color: '#2ca02c', dash: 'dash', width: 1.5 } }]
        : [];
    const annotations =
      this.threshold !== null
        ? [{ xref: 'paper', x: 1, yref: 'y', y: this.threshold, text: `min_nb_peaks ${this.threshold}`, showarrow: false, xanchor: 'right', yanchor: 'bottom', font: { color: '#2ca02c', size: 10 } }]
        : [];
    await Plotly.react(
      this.plot,
      data,
      {
        ...baseLayout(this.model.get('height') as number),
        // autorange named every time: an empty first draw with a fixed range left later draws on the
        // range of the first few points (the markers of later frames off the chart); with uirevision a
        // user's zoom still survives, since this value never changes
        xaxis: { title: { text: 'frame' }, autorange: true },
        yaxis: { title: { text: 'peaks' }, rangemode: 'tozero' },
        yaxis2: { title: { text: 'hit fraction' }, overlaying: 'y', side: 'right', range: [0, 1.02] },
        shapes,
        annotations,
      },
      PLOT_CONFIG,
    );
  }
}
