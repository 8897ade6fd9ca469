/**
 * Where LiveImage's frames come from: its own WebSocket to the daqlab server (through
 * jupyter-server-proxy by default), a `latest`-mode subscription to the region and binning the
 * canvas can show (viewspec.ts), `stream.read` of one frame when browsing, and the `peaks` events
 * of the scan. Pixels never pass through the kernel. The view draws what this hands it.
 */
import type { Compression } from '@daqlab/daq-server/protocol';
import { DaqClient, RequestError, type ArrayItem, type DataMessage, type EventItem } from '../client.js';
import { keepConnected, serverAddress, sleep } from '../connection.js';
import { scanTitle, type ScanSummaryLike } from '../daqview.js';
import type { FrameMeter } from '../meter.js';
import { sameView, stillServes, visibleRect, type ViewRequest } from '../viewspec.js';
import type { Model } from './model.js';

export interface StreamHost {
  readonly model: Model;
  readonly meter: FrameMeter;
  /** the frame whose peaks are circled (new peaks of that frame redraw the overlay) */
  readonly peakFrame: number;
  status(text: string): void;
  message(text: string | null): void;
  /** the stream's frames are rows × cols detector pixels */
  shape(rows: number, cols: number): void;
  /** the scan shown (its key, and "name #number" once the server said) */
  scanShown(key: string, name: string, summary?: ScanSummaryLike): void;
  /** the region and binning the canvas can show now */
  wantedView(): ViewRequest;
  /** the visible detector rectangle, to check whether the current request still serves it */
  visible(): ReturnType<typeof visibleRect>;
  /** draw a frame; `view` is what the server was asked for */
  frame(item: ArrayItem, view: ViewRequest, dtype: string): void;
  /** items in the stream (reset: a new stream, else only growth counts) */
  length(length: number, reset: boolean): void;
  /** peaks arrived for these frames */
  peaks(events: EventItem[]): Set<number>;
  clearPeaks(): void;
  peaksChanged(): void;
  ended(length: number): void;
}

export class FrameStream {
  private client: DaqClient | null = null;
  scanKey = '';
  private sub: string | null = null;
  /** what the frame subscription / the last read asked for */
  request: ViewRequest | null = null;
  private subRequest: ViewRequest | null = null;
  /** the scan/stream/size the latest resubscribe() is for (an older retry loop stops) */
  private wanted = '';
  private pending: { item: ArrayItem; msg: number; view: ViewRequest } | null = null;
  private lastMsg = -1;
  /** newest message of the frame subscription acknowledged to the server */
  private ackedMsg = -1;
  private drawScheduled = false;
  private dtype = 'float32';
  // browsing
  private reading = false;
  private readAgain = false;
  // peaks
  private peakSub: string | null = null;
  /** whether the peaks subscription started at the first event (browsing needs every frame's peaks) */
  private peaksFromStart = false;
  private negotiateTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private generation = 0;

  constructor(private readonly host: StreamHost) {}

  private get model(): Model {
    return this.host.model;
  }

  private get browsing(): boolean {
    return (this.model.get('index') as number) >= 0;
  }

  get connected(): boolean {
    return Boolean(this.client?.connected);
  }

  start(): void {
    void this.run(this.generation);
  }

  close(): void {
    this.closed = true;
    if (this.negotiateTimer) clearTimeout(this.negotiateTimer);
    this.client?.close();
  }

  /** Connect, subscribe, and on any failure say so and retry with back-off (until closed). */
  private run(gen: number): Promise<void> {
    return keepConnected({
      address: () => serverAddress(this.model),
      alive: () => !this.closed && gen === this.generation,
      status: (t) => this.host.status(t),
      message: (t) => this.host.message(t),
      attach: async (client) => {
        this.client = client;
        client.on('scan.new', (ev) => {
          const key = (ev.scan as { key?: string } | undefined)?.key;
          if (this.model.get('follow') && key) {
            this.model.set({ scan: key, index: -1 });
            this.model.save_changes();
          }
        });
        client.on('sub.end', (ev) => {
          if (ev.sub === this.sub) {
            this.sub = null;
            this.host.ended(Number(ev.length));
          }
        });
        await this.resubscribe();
      },
      detach: () => {
        this.client = null;
        this.sub = null;
        this.peakSub = null;
      },
    });
  }

  /** A new address: drop the connection and start over. */
  restart(): void {
    this.generation++;
    this.client?.close();
    this.client = null;
    this.sub = null;
    this.peakSub = null;
    void this.run(this.generation);
  }

  /**
   * (Re)subscribe to the model's scan/stream; a scan or stream that is not there (yet) is
   * reported in the view and retried, without dropping the connection.
   */
  async resubscribe(): Promise<void> {
    const client = this.client;
    const key = ['scan', 'stream', 'max_size', 'peaks_stream', 'compression'].map((k) => this.model.get(k)).join('/');
    this.wanted = key;
    for (let delay = 1000; client?.connected && client === this.client && this.wanted === key; delay = Math.min(2 * delay, 10000)) {
      try {
        return await this.subscribeOnce(client);
      } catch (e) {
        if (!client.connected) return; // the connection loop reports and reconnects
        this.host.status('no data');
        this.host.message(`cannot show ${this.model.get('scan') || 'the newest scan'} / ${this.model.get('stream')}: ${(e as Error).message}; retrying…`);
        await sleep(delay);
      }
    }
  }

  private async subscribeOnce(client: DaqClient): Promise<void> {
    this.dropSubscriptions(client);
    let scan = this.model.get('scan') as string;
    const stream = this.model.get('stream') as string;
    // following: the newest scan (after a server restart the one we showed is gone)
    if (!scan || this.model.get('follow')) {
      const last = await client.request<{ key: string } | null>('scans.last');
      if (!last) {
        this.host.message('no scan yet: waiting for an acquisition…');
        this.host.status('waiting');
        return;
      }
      scan = last.key;
    }
    const info = await client.request<{ shape?: number[]; dtype?: string; length?: number }>('stream.info', { scan, stream });
    const shape = info.shape ?? [];
    if (shape.length < 2) throw new Error(`${scan}/${stream} is not an image stream (shape ${JSON.stringify(shape)})`);
    this.host.shape(shape[shape.length - 2], shape[shape.length - 1]);
    this.scanKey = scan;
    this.host.scanShown(scan, scan);
    void client.request<ScanSummaryLike>('scan.get', { scan }).then(
      (s) => {
        if (this.scanKey === scan) this.host.scanShown(scan, scanTitle(s, scan), s);
      },
      () => undefined,
    );
    this.host.length(info.length ?? 0, true);
    this.host.clearPeaks();
    this.request = this.host.wantedView();
    await this.subscribePeaks(client);
    if (this.browsing) await this.readFrame();
    else await this.subscribeFrames(client);
    this.host.message(null);
  }

  private dropSubscriptions(client: DaqClient): void {
    for (const sub of [this.sub, this.peakSub]) if (sub) void client.unsubscribe(sub);
    this.sub = null;
    this.peakSub = null;
    this.pending = null;
  }

  /**
   * A region (zoomed in) is sent with the whole frame's statistics at the autoscale percentiles: levels of
   * scope `frame` follow each frame though only the region arrives (autoscope.ts).
   */
  private frameStatsAsked(): [number, number] | null {
    const p = this.model.get('auto_percentiles') as [number, number] | undefined;
    return Array.isArray(p) && p.length === 2 && p[0] < p[1] ? [p[0], p[1]] : [1, 99.5];
  }

  /** The latest-mode subscription of the frames, for the current view request. */
  private async subscribeFrames(client: DaqClient): Promise<void> {
    if (this.sub) {
      const old = this.sub;
      this.sub = null;
      void client.unsubscribe(old);
    }
    this.pending = null;
    const view = this.request!;
    const stream = this.model.get('stream') as string;
    const result = await client.subscribe(
      {
        scan: this.scanKey,
        stream,
        mode: 'latest',
        binning: view.binning,
        compression: this.model.get('compression') as Compression,
        ...(view.roi ? { roi: view.roi, frame_stats: this.frameStatsAsked() } : {}),
      },
      (msg) => this.onData(msg),
    );
    if (client !== this.client || this.browsing || view !== this.request) return void client.unsubscribe(result.sub);
    this.sub = result.sub;
    this.subRequest = view;
    this.lastMsg = -1;
    this.ackedMsg = -1;
    this.dtype = result.dtype;
    this.host.scanShown(this.scanKey, '');
  }

  /** The `peaks` events of the scan (smx), from the start when browsing, else from now on; none is fine. */
  private async subscribePeaks(client: DaqClient): Promise<void> {
    const stream = this.model.get('peaks_stream') as string;
    if (!stream) return;
    const fromStart = this.browsing;
    try {
      const result = await client.subscribe({ scan: this.scanKey, stream, mode: 'lossless', start: fromStart ? 0 : -1 }, (msg) => {
        if (msg.header.sub !== this.peakSub) return;
        const touched = this.host.peaks(msg.events ?? []);
        client.ack(msg.header.sub!, msg.header.msg);
        if (touched.has(this.host.peakFrame)) this.host.peaksChanged();
      });
      if (result.kind !== 'event') {
        void client.unsubscribe(result.sub);
        return;
      }
      this.peakSub = result.sub;
      this.peaksFromStart = fromStart;
    } catch (e) {
      if (!(e instanceof RequestError && e.name === 'NotFoundError')) throw e; // no peaks in this scan
    }
  }

  /** The slider moved, or Python set `index`: browse that frame, or go back to the live subscription. */
  onIndex(): void {
    const client = this.client;
    if (!client?.connected || !this.scanKey) return;
    if (this.browsing) {
      if (this.sub) {
        void client.unsubscribe(this.sub);
        this.sub = null;
        this.pending = null;
      }
      if (!this.peaksFromStart) void this.resubscribePeaks(client); // every frame's peaks, from the start of the scan
      void this.readFrame();
    } else {
      void this.resubscribePeaks(client).then(() => this.subscribeFrames(client));
    }
  }

  private async resubscribePeaks(client: DaqClient): Promise<void> {
    if (this.peakSub) void client.unsubscribe(this.peakSub);
    this.peakSub = null;
    await this.subscribePeaks(client).catch(() => undefined);
  }

  /** Read and draw frame `index` at the current view; slider moves during a read coalesce into one more read. */
  private async readFrame(): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const index = this.model.get('index') as number;
        if (index < 0) break;
        const view = this.request ?? this.host.wantedView();
        const { messages } = await client.read({
          scan: this.scanKey,
          stream: this.model.get('stream'),
          start: index,
          single: true,
          binning: view.binning,
          compression: this.model.get('compression'),
          ...(view.roi ? { roi: view.roi, frame_stats: this.frameStatsAsked() } : {}),
        });
        const item = messages[0]?.items[0];
        if (item && this.browsing) {
          this.dtype = item.dtype;
          this.host.frame(item, view, item.dtype);
          this.host.meter.drawn(undefined);
          this.host.scanShown(this.scanKey, '');
          this.host.message(null);
        }
      } while (this.readAgain);
    } catch (e) {
      this.host.message(`cannot read frame ${this.model.get('index')}: ${(e as Error).message}`);
    } finally {
      this.reading = false;
    }
  }

  /**
   * Double buffering over the latest-mode window of 1: a frame that arrives while none waits to be
   * drawn is acknowledged at once, so the next one travels while this one is drawn; a frame that
   * arrives while another still waits replaces it and is acknowledged when drawn (the server never
   * runs more than one frame ahead of the screen, and no frame is decoded only to be dropped).
   */
  private onData(msg: DataMessage): void {
    if (msg.header.sub !== this.sub || msg.items.length === 0) return;
    const waiting = this.pending !== null;
    this.host.meter.busy(msg.decodeMs ?? 0); // decoding is main-thread work of the view too
    this.pending = { item: msg.items[msg.items.length - 1], msg: msg.header.msg, view: this.subRequest! };
    this.lastMsg = msg.header.msg;
    if (this.model.get('paused')) return;
    if (!waiting) this.ack(msg.header.msg);
    this.scheduleDraw();
  }

  private ack(msg: number): void {
    if (!this.sub || msg <= this.ackedMsg) return;
    this.ackedMsg = msg;
    this.client?.ack(this.sub, msg);
  }

  /** Draw the waiting frame on the next animation frame (and acknowledge it if it was not yet). */
  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      const p = this.pending;
      if (!p || this.model.get('paused')) return;
      this.pending = null;
      const t0 = performance.now();
      try {
        this.host.frame(p.item, p.view, this.dtype); // decodes a compressed frame now
        this.host.meter.drawn(p.item.time);
      } catch (e) {
        this.host.message(`cannot draw frame ${p.item.index}: ${(e as Error).message}`);
      }
      this.host.meter.busy(performance.now() - t0);
      this.host.length(p.item.index + 1, false);
      this.ack(p.msg);
    });
  }

  /** Paused or resumed: a resumed view draws the frame that waited, or lets the next one come. */
  onPaused(): void {
    if (this.model.get('paused')) return;
    if (this.pending) this.scheduleDraw();
    else if (this.lastMsg >= 0) this.ack(this.lastMsg);
  }

  /** After zoom/pan/resize settles: ask for another region/binning when the current one no longer serves. */
  viewChanged(): void {
    if (this.negotiateTimer) clearTimeout(this.negotiateTimer);
    this.negotiateTimer = setTimeout(() => {
      this.negotiateTimer = null;
      if (!this.client?.connected || !this.scanKey) return;
      const wanted = this.host.wantedView();
      if (stillServes(this.request, wanted, this.host.visible()) || sameView(this.request, wanted)) return;
      this.request = wanted;
      if (this.browsing) void this.readFrame();
      else void this.subscribeFrames(this.client).catch((e: Error) => this.host.message(`cannot change the view: ${e.message}`));
    }, 150);
  }
}
