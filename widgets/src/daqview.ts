/**
 * The base of the chart/counter widget views (HitRate, Profile, RoiStats,
 * Progress): the view's own WebSocket to the daqlab server, the same
 * connect / hello / retry-with-back-off loop as LiveImage, a message over the
 * view when the server is unreachable or the data is not there (yet), and
 * "follow the current scan" through `scans.wait_next`.
 */
import { DOMWidgetView } from '@jupyter-widgets/base';
import { DaqClient, RequestError } from './client.js';
import { keepConnected, serverAddress, sleep } from './connection.js';
import { loadPlotly } from './plot.js';
import { dataUrlBlob, offerSnapshot } from './snapshots.js';

export interface ScanSummaryLike {
  key: string;
  seq: number;
  identity?: { name: string; number: number; proposal?: string; sample?: string };
  state?: string;
  info?: Record<string, unknown>;
  streams?: { name: string; kind: string; shape?: number[]; info?: Record<string, unknown> }[];
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

/**
 * A view's header names the scan as people know it ("name #number"); the key, which machines use, rides
 * along as `data-scan` and the tooltip. Falls back to the key when the server cannot say.
 */
export async function labelScan(label: HTMLElement, client: DaqClient, key: string, rest: string): Promise<void> {
  label.dataset.scan = key;
  label.title = key;
  label.textContent = `${key}${rest}`;
  try {
    const s = await client.request<ScanSummaryLike>('scan.get', { scan: key });
    if (label.dataset.scan === key && s.identity) label.textContent = `${s.identity.name} #${s.identity.number}${rest}`;
  } catch {
    // the key stays
  }
}

/** "name #number" of a scan summary, else its key. */
export function scanTitle(s: ScanSummaryLike | null | undefined, key: string): string {
  return s?.identity ? `${s.identity.name} #${s.identity.number}` : key;
}

export abstract class DaqView extends DOMWidgetView {
  protected client: DaqClient | null = null;
  protected toolbar!: HTMLDivElement;
  protected statusLabel!: HTMLSpanElement;
  protected stage!: HTMLDivElement;
  protected message!: HTMLDivElement;
  protected closed = false;
  protected timers: ReturnType<typeof setInterval>[] = [];
  private generation = 0;
  private wanted = '';
  private withdrawPicture: (() => void) | null = null;

  /** CSS class of the widget's root element */
  protected abstract readonly cssClass: string;
  /** model attributes whose change means "attach again" (space separated, Backbone style) */
  protected abstract readonly targetAttributes: string;
  /** Build the DOM inside `this.stage` / `this.toolbar`. */
  protected abstract build(): void;
  /** Attach to what the model names (subscribe, request initial state); throw to retry. */
  protected abstract attach(client: DaqClient): Promise<void>;
  /** Drop the current subscription/state (connection lost, or the target changed). */
  protected abstract detach(client: DaqClient | null): void;
  /** With `follow`: the model changes that switch to this new scan, or null to stay (may ask the server). */
  protected abstract followScan(client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null>;

  override render(): void {
    this.el.classList.add('daqlab-chart', this.cssClass);
    this.toolbar = el('div', 'daqlab-chart-toolbar');
    this.statusLabel = el('span', 'daqlab-chart-status');
    this.stage = el('div', 'daqlab-chart-stage');
    this.message = el('div', 'daqlab-chart-message', 'connecting…');
    this.build();
    this.toolbar.append(this.statusLabel);
    this.stage.append(this.message);
    this.el.append(this.toolbar, this.stage);
    this.listenTo(this.model, 'change:server_url change:token', () => this.restart());
    this.listenTo(this.model, this.targetAttributes, () => void this.reattach());
    this.withdrawPicture = offerSnapshot({ el: this.el, ready: () => this.chart() !== null, take: () => this.picture() });
    void this.run(this.generation);
  }

  /** The Plotly chart the view draws, once drawn (null for views without one, e.g. Progress). */
  private chart(): HTMLElement | null {
    return this.el.querySelector<HTMLElement>('.js-plotly-plot');
  }

  /** The chart as a PNG, named after the view's header (the scan as people know it). */
  private async picture(): Promise<{ name: string; png: Blob }> {
    const chart = this.chart();
    if (!chart) throw new Error('nothing plotted yet');
    const Plotly = await loadPlotly();
    const url = await Plotly.toImage(chart, { format: 'png', width: chart.clientWidth || 700, height: chart.clientHeight || 300 });
    const name = `${this.cssClass.replace(/^daqlab-/, '')}-${this.statusLabel.textContent || 'chart'}`.replace(/[^\w.#-]+/g, '_').slice(0, 80);
    return { name: `${name}.png`, png: dataUrlBlob(url) };
  }

  override remove(): void {
    this.closed = true;
    this.withdrawPicture?.();
    this.timers.forEach(clearInterval);
    this.detach(this.client);
    this.client?.close();
    super.remove();
  }

  protected setAndSave(values: Record<string, unknown>): void {
    this.model.set(values);
    this.model.save_changes();
  }

  protected showMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.style.display = text ? 'flex' : 'none';
    this.el.dataset.state = text ? 'message' : 'ok';
  }


  /** Connect, attach, and on any failure say so and retry with back-off (until removed). */
  private run(gen: number): Promise<void> {
    return keepConnected({
      address: () => serverAddress(this.model),
      alive: () => !this.closed && gen === this.generation,
      status: (t) => (this.statusLabel.textContent = t),
      message: (t) => this.showMessage(t),
      timeoutMs: 60000,
      attach: async (client) => {
        this.client = client;
        void this.followLoop(client);
        await this.reattach();
      },
      detach: () => {
        this.detach(null);
        this.client = null;
      },
    });
  }

  private restart(): void {
    this.generation++;
    this.detach(this.client);
    this.client?.close();
    this.client = null;
    void this.run(this.generation);
  }

  /** (Re)attach; what is not there (yet) is reported in the view and retried, keeping the connection. */
  protected async reattach(): Promise<void> {
    const client = this.client;
    const key = this.targetAttributes
      .split(/\s+/)
      .map((a) => JSON.stringify(this.model.get(a.replace(/^change:/, ''))))
      .join('/');
    this.wanted = key;
    for (let delay = 1000; client?.connected && client === this.client && this.wanted === key; delay = Math.min(2 * delay, 10000)) {
      try {
        this.detach(client);
        await this.attach(client);
        return;
      } catch (e) {
        if (!client.connected) return; // the connection loop reports and reconnects
        this.statusLabel.textContent = 'no data';
        this.showMessage(`${this.describeTarget()}: ${(e as Error).message}; retrying…`);
        await sleep(delay);
      }
    }
  }

  protected describeTarget(): string {
    return `cannot show ${this.model.get('scan') || 'the newest scan'}`;
  }

  /** Resolve the model's scan ('' → the newest); null when there is no scan yet. */
  protected async resolveScan(client: DaqClient): Promise<string | null> {
    const scan = this.model.get('scan') as string;
    if (scan) return scan;
    const last = await client.request<ScanSummaryLike | null>('scans.last');
    return last?.key ?? null;
  }

  /** A scan's summary once `stream` is declared in it (streams are declared just after the scan is created). */
  protected async scanWithStream(client: DaqClient, key: string, stream: string, tries = 6): Promise<ScanSummaryLike | null> {
    for (let i = 0; i < tries; i++) {
      const s = await client.request<ScanSummaryLike>('scan.get', { scan: key });
      if (s.streams?.some((x) => x.name === stream)) return s;
      await sleep(500);
    }
    return null;
  }

  /** While connected: wait for each new scan and, with `follow`, switch to it when it concerns this view. */
  private async followLoop(client: DaqClient): Promise<void> {
    let after: number;
    try {
      after = (await client.request<ScanSummaryLike | null>('scans.last'))?.seq ?? 0;
    } catch {
      return;
    }
    while (!this.closed && client === this.client && client.connected) {
      try {
        const next = await client.request<ScanSummaryLike>('scans.wait_next', { after, timeout: 20 });
        after = next.seq;
        if (!this.model.get('follow')) continue;
        const changes = await this.followScan(client, next);
        if (changes && client === this.client) this.setAndSave(changes);
      } catch (e) {
        if (!client.connected || client !== this.client) return;
        if (!(e instanceof RequestError && e.body.type === 'TimeoutError')) await sleep(1000);
      }
    }
  }
}
