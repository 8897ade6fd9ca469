/**
 * MCA: the live spectrum of a step scan's MCA (`<mca>:spectrum`) on its energy axis (the
 * calibration in the stream info), the newest point's or the sum over the points so far, with
 * the MCA's ROIs (the `<mca>:<roi>` streams' info) drawn as bands, and a log scale.
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient } from './client.js';
import { labelScan, type ScanSummaryLike } from './daqview.js';
import { PlotView } from './plot-view.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { energyAxis, type McaCalibration } from './scan-data.js';
import { ChannelSubscriptions, isStepScan, stepScan } from './scan-streams.js';
import { widgetIdentity } from './version.js';

export class McaModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('MCA'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      follow: false,
      mca: 'mca',
      sum: false,
      log_y: true,
      height: 320,
    };
  }
}

interface RoiBand {
  name: string;
  start: number;
  stop: number;
}

export class McaView extends PlotView {
  protected readonly cssClass = 'daqlab-mca';
  protected readonly redrawAttributes = 'change:sum change:log_y';
  protected readonly targetAttributes = 'change:scan change:mca';
  private energy: number[] = [];
  private last: Float64Array | null = null;
  private total: Float64Array | null = null;
  private points = 0;
  private rois: RoiBand[] = [];
  private subs = new ChannelSubscriptions();

  protected detach(client: DaqClient | null): void {
    this.subs.close(client);
  }

  private spectrumStream(): string {
    return `${this.model.get('mca') as string}:spectrum`;
  }

  protected async attach(client: DaqClient): Promise<void> {
    const stream = this.spectrumStream();
    let key = this.model.get('scan') as string;
    if (!key) {
      const { scans } = await client.request<{ scans: ScanSummaryLike[] }>('scans.search', {});
      const withMca = scans.filter((s) => isStepScan(s) && s.streams?.some((x) => x.name === stream));
      key = withMca.length ? withMca.reduce((a, b) => (b.seq > a.seq ? b : a)).key : '';
    }
    if (!key) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage(`no step scan with ${stream} yet: waiting for one…`);
      return;
    }
    const s = await stepScan(client, key);
    const spec = s.streams?.find((x) => x.name === stream);
    if (!spec) throw new Error(`mca: ${key} has no stream ${stream}`);
    const channels = spec.shape?.[0] ?? 0;
    this.energy = energyAxis(channels, spec.info?.calibration as McaCalibration | undefined);
    const mca = this.model.get('mca') as string;
    this.rois = (s.streams ?? [])
      .filter((x) => x.info?.kind === 'roi' && x.info.device === mca)
      .map((x) => x.info!.roi as RoiBand)
      .filter((r) => r && Number.isFinite(r.start) && Number.isFinite(r.stop));
    this.last = null;
    this.total = new Float64Array(channels);
    this.points = 0;
    this.dirty = true;
    const total = this.total;
    await this.subs.add(
      client,
      key,
      stream,
      (item) => {
        if (!item.valid) return;
        const d = Float64Array.from(item.data as ArrayLike<number>);
        for (let i = 0; i < Math.min(d.length, total.length); i++) total[i] += d[i];
        this.last = d;
        this.points++;
      },
      () => (this.dirty = true),
    );
    if (client !== this.client) return this.subs.close(client);
    await labelScan(this.statusLabel, client, key, ` · ${s.info.title ?? ''} · ${stream}`);
    this.showMessage(null);
  }

  protected async followScan(_client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    return isStepScan(scan) ? { scan: scan.key } : null;
  }

  protected async draw(): Promise<void> {
    const y = this.model.get('sum') ? this.total : this.last;
    if (!y) return;
    const Plotly = await loadPlotly();
    if (this.closed) return;
    const log = Boolean(this.model.get('log_y'));
    this.el.dataset.points = String(this.points);
    this.el.dataset.channels = String(y.length);
    this.el.dataset.rois = String(this.rois.length);
    this.summary.textContent = `${this.model.get('sum') ? 'sum of' : 'point'} ${this.points} · ${this.rois.length} ROIs`;
    const shapes = this.rois.map((r) => ({ type: 'rect', xref: 'x', x0: r.start, x1: r.stop, yref: 'paper', y0: 0, y1: 1, fillcolor: 'rgba(255,127,14,0.15)', line: { width: 0 } }));
    const annotations = this.rois.map((r) => ({ xref: 'x', x: (r.start + r.stop) / 2, yref: 'paper', y: 1, text: r.name, showarrow: false, yanchor: 'bottom', font: { size: 10, color: '#ff7f0e' } }));
    await Plotly.react(
      this.plot,
      [{ type: 'scatter', mode: 'lines', name: 'spectrum', x: this.energy, y: Array.from(y, (v) => (log && v <= 0 ? null : v)), line: { color: '#1f77b4', width: 1 } }],
      {
        ...baseLayout(this.model.get('height') as number),
        margin: { l: 56, r: 20, t: 20, b: 40 },
        xaxis: { title: { text: 'energy (eV)' } },
        // counts below 1 do not exist: a log axis starting under 1 labels 0.9 as a stray "9" (Plotly's D1 digits)
        yaxis: { title: { text: 'counts' }, type: log ? 'log' : 'linear', ...(log ? { autorangeoptions: { minallowed: 0 } } : {}) },
        shapes,
        annotations,
      },
      PLOT_CONFIG,
    );
  }
}
