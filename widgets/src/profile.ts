/**
 * Profile: the live azimuthal integration of a scan, I(q) / I(2θ) / I(r), from
 * the azint pipeline's static `radial` stream (bin centres, info.unit) and its
 * per-frame `intensity` stream: the last curve and the running average over
 * every frame read. `log_y` switches the intensity axis to log. Redrawn at
 * most twice a second. The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient, DataMessage } from './client.js';
import { DaqView, el, labelScan, type ScanSummaryLike } from './daqview.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { RunningMean, radialAxisTitle } from './series.js';
import { acquisitionFrame } from './frame-join.js';
import { widgetIdentity } from './version.js';

export class ProfileModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('Profile'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'intensity',
      radial_stream: 'radial',
      follow: false,
      log_y: false,
      height: 320,
    };
  }
}

export class ProfileView extends DaqView {
  protected readonly cssClass = 'daqlab-profile';
  protected readonly targetAttributes = 'change:scan change:stream change:radial_stream';
  private plot!: HTMLDivElement;
  private summary!: HTMLSpanElement;
  private logBox!: HTMLInputElement;
  private radial: number[] | null = null;
  private unit = '';
  private last: number[] = [];
  private lastFrame = -1;
  private mean = new RunningMean();
  private subs: string[] = [];
  private dirty = false;
  private drawing = false;

  protected build(): void {
    const wrap = el('label', 'daqlab-chart-check');
    this.logBox = el('input');
    this.logBox.type = 'checkbox';
    this.logBox.checked = Boolean(this.model.get('log_y'));
    this.logBox.onchange = () => this.setAndSave({ log_y: this.logBox.checked });
    wrap.append(this.logBox, 'log y');
    this.summary = el('span', 'daqlab-chart-summary', '');
    this.toolbar.append(wrap, this.summary);
    this.plot = el('div', 'daqlab-chart-plot');
    this.stage.append(this.plot);
    this.stage.style.height = `${this.model.get('height')}px`;
    this.listenTo(this.model, 'change:log_y change:height', () => {
      this.logBox.checked = Boolean(this.model.get('log_y'));
      this.stage.style.height = `${this.model.get('height')}px`;
      this.dirty = true;
    });
    this.timers.push(setInterval(() => this.tick(), 500));
  }

  protected detach(client: DaqClient | null): void {
    if (client) for (const s of this.subs) void client.unsubscribe(s);
    this.subs = [];
  }

  protected async attach(client: DaqClient): Promise<void> {
    const stream = this.model.get('stream') as string;
    const radialStream = this.model.get('radial_stream') as string;
    const scan = await this.resolveScan(client);
    if (!scan) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage('no scan yet: waiting for an acquisition…');
      return;
    }
    const info = await client.request<{ shape?: number[]; info?: Record<string, unknown> }>('stream.info', { scan, stream });
    if ((info.shape ?? []).length !== 1) throw new Error(`${scan}/${stream} is not a 1D profile stream (shape ${JSON.stringify(info.shape)})`);
    this.radial = null;
    this.unit = String(info.info?.unit ?? '');
    this.last = [];
    this.lastFrame = -1;
    this.mean.clear();
    this.dirty = true;
    try {
      const rinfo = await client.request<{ info?: Record<string, unknown> }>('stream.info', { scan, stream: radialStream });
      this.unit = String(rinfo.info?.unit ?? this.unit);
      const r = await client.subscribe({ scan, stream: radialStream, mode: 'lossless', start: 0, stop: 1 }, (msg) => {
        const item = msg.items[0];
        if (item) {
          this.radial = Array.from(item.data as ArrayLike<number>, Number);
          this.dirty = true;
        }
        client.ack(msg.header.sub!, msg.header.msg);
      });
      this.subs.push(r.sub);
    } catch {
      // no radial stream: bin numbers on the x axis
    }
    const result = await client.subscribe({ scan, stream, mode: 'lossless', start: 0 }, (msg) => this.onData(client, msg));
    if (client !== this.client) return void client.unsubscribe(result.sub);
    this.subs.push(result.sub);
    await labelScan(this.statusLabel, client, scan, ` · ${stream}`);
    this.showMessage(null);
  }

  protected async followScan(client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    const s = await this.scanWithStream(client, scan.key, this.model.get('stream') as string);
    return s ? { scan: s.key } : null;
  }

  private onData(client: DaqClient, msg: DataMessage): void {
    for (const item of msg.items) {
      if (!item.valid) continue;
      this.mean.add(item.data as ArrayLike<number>);
      const frame = acquisitionFrame(item); // the curve's title names the acquisition frame, not the item position
      if (frame >= this.lastFrame) {
        this.lastFrame = frame;
        this.last = Array.from(item.data as ArrayLike<number>, Number);
      }
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
      const n = this.last.length;
      const x = this.radial && this.radial.length === n ? this.radial : Array.from({ length: n }, (_, i) => i);
      const logY = Boolean(this.model.get('log_y'));
      // zeros (empty bins) cannot be drawn on a log axis
      const clean = (ys: number[]) => (logY ? ys.map((v) => (v > 0 ? v : NaN)) : ys);
      this.el.dataset.points = String(n);
      this.el.dataset.frames = String(this.mean.count);
      this.summary.textContent = n ? `frame ${this.lastFrame} · average of ${this.mean.count}` : '';
      await Plotly.react(
        this.plot,
        [
          { type: 'scatter', mode: 'lines', name: `frame ${this.lastFrame}`, x, y: clean(this.last), line: { color: '#1f77b4', width: 1 } },
          { type: 'scatter', mode: 'lines', name: `average (${this.mean.count})`, x, y: clean(this.mean.mean()), line: { color: '#ff7f0e', width: 2 } },
        ],
        {
          ...baseLayout(this.model.get('height') as number),
          xaxis: { title: { text: this.radial ? radialAxisTitle(this.unit) : 'bin' } },
          yaxis: { title: { text: 'I (normalised)' }, type: logY ? 'log' : 'linear' },
        },
        PLOT_CONFIG,
      );
    } finally {
      this.drawing = false;
    }
  }
}
