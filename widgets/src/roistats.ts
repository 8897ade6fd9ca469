/**
 * RoiStats: a time series of one statistic (sum, mean, std, min, max) of one
 * region of interest from the legacy pipeline's `roi_stats` stream (per frame,
 * per ROI: [sum, mean, std, min, max]). Read losslessly, bounded and decimated
 * like HitRate, redrawn at most twice a second. Changing `roi` or `statistic`
 * reads the stream again from its start.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient, DataMessage } from './client.js';
import { DaqView, el, labelScan, type ScanSummaryLike } from './daqview.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { DecimatedSeries, ROI_STATISTICS, roiValue, type RoiStatistic } from './series.js';
import { FrameTally, acquisitionFrame } from './frame-join.js';
import { widgetIdentity } from './version.js';

export class RoiStatsModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('RoiStats'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'roi_stats',
      follow: false,
      roi: 0,
      statistic: 'sum',
      max_points: 5000,
      log_y: false,
      height: 320,
    };
  }
}

export class RoiStatsView extends DaqView {
  protected readonly cssClass = 'daqlab-roistats';
  protected readonly targetAttributes = 'change:scan change:stream change:roi change:statistic';
  private plot!: HTMLDivElement;
  private summary!: HTMLSpanElement;
  private roiSelect!: HTMLSelectElement;
  private statSelect!: HTMLSelectElement;
  private series = new DecimatedSeries(5000);
  /** acquisition frames on the x axis and how many have a value: the summary counts what the axis shows */
  private tally = new FrameTally();
  private roiNames: string[] = [];
  private sub: string | null = null;
  private dirty = false;
  private drawing = false;

  protected build(): void {
    this.roiSelect = el('select');
    this.roiSelect.title = 'roi';
    this.roiSelect.onchange = () => this.setAndSave({ roi: Number(this.roiSelect.value) });
    this.statSelect = el('select');
    this.statSelect.title = 'statistic';
    for (const s of ROI_STATISTICS) this.statSelect.append(new Option(s, s));
    this.statSelect.value = this.model.get('statistic') as string;
    this.statSelect.onchange = () => this.setAndSave({ statistic: this.statSelect.value });
    this.summary = el('span', 'daqlab-chart-summary', '');
    this.toolbar.append(this.roiSelect, this.statSelect, this.summary);
    this.plot = el('div', 'daqlab-chart-plot');
    this.stage.append(this.plot);
    this.stage.style.height = `${this.model.get('height')}px`;
    this.listenTo(this.model, 'change:max_points', () => {
      this.series.setMaxPoints(this.model.get('max_points') as number);
      this.dirty = true;
    });
    this.listenTo(this.model, 'change:log_y change:height change:statistic change:roi', () => {
      this.stage.style.height = `${this.model.get('height')}px`;
      this.statSelect.value = this.model.get('statistic') as string;
      this.roiSelect.value = String(this.model.get('roi'));
      this.dirty = true;
    });
    this.timers.push(setInterval(() => this.tick(), 500));
  }

  protected detach(client: DaqClient | null): void {
    if (this.sub && client) void client.unsubscribe(this.sub);
    this.sub = null;
  }

  protected async attach(client: DaqClient): Promise<void> {
    const stream = this.model.get('stream') as string;
    const scan = await this.resolveScan(client);
    if (!scan) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage('no scan yet: waiting for an acquisition…');
      return;
    }
    const info = await client.request<{ shape?: number[]; info?: { rois?: { name?: string }[] } }>('stream.info', { scan, stream });
    const shape = info.shape ?? [];
    if (shape.length !== 2 || shape[1] !== ROI_STATISTICS.length) throw new Error(`${scan}/${stream} is not a ROI statistics stream (shape ${JSON.stringify(shape)})`);
    this.roiNames = Array.from({ length: shape[0] }, (_, i) => info.info?.rois?.[i]?.name ?? `roi ${i}`);
    this.roiSelect.replaceChildren(...this.roiNames.map((n, i) => new Option(`${i}: ${n}`, String(i))));
    const roi = this.model.get('roi') as number;
    if (roi >= shape[0]) throw new Error(`roi ${roi} does not exist: the stream has ${shape[0]} ROIs`);
    this.roiSelect.value = String(roi);
    this.series = new DecimatedSeries(this.model.get('max_points') as number);
    this.tally = new FrameTally();
    this.dirty = true;
    const statistic = this.model.get('statistic') as RoiStatistic;
    const result = await client.subscribe({ scan, stream, mode: 'lossless', start: 0 }, (msg) => this.onData(client, msg, roi, statistic));
    if (client !== this.client) return void client.unsubscribe(result.sub);
    this.sub = result.sub;
    await labelScan(this.statusLabel, client, scan, ` · ${stream}`);
    this.showMessage(null);
  }

  protected async followScan(client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    const s = await this.scanWithStream(client, scan.key, this.model.get('stream') as string);
    return s ? { scan: s.key } : null;
  }

  private onData(client: DaqClient, msg: DataMessage, roi: number, statistic: RoiStatistic): void {
    if (msg.header.sub !== this.sub && this.sub !== null) return;
    for (const item of msg.items) {
      const v = item.valid ? roiValue(item.data as ArrayLike<number>, roi, statistic) : NaN;
      const frame = acquisitionFrame(item); // x: acquisition frames, whatever was dropped before
      this.series.push(frame, v);
      this.tally.push(frame, false);
    }
    this.dirty = true;
    client.ack(msg.header.sub!, msg.header.msg);
  }

  private tick(): void {
    if (!this.dirty || this.drawing) return;
    this.dirty = false;
    void this.draw();
  }

  private async draw(): Promise<void> {
    this.drawing = true;
    try {
      const Plotly = await loadPlotly();
      if (this.closed) return;
      const roi = this.model.get('roi') as number;
      const statistic = this.model.get('statistic') as string;
      const name = this.roiNames[roi] ?? `roi ${roi}`;
      this.el.dataset.points = String(this.series.length);
      const n = this.series.length;
      this.summary.textContent = n ? `${this.tally.framesText()} · last ${this.series.y[n - 1].toPrecision(5)}` : '';
      await Plotly.react(
        this.plot,
        [{ type: 'scatter', mode: 'lines', name: `${name} · ${statistic}`, x: this.series.x, y: this.series.y, line: { color: '#9467bd', width: 1.5 } }],
        {
          ...baseLayout(this.model.get('height') as number),
          xaxis: { title: { text: 'frame' } },
          yaxis: { title: { text: `${statistic} (${name})` }, type: this.model.get('log_y') ? 'log' : 'linear' },
        },
        PLOT_CONFIG,
      );
    } finally {
      this.drawing = false;
    }
  }
}
