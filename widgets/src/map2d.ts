/**
 * Map2D: a mesh scan (amesh/dmesh) as an image on the two motors' axes, for a counter or an MCA
 * ROI (any scalar channel), filling in as the points arrive. LiveImage's colour tables, a log
 * scale and levels (auto: percentiles of what is measured, or `vmin`/`vmax`). The grid comes
 * from the scan info (`grid`); each point's value lands in its cell (scan-data.ts MeshImage).
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient } from './client.js';
import { COLORMAPS, percentileRange, type Colormap } from './colormap.js';
import { DaqView, el, labelScan, type ScanSummaryLike } from './daqview.js';
import { PLOT_CONFIG, baseLayout, loadPlotly } from './plot.js';
import { MeshImage, plotlyColorscale } from './scan-data.js';
import { ChannelSubscriptions, isStepScan, scalarOf, stepScan } from './scan-streams.js';
import { widgetIdentity } from './version.js';

export class Map2DModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('Map2D'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      follow: false,
      counter: '',
      colormap: 'viridis',
      scale: 'linear',
      vmin: null,
      vmax: null,
      height: 420,
    };
  }
}

/** the shortest time between two redraws of the map, ms */
const REDRAW_MS = 100;

export class Map2DView extends DaqView {
  protected readonly cssClass = 'daqlab-map2d';
  protected readonly targetAttributes = 'change:scan change:counter';
  private plot!: HTMLDivElement;
  private summary!: HTMLSpanElement;
  private cmapSelect!: HTMLSelectElement;
  private image: MeshImage | null = null;
  private counter = '';
  private subs = new ChannelSubscriptions();
  private dirty = false;
  private drawing = false;

  protected build(): void {
    this.cmapSelect = el('select', 'daqlab-map2d-cmap');
    this.cmapSelect.append(...COLORMAPS.map((c) => new Option(c, c)));
    this.cmapSelect.value = this.model.get('colormap') as string;
    this.cmapSelect.onchange = () => this.setAndSave({ colormap: this.cmapSelect.value });
    this.summary = el('span', 'daqlab-chart-summary', '');
    this.plot = el('div', 'daqlab-chart-plot');
    this.toolbar.append(this.cmapSelect, this.summary);
    this.stage.append(this.plot);
    this.stage.style.height = `${this.model.get('height')}px`;
    this.listenTo(this.model, 'change:colormap change:scale change:vmin change:vmax change:height', () => {
      this.cmapSelect.value = this.model.get('colormap') as string;
      this.stage.style.height = `${this.model.get('height')}px`;
      this.dirty = true;
    });
    // a tick skipped while Plotly still draws: 100 ms gives the ≥ 5 Hz a fly mesh needs (about 4 Hz at 200 ms)
    this.timers.push(setInterval(() => this.tick(), REDRAW_MS));
  }

  protected detach(client: DaqClient | null): void {
    this.subs.close(client);
  }

  protected async attach(client: DaqClient): Promise<void> {
    const key = await this.resolveMesh(client);
    if (!key) {
      this.statusLabel.textContent = 'waiting';
      this.showMessage('no mesh scan yet: waiting for one…');
      return;
    }
    const s = await stepScan(client, key);
    if (!s.info.grid) throw new Error(`${key} (${s.info.title}) is not a mesh scan`);
    const channels = s.info.channels ?? [];
    const counter = (this.model.get('counter') as string) || s.info.plotselect?.y || '';
    if (!channels.includes(counter) || counter.endsWith(':spectrum') || counter.endsWith(':image')) {
      throw new Error(`counter: ${JSON.stringify(counter)} is no scalar channel of the scan (channels: ${channels.filter((c) => !c.includes(':spectrum') && !c.includes(':image')).join(', ')})`);
    }
    const image = new MeshImage(s.info.grid);
    this.image = image;
    this.counter = counter;
    this.dirty = true;
    await this.subs.add(client, key, counter, (item) => image.set(item.index, scalarOf(item)), () => (this.dirty = true));
    if (client !== this.client) return this.subs.close(client);
    await labelScan(this.statusLabel, client, key, ` · ${s.info.title ?? ''}`);
    this.showMessage(null);
  }

  private async resolveMesh(client: DaqClient): Promise<string | null> {
    const scan = this.model.get('scan') as string;
    if (scan) return scan;
    const { scans } = await client.request<{ scans: ScanSummaryLike[] }>('scans.search', {});
    const meshes = scans.filter((s) => isStepScan(s) && s.info?.grid);
    return meshes.length ? meshes.reduce((a, b) => (b.seq > a.seq ? b : a)).key : null;
  }

  protected async followScan(_client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    return isStepScan(scan) && scan.info?.grid ? { scan: scan.key } : null;
  }

  private tick(): void {
    if (!this.dirty || this.drawing) return;
    this.dirty = false;
    void this.draw();
  }

  private async draw(): Promise<void> {
    const image = this.image;
    if (!image) return;
    this.drawing = true;
    try {
      const Plotly = await loadPlotly();
      if (this.closed) return;
      const log = this.model.get('scale') === 'log';
      const tf = log ? (v: number) => (v > 0 ? Math.log10(v) : NaN) : (v: number) => v;
      const measured = Array.from(image.values.filter((v) => !Number.isNaN(v)), tf);
      let [lo, hi] = percentileRange(measured, 0, 100);
      const vmin = this.model.get('vmin') as number | null;
      const vmax = this.model.get('vmax') as number | null;
      if (vmin !== null) lo = tf(vmin);
      if (vmax !== null) hi = tf(vmax);
      this.el.dataset.filled = String(image.filled);
      this.el.dataset.cells = String(image.nx * image.ny);
      this.summary.textContent = `${image.filled} / ${image.nx * image.ny} points`;
      const [ax, ay] = image.grid.axes;
      await Plotly.react(
        this.plot,
        [
          {
            type: 'heatmap',
            x: image.axis(0),
            y: image.axis(1),
            z: image.rows(tf),
            zmin: lo,
            zmax: hi,
            colorscale: plotlyColorscale(this.model.get('colormap') as Colormap),
            colorbar: { title: { text: log ? `log₁₀ ${this.counter}` : this.counter }, thickness: 12 },
            hoverongaps: false,
          },
        ],
        {
          ...baseLayout(this.model.get('height') as number),
          margin: { l: 56, r: 20, t: 10, b: 40 },
          xaxis: { title: { text: ax.axis }, constrain: 'domain' },
          yaxis: { title: { text: ay.axis }, scaleanchor: 'x' },
        },
        PLOT_CONFIG,
      );
    } finally {
      this.drawing = false;
    }
  }
}
