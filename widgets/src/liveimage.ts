/**
 * LiveImage: a live detector image in a notebook. The view opens its own
 * WebSocket to the daqlab server (through jupyter-server-proxy by default) and
 * subscribes in `latest` mode to the region and binning the canvas can show
 * (viewspec.ts), so pixels never pass through the kernel and a 4 Mpx frame in
 * a small canvas travels binned. A finished (or running) scan can be browsed
 * frame by frame with the slider (`stream.read` of one index). Frames are
 * drawn with three.js: a float texture of the image and a 256-entry colormap
 * texture, combined in a fragment shader that also tints masked pixels (NaN,
 * gap dummies); peaks of the smx pipeline are circled on a 2D canvas above.
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from '@jupyter-widgets/base';
import * as THREE from 'three';
import { DaqClient, RequestError, type ArrayItem, type DataMessage } from './client.js';
import type { Compression } from '@daqlab/daq-server/protocol';
import { keepConnected, serverAddress, sleep } from './connection.js';
import {
  COLORMAPS,
  SCALES,
  SCALE_CODE,
  dummyThreshold,
  formatValue,
  lutBytes,
  normalize,
  percentileRange,
  type Colormap,
  type Scale,
} from './colormap.js';
import { Colorizer, softwareWebGL } from './cpu-image.js';
import { FrameMeter } from './meter.js';
import { PeakStore, drawPeaks } from './peaks.js';
import { acquisitionFrame } from './frame-join.js';
import { frontendSettings, onReconnect, onSettingsChanged } from './settings.js';
import { chooseView, sameView, stillServes, visibleRect, type ViewRequest } from './viewspec.js';
import { widgetIdentity } from './version.js';
import { scanTitle, type ScanSummaryLike } from './daqview.js';
import { ColorBar } from './colorbar.js';

export class LiveImageModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('LiveImage'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'frame',
      follow: false,
      colormap: '',
      reverse: false,
      scale: 'linear',
      auto_range: true,
      vmin: 0,
      vmax: 1,
      paused: false,
      renderer: 'auto',
      max_size: 1024,
      compression: 'bslz4',
      height: 480,
      fps: 0,
      latency: 0,
      rois: [],
      index: -1,
      length: 0,
      show_mask: true,
      show_peaks: true,
      peaks_stream: 'peaks',
      view: [],
    };
  }
}

const VERTEX = /* glsl */ `
varying vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

// Same formulas as colormap.ts normalize(); row 0 of the data is drawn at the top.
// Masked pixels (NaN: Jungfrau gaps and bad pixels; ≥ dummy: EIGER gaps) are tinted when showMask.
const FRAGMENT = /* glsl */ `
precision highp float;
uniform sampler2D image;
uniform sampler2D lut;
uniform float vmin;
uniform float vmax;
uniform float dummy;
uniform int scale;
uniform bool showMask;
varying vec2 vUv;
void main() {
  float v = texture2D(image, vec2(vUv.x, 1.0 - vUv.y)).r;
  bool masked = isnan(v) || v >= dummy;
  if (masked) {
    gl_FragColor = showMask ? vec4(1.0, 0.1, 0.55, 0.55) : vec4(0.0, 0.0, 0.0, 1.0);
    return;
  }
  float span = max(vmax - vmin, 1e-12);
  float x = clamp(v - vmin, 0.0, span);
  float t = scale == 1 ? log(1.0 + x) / log(1.0 + span) : (scale == 2 ? sqrt(x / span) : x / span);
  gl_FragColor = texture2D(lut, vec2((t * 255.0 + 0.5) / 256.0, 0.5));
}`;

type Roi = [number, number, number, number];

/** Where the drawn texture sits on the detector: its top-left pixel, binning, and binned size. */
interface Placement {
  r0: number;
  c0: number;
  binning: number;
  rows: number;
  cols: number;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function placementOf(view: ViewRequest, item: ArrayItem): Placement {
  return {
    r0: view.roi ? view.roi[0] : 0,
    c0: view.roi ? view.roi[1] : 0,
    binning: view.binning,
    rows: item.shape[item.shape.length - 2],
    cols: item.shape[item.shape.length - 1],
  };
}

/** Colormap of a model: its own, else the JupyterLab setting, else viridis. */
function colormapOf(model: { get(name: string): unknown }): Colormap {
  const own = model.get('colormap') as string;
  if ((COLORMAPS as readonly string[]).includes(own)) return own as Colormap;
  const setting = frontendSettings.colormap;
  return (COLORMAPS as readonly string[]).includes(setting) ? (setting as Colormap) : 'viridis';
}

export class LiveImageView extends DOMWidgetView {
  // DOM
  private stage!: HTMLDivElement;
  private overlay!: HTMLDivElement;
  private peakCanvas!: HTMLCanvasElement;
  /** what the overlay shows now: it is redrawn only when this changes (a cleared canvas still costs a composite) */
  private overlayKey = '';
  private browseTimer: ReturnType<typeof setTimeout> | null = null;
  private message!: HTMLDivElement;
  private readout!: HTMLSpanElement;
  private fpsLabel!: HTMLSpanElement;
  private statusLabel!: HTMLSpanElement;
  private readonly bar = new ColorBar();
  private pauseButton!: HTMLButtonElement;
  private liveButton!: HTMLButtonElement;
  private slider!: HTMLInputElement;
  private frameLabel!: HTMLSpanElement;
  private inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  // WebGL
  private renderer: THREE.WebGLRenderer | null = null;
  private scene = new THREE.Scene();
  private camera = new THREE.OrthographicCamera(0, 1, 1, 0, -1, 1);
  private material: THREE.ShaderMaterial | null = null;
  private mesh: THREE.Mesh | null = null;
  private texture: THREE.DataTexture | null = null;
  private lut: THREE.DataTexture | null = null;
  /**
   * The CPU renderer (where WebGL is software, or `renderer` = 'cpu'): frames coloured into an
   * RGBA bitmap the size of the frame, drawn scaled onto a 2D canvas by the browser.
   */
  private cpu: {
    canvas: HTMLCanvasElement;
    ctx: CanvasRenderingContext2D;
    image: HTMLCanvasElement;
    imageCtx: CanvasRenderingContext2D;
    data: ImageData | null;
    pixels: Uint32Array | null;
    colorizer: Colorizer;
  } | null = null;
  /** the dtype the colorizer was configured for (its gap-dummy threshold) */
  private cpuDtype = '';
  // the detector frame (fullRows × fullCols), the drawn texture and the view transform:
  // centre (cx, cy) in detector pixels, s detector pixels per screen pixel
  private fullRows = 0;
  private fullCols = 0;
  /** the drawn frame's values: WebGL's float copy (its texture), or the frame itself (CPU renderer) */
  private values: ArrayLike<number> | null = null;
  private placed: Placement | null = null;
  private dtype = 'float32';
  private cx = 0;
  private cy = 0;
  private s = 1;
  private fitted = false;
  /** the user zoomed or panned: a resize keeps the view instead of fitting the frame again */
  private userMoved = false;
  // data flow
  private client: DaqClient | null = null;
  private scanKey = '';
  /** "name #number" of the scan shown (its key until the server said) */
  private scanName = '';
  private sub: string | null = null;
  /** what the frame subscription / the last read asked for */
  private request: ViewRequest | null = null;
  private subRequest: ViewRequest | null = null;
  /** the scan/stream/size the latest resubscribe() is for (an older retry loop stops) */
  private wanted = '';
  private pending: { item: ArrayItem; msg: number; view: ViewRequest } | null = null;
  private lastMsg = -1;
  /** newest message of the frame subscription acknowledged to the server */
  private ackedMsg = -1;
  private drawScheduled = false;
  private lastIndex = -1;
  /** acquisition frame of the drawn item: peaks are looked up by it (item positions skip dropped frames) */
  private lastFrame = -1;
  private lastRangeAt = 0;
  private meter = new FrameMeter();
  private lastReport = performance.now();
  /** items in the stream as far as the view knows */
  private length = 0;
  // browsing
  private reading = false;
  private readAgain = false;
  // peaks
  private peakSub: string | null = null;
  /** whether the peaks subscription started at the first event (browsing needs every frame's peaks) */
  private peaksFromStart = false;
  private peaks = new PeakStore();
  private negotiateTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private generation = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private resizeObserver: ResizeObserver | null = null;
  private stopReconnect: (() => void) | null = null;
  private stopSettings: (() => void) | null = null;

  override render(): void {
    this.el.classList.add('daqlab-liveimage');
    const toolbar = el('div', 'daqlab-li-toolbar');
    const select = (name: string, options: readonly string[]) => {
      const s = el('select');
      s.title = name;
      for (const o of options) s.append(new Option(o, o));
      s.onchange = () => this.setAndSave({ [name]: s.value });
      this.inputs[name] = s;
      return s;
    };
    const check = (name: string, label: string) => {
      const wrap = el('label', `daqlab-li-check daqlab-li-check-${name}`);
      const c = el('input');
      c.type = 'checkbox';
      c.onchange = () => this.setAndSave({ [name]: c.checked });
      this.inputs[name] = c;
      wrap.append(c, label);
      return wrap;
    };
    const number = (name: string) => {
      const n = el('input', 'daqlab-li-number');
      n.type = 'number';
      n.title = name;
      n.onchange = () => this.setAndSave({ [name]: Number(n.value), auto_range: false });
      this.inputs[name] = n;
      return n;
    };
    this.pauseButton = el('button', 'daqlab-li-pause', 'pause');
    this.pauseButton.onclick = () => this.setAndSave({ paused: !this.model.get('paused') });
    const clear = el('button', 'daqlab-li-clear', 'clear ROIs');
    clear.onclick = () => this.setAndSave({ rois: [] });
    this.statusLabel = el('span', 'daqlab-li-status');
    toolbar.append(
      select('colormap', COLORMAPS),
      check('reverse', 'reverse'),
      select('scale', SCALES),
      check('auto_range', 'auto'),
      number('vmin'),
      number('vmax'),
      check('show_mask', 'mask'),
      check('show_peaks', 'peaks'),
      this.pauseButton,
      clear,
      this.statusLabel,
    );

    // browsing: a slider over the stream's frames; "live" follows the newest frame again
    const browse = el('div', 'daqlab-li-browse');
    this.liveButton = el('button', 'daqlab-li-live', 'live');
    this.liveButton.title = 'follow the newest frame';
    this.liveButton.onclick = () => this.setAndSave({ index: -1 });
    this.slider = el('input', 'daqlab-li-slider');
    this.slider.type = 'range';
    this.slider.min = '0';
    this.slider.max = '0';
    this.slider.step = '1';
    this.slider.title = 'browse the frames of the scan';
    this.slider.oninput = () => this.setAndSave({ index: Number(this.slider.value) });
    this.frameLabel = el('span', 'daqlab-li-frame', 'live');
    browse.append(this.liveButton, this.slider, this.frameLabel);

    const body = el('div', 'daqlab-li-body');
    this.stage = el('div', 'daqlab-li-stage');
    this.overlay = el('div', 'daqlab-li-overlay');
    this.peakCanvas = el('canvas', 'daqlab-li-peaks');
    this.overlay.append(this.peakCanvas);
    this.message = el('div', 'daqlab-li-message', 'connecting…');
    this.stage.append(this.overlay, this.message);
    body.append(this.stage, this.bar.el);

    const footer = el('div', 'daqlab-li-footer');
    this.readout = el('span', 'daqlab-li-readout', ' ');
    this.fpsLabel = el('span', 'daqlab-li-fps', '0.0 fps');
    footer.append(this.readout, this.fpsLabel);
    this.el.append(toolbar, browse, body, footer);

    this.initGL();
    this.bindPointer();
    this.syncControls();
    this.listenTo(this.model, 'change:colormap change:reverse', () => this.updateLut());
    this.listenTo(this.model, 'change:scale change:vmin change:vmax change:auto_range change:show_mask', () => this.updateRange());
    this.listenTo(this.model, 'change:paused', () => this.onPaused());
    this.listenTo(this.model, 'change:rois', () => this.drawOverlay());
    this.listenTo(this.model, 'change:show_peaks', () => this.drawOverlay());
    this.listenTo(this.model, 'change:height', () => this.resize());
    this.listenTo(this.model, 'change:server_url change:token', () => this.restart());
    this.listenTo(this.model, 'change:scan change:stream change:max_size change:peaks_stream change:compression', () => void this.resubscribe());
    this.listenTo(this.model, 'change:index', () => this.onIndex());
    this.listenTo(this.model, 'change', () => this.syncControls());
    this.timers.push(setInterval(() => this.report(), 1000));
    this.stopReconnect = onReconnect(() => this.restart());
    // the default colormap (JupyterLab setting) is drawn when the view sets none: redraw when it changes
    this.stopSettings = onSettingsChanged((changed) => {
      if (!changed.has('colormap')) return;
      this.updateLut(); // colormapOf() picks the view's own or the setting
      this.syncControls();
    });
    void this.run(this.generation);
  }

  override remove(): void {
    this.closed = true;
    this.stopReconnect?.();
    this.stopSettings?.();
    this.timers.forEach(clearInterval);
    if (this.negotiateTimer) clearTimeout(this.negotiateTimer);
    this.resizeObserver?.disconnect();
    this.client?.close();
    this.renderer?.dispose();
    this.texture?.dispose();
    this.lut?.dispose();
    super.remove();
  }

  /** Set model values from a user action and send them to Python. */
  private setAndSave(values: Record<string, unknown>): void {
    this.model.set(values);
    this.model.save_changes();
  }

  private get browsing(): boolean {
    return (this.model.get('index') as number) >= 0;
  }

  // ------------------------------------------------------------ connection

  private showMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.style.display = text ? 'flex' : 'none';
  }

  /** Connect, subscribe, and on any failure say so and retry with back-off (until removed). */
  private run(gen: number): Promise<void> {
    return keepConnected({
      address: () => serverAddress(this.model),
      alive: () => !this.closed && gen === this.generation,
      status: (t) => (this.statusLabel.textContent = t),
      message: (t) => this.showMessage(t),
      attach: async (client) => {
        this.client = client;
        client.on('scan.new', (ev) => {
          const key = (ev.scan as { key?: string } | undefined)?.key;
          if (this.model.get('follow') && key) this.setAndSave({ scan: key, index: -1 });
        });
        client.on('sub.end', (ev) => {
          if (ev.sub === this.sub) {
            this.sub = null;
            this.setLength(Number(ev.length));
            this.statusLabel.textContent = `scan ended (${ev.length} items)`;
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
  private restart(): void {
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
  private async resubscribe(): Promise<void> {
    const client = this.client;
    const key = ['scan', 'stream', 'max_size', 'peaks_stream', 'compression'].map((k) => this.model.get(k)).join('/');
    this.wanted = key;
    for (let delay = 1000; client?.connected && client === this.client && this.wanted === key; delay = Math.min(2 * delay, 10000)) {
      try {
        return await this.subscribeOnce(client);
      } catch (e) {
        if (!client.connected) return; // the connection loop reports and reconnects
        this.statusLabel.textContent = 'no data';
        this.showMessage(`cannot show ${this.model.get('scan') || 'the newest scan'} / ${this.model.get('stream')}: ${(e as Error).message}; retrying…`);
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
        this.showMessage('no scan yet: waiting for an acquisition…');
        this.statusLabel.textContent = 'waiting';
        return;
      }
      scan = last.key;
    }
    const info = await client.request<{ shape?: number[]; dtype?: string; length?: number }>('stream.info', { scan, stream });
    const shape = info.shape ?? [];
    if (shape.length < 2) throw new Error(`${scan}/${stream} is not an image stream (shape ${JSON.stringify(shape)})`);
    const rows = shape[shape.length - 2];
    const cols = shape[shape.length - 1];
    if (rows !== this.fullRows || cols !== this.fullCols) {
      this.fullRows = rows;
      this.fullCols = cols;
      this.fitted = false;
      this.fit();
    }
    this.scanKey = scan;
    this.scanName = scan;
    void client.request<ScanSummaryLike>('scan.get', { scan }).then(
      (s) => {
        if (this.scanKey !== scan) return;
        this.scanName = scanTitle(s, scan);
        this.showStatus();
      },
      () => undefined,
    );
    this.setLength(info.length ?? 0, true);
    this.peaks.clear();
    this.request = this.wantedView();
    await this.subscribePeaks(client);
    if (this.browsing) await this.readFrame();
    else await this.subscribeFrames(client);
    this.showMessage(null);
  }

  private dropSubscriptions(client: DaqClient): void {
    for (const sub of [this.sub, this.peakSub]) if (sub) void client.unsubscribe(sub);
    this.sub = null;
    this.peakSub = null;
    this.pending = null;
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
        ...(view.roi ? { roi: view.roi } : {}),
      },
      (msg) => this.onData(msg),
    );
    if (client !== this.client || this.browsing || view !== this.request) return void client.unsubscribe(result.sub);
    this.sub = result.sub;
    this.subRequest = view;
    this.lastMsg = -1;
    this.ackedMsg = -1;
    this.dtype = result.dtype;
    this.showStatus();
  }

  /** The `peaks` events of the scan (smx), from the start when browsing, else from now on; none is fine. */
  private async subscribePeaks(client: DaqClient): Promise<void> {
    const stream = this.model.get('peaks_stream') as string;
    if (!stream) return;
    const fromStart = this.browsing;
    try {
      const result = await client.subscribe({ scan: this.scanKey, stream, mode: 'lossless', start: fromStart ? 0 : -1 }, (msg) => {
        if (msg.header.sub !== this.peakSub) return;
        const touched = this.peaks.add(msg.events ?? []);
        client.ack(msg.header.sub!, msg.header.msg);
        if (touched.has(this.lastFrame)) this.drawOverlay();
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

  private showStatus(): void {
    const v = this.request;
    const what = v ? `${v.roi ? ` · rows ${v.roi[0]}+${v.roi[2]}, cols ${v.roi[1]}+${v.roi[3]}` : ''}${v.binning > 1 ? ` · binned ${v.binning}×` : ''}` : '';
    this.statusLabel.dataset.scan = this.scanKey;
    this.statusLabel.title = this.scanKey;
    this.statusLabel.textContent = `${this.scanName} · ${this.model.get('stream')}${what}`;
  }

  /** Items in the stream as far as the view knows (slider range); Python's `length` follows once a second. */
  private setLength(length: number, reset = false): void {
    if (!Number.isFinite(length) || (!reset && length <= this.length)) return;
    this.length = length;
    this.slider.max = String(Math.max(0, length - 1));
    if (reset || this.browsing) this.syncBrowse();
    else this.syncBrowseSoon();
    // a (re)opened stream's length goes to Python now; growth while following waits for the next report
    if (reset && length !== this.model.get('length')) this.setAndSave({ length });
  }

  /** While live, the slider and frame counter follow at 4 Hz: each change re-lays out and repaints the toolbar. */
  private syncBrowseSoon(): void {
    if (this.browseTimer) return;
    this.browseTimer = setTimeout(() => {
      this.browseTimer = null;
      this.syncBrowse();
    }, 250);
  }

  private syncBrowse(): void {
    const index = this.model.get('index') as number;
    const length = this.length;
    if (index >= 0) {
      if (document.activeElement !== this.slider) this.slider.value = String(index);
      this.frameLabel.textContent = `frame ${index} / ${length}`;
    } else {
      if (this.lastIndex >= 0) this.slider.value = String(this.lastIndex);
      this.frameLabel.textContent = `live · ${length} frames`;
    }
    this.liveButton.disabled = index < 0;
  }

  /** The slider moved, or Python set `index`: browse that frame, or go back to the live subscription. */
  private onIndex(): void {
    this.syncBrowse();
    const client = this.client;
    if (!client?.connected || !this.scanKey) return;
    const browsing = this.browsing;
    if (browsing) {
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
        const view = this.request ?? this.wantedView();
        const { messages } = await client.read({
          scan: this.scanKey,
          stream: this.model.get('stream'),
          start: index,
          single: true,
          binning: view.binning,
          compression: this.model.get('compression'),
          ...(view.roi ? { roi: view.roi } : {}),
        });
        const item = messages[0]?.items[0];
        if (item && this.browsing) {
          this.dtype = item.dtype;
          this.upload(item, view);
          this.meter.drawn(undefined);
          this.showStatus();
          this.showMessage(null);
        }
      } while (this.readAgain);
    } catch (e) {
      this.showMessage(`cannot read frame ${this.model.get('index')}: ${(e as Error).message}`);
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
    this.meter.busy(msg.decodeMs ?? 0); // decoding is main-thread work of the view too
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
        this.upload(p.item, p.view); // decodes a compressed frame now
        this.meter.drawn(p.item.time);
      } catch (e) {
        this.showMessage(`cannot draw frame ${p.item.index}: ${(e as Error).message}`);
      }
      this.meter.busy(performance.now() - t0);
      this.setLength(p.item.index + 1);
      this.ack(p.msg);
    });
  }

  private onPaused(): void {
    const paused = this.model.get('paused') as boolean;
    this.pauseButton.textContent = paused ? 'resume' : 'pause';
    if (!paused) {
      if (this.pending) this.scheduleDraw();
      else if (this.lastMsg >= 0) this.ack(this.lastMsg);
    }
  }

  /** Once a second: fps and median latency to the footer and to Python. */
  private report(): void {
    const now = performance.now();
    const { fps, latency, drawMs } = this.meter.take((now - this.lastReport) / 1000);
    this.lastReport = now;
    this.fpsLabel.dataset.drawMs = Number.isFinite(drawMs) ? drawMs.toFixed(1) : '';
    const lat = Number.isFinite(latency) ? ` · ${latency.toFixed(0)} ms latency` : '';
    this.fpsLabel.textContent = `${fps.toFixed(1)} fps${lat}`;
    const changes: Record<string, unknown> = {};
    const f = Math.round(fps * 10) / 10;
    if (f !== this.model.get('fps')) changes.fps = f;
    if (Number.isFinite(latency) && Math.round(latency) !== this.model.get('latency')) changes.latency = Math.round(latency);
    if (this.length !== this.model.get('length')) changes.length = this.length;
    if (Object.keys(changes).length) this.setAndSave(changes);
  }

  // ------------------------------------------------------------ view negotiation

  /** What the canvas shows now, as a request to the server. */
  private wantedView(): ViewRequest {
    const { width, height } = this.viewport();
    const visible = visibleRect(this.cx, this.cy, this.s, width, height, this.fullRows, this.fullCols);
    return chooseView(visible, this.s, this.fullRows, this.fullCols, this.model.get('max_size') as number);
  }

  /** After zoom/pan/resize settles: ask for another region/binning when the current one no longer serves. */
  private viewChanged(): void {
    if (this.negotiateTimer) clearTimeout(this.negotiateTimer);
    this.negotiateTimer = setTimeout(() => {
      this.negotiateTimer = null;
      if (!this.fullRows || !this.client?.connected || !this.scanKey) return;
      const { width, height } = this.viewport();
      const visible = visibleRect(this.cx, this.cy, this.s, width, height, this.fullRows, this.fullCols);
      const wanted = this.wantedView();
      if (stillServes(this.request, wanted, visible) || sameView(this.request, wanted)) return;
      this.request = wanted;
      if (this.browsing) void this.readFrame();
      else void this.subscribeFrames(this.client).catch((e: Error) => this.showMessage(`cannot change the view: ${e.message}`));
    }, 150);
  }

  // ------------------------------------------------------------ drawing

  private initGL(): void {
    const choice = this.model.get('renderer') as string;
    if (choice === 'cpu' || (choice !== 'webgl' && softwareWebGL())) return this.initCpu();
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: false, alpha: true, preserveDrawingBuffer: true });
    } catch (e) {
      this.showMessage(`WebGL is not available in this browser: ${(e as Error).message}`);
      return;
    }
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.stage.prepend(this.renderer.domElement);
    this.stage.dataset.renderer = 'webgl';
    this.startDrawing();
  }

  private initCpu(): void {
    const canvas = el('canvas', 'daqlab-li-canvas');
    const image = el('canvas');
    const ctx = canvas.getContext('2d');
    const imageCtx = image.getContext('2d');
    if (!ctx || !imageCtx) {
      this.showMessage('this browser has neither WebGL nor a 2D canvas to draw on');
      return;
    }
    this.cpu = { canvas, ctx, image, imageCtx, data: null, pixels: null, colorizer: new Colorizer() };
    this.stage.prepend(canvas);
    this.stage.dataset.renderer = 'cpu';
    this.startDrawing();
  }

  private startDrawing(): void {
    this.updateLut();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.resize();
  }

  private upload(item: ArrayItem, view: ViewRequest): void {
    const placed = placementOf(view, item);
    const sized = this.cpu ? this.cpu.data : this.texture;
    if (placed.rows !== this.placed?.rows || placed.cols !== this.placed?.cols || !sized) this.allocate(placed.rows, placed.cols);
    this.placed = placed;
    if (this.cpu) {
      this.values = item.data; // kept as it came: the cursor readout and the auto range read it
      if (this.cpuDtype !== this.dtype) this.configureCpu();
      this.recolor();
    } else {
      const out = this.values as Float32Array;
      const src = item.data;
      for (let i = 0; i < out.length; i++) out[i] = src[i];
      this.texture!.needsUpdate = true;
    }
    this.place();
    this.lastIndex = item.index;
    this.lastFrame = acquisitionFrame(item);
    // Python sees the drawn region and the auto range, but not every frame: only when they change (range ≤ 2 Hz)
    const changes: Record<string, unknown> = {};
    const drawn = [placed.r0, placed.c0, placed.rows * placed.binning, placed.cols * placed.binning, placed.binning];
    if (JSON.stringify(drawn) !== JSON.stringify(this.model.get('view'))) changes.view = drawn;
    const now = performance.now();
    if (this.model.get('auto_range') && now - this.lastRangeAt > 500) {
      this.lastRangeAt = now;
      const [lo, hi] = percentileRange(this.values!, 1, 99.5, dummyThreshold(this.dtype));
      if (lo !== this.model.get('vmin') || hi !== this.model.get('vmax')) Object.assign(changes, { vmin: lo, vmax: hi });
    }
    if (Object.keys(changes).length) this.setAndSave(changes);
    if (!this.browsing) this.syncBrowseSoon();
    else this.frameLabel.textContent = `frame ${item.index} / ${this.length}`;
    this.draw();
  }

  private allocate(rows: number, cols: number): void {
    if (this.cpu) {
      this.cpu.image.width = cols;
      this.cpu.image.height = rows;
      this.cpu.data = this.cpu.imageCtx.createImageData(cols, rows);
      this.cpu.pixels = new Uint32Array(this.cpu.data.data.buffer);
      return;
    }
    const values = new Float32Array(rows * cols);
    this.values = values;
    this.texture?.dispose();
    this.texture = new THREE.DataTexture(values, cols, rows, THREE.RedFormat, THREE.FloatType);
    this.texture.minFilter = this.texture.magFilter = THREE.NearestFilter;
    if (!this.mesh) {
      this.material = new THREE.ShaderMaterial({
        vertexShader: VERTEX,
        fragmentShader: FRAGMENT,
        transparent: true,
        uniforms: {
          image: { value: this.texture },
          lut: { value: this.lut },
          vmin: { value: 0 },
          vmax: { value: 1 },
          dummy: { value: Infinity },
          scale: { value: 0 },
          showMask: { value: true },
        },
      });
      // a unit square, scaled and moved onto the detector region of each frame (place())
      const geometry = new THREE.PlaneGeometry(1, 1);
      geometry.translate(0.5, 0.5, 0);
      this.mesh = new THREE.Mesh(geometry, this.material);
      this.scene.add(this.mesh);
    }
    this.material!.uniforms.image.value = this.texture;
    this.updateRange();
  }

  /** CPU renderer: colour the frame into the bitmap (after a new frame, colormap or range). */
  private recolor(): void {
    const cpu = this.cpu;
    if (!cpu?.data || !cpu.pixels || !this.values) return;
    cpu.colorizer.colorize(this.values as never, this.dtype, cpu.pixels);
    cpu.imageCtx.putImageData(cpu.data, 0, 0);
  }

  /** Put the texture's quad where its region lies: world x = column, world y = fullRows − row. */
  private place(): void {
    const p = this.placed;
    if (!p || !this.mesh) return;
    const h = p.rows * p.binning;
    const w = p.cols * p.binning;
    this.mesh.scale.set(w, h, 1);
    this.mesh.position.set(p.c0, this.fullRows - p.r0 - h, 0);
  }

  private resize(): void {
    if (!this.renderer && !this.cpu) return;
    const width = this.stage.clientWidth || 640;
    const height = this.model.get('height') as number;
    this.stage.style.height = `${height}px`;
    this.bar.el.style.height = `${height}px`; // the colour bar spans the image area
    const dpr = window.devicePixelRatio || 1;
    if (this.renderer) this.renderer.setSize(width, height);
    else if (this.cpu) {
      this.cpu.canvas.width = Math.round(width * dpr);
      this.cpu.canvas.height = Math.round(height * dpr);
      Object.assign(this.cpu.canvas.style, { width: `${width}px`, height: `${height}px` });
    }
    this.peakCanvas.width = Math.round(width * dpr);
    this.peakCanvas.height = Math.round(height * dpr);
    this.peakCanvas.style.width = `${width}px`;
    this.peakCanvas.style.height = `${height}px`;
    this.overlayKey = ''; // resizing cleared the canvas
    if ((!this.fitted || !this.userMoved) && this.fullRows) this.fit();
    this.draw();
    this.viewChanged();
  }

  private fit(): void {
    if (!this.fullRows) return;
    const { width, height } = this.viewport();
    this.s = Math.max(this.fullCols / width, this.fullRows / height);
    this.cx = this.fullCols / 2;
    this.cy = this.fullRows / 2;
    this.fitted = true;
    this.userMoved = false;
  }

  private viewport(): { width: number; height: number } {
    return { width: this.stage.clientWidth || 640, height: (this.model.get('height') as number) || 480 };
  }

  /** Screen pixel in the stage → detector coordinates: x = column, y = row. */
  private toImage(px: number, py: number): { x: number; y: number } {
    const { width, height } = this.viewport();
    return { x: this.cx + (px - width / 2) * this.s, y: this.cy + (py - height / 2) * this.s };
  }

  private toScreen(x: number, y: number): [number, number] {
    const { width, height } = this.viewport();
    return [(x - this.cx) / this.s + width / 2, (y - this.cy) / this.s + height / 2];
  }

  private draw(): void {
    if (this.cpu) return this.drawCpu();
    if (!this.renderer) return;
    const { width, height } = this.viewport();
    const cam = this.camera;
    cam.left = this.cx - (width / 2) * this.s;
    cam.right = this.cx + (width / 2) * this.s;
    cam.top = this.fullRows - this.cy + (height / 2) * this.s;
    cam.bottom = this.fullRows - this.cy - (height / 2) * this.s;
    cam.updateProjectionMatrix();
    this.renderer.render(this.scene, cam);
    this.drawOverlay();
  }

  /** CPU renderer: the frame's bitmap scaled onto the canvas (nearest neighbour, like the texture). */
  private drawCpu(): void {
    const { canvas, ctx, image, data } = this.cpu!;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const p = this.placed;
    if (p && data) {
      ctx.imageSmoothingEnabled = false;
      const [left, top] = this.toScreen(p.c0, p.r0);
      ctx.drawImage(image, left, top, (p.cols * p.binning) / this.s, (p.rows * p.binning) / this.s);
    }
    this.drawOverlay();
  }

  /** CPU renderer: the colour parameters of the model (after a colormap or range change). */
  private configureCpu(): void {
    this.cpu?.colorizer.configure({
      lut: lutBytes(colormapOf(this.model), this.model.get('reverse') as boolean),
      vmin: this.model.get('vmin') as number,
      vmax: this.model.get('vmax') as number,
      scale: this.model.get('scale') as Scale,
      dummy: dummyThreshold(this.dtype),
      showMask: Boolean(this.model.get('show_mask')),
    });
    this.cpuDtype = this.dtype;
  }

  /** ROIs (DOM boxes) and peaks of the drawn frame (2D canvas). */
  private drawOverlay(): void {
    if (!this.overlay) return;
    const peaks = this.model.get('show_peaks') && this.lastFrame >= 0 ? this.peaks.get(this.lastFrame) : [];
    const key = [this.cx, this.cy, this.s, this.peakCanvas.width, this.peakCanvas.height, JSON.stringify(this.model.get('rois')),
      peaks.length ? `${this.lastFrame}:${peaks.length}` : ''].join('|');
    if (key === this.overlayKey) return;
    this.overlayKey = key;
    for (const old of Array.from(this.overlay.querySelectorAll('.daqlab-li-roi:not(.daqlab-li-roi-drawing)'))) old.remove();
    ((this.model.get('rois') as Roi[]) ?? []).forEach(([r0, c0, nr, nc], k) => {
      const box = el('div', 'daqlab-li-roi');
      box.dataset.roi = String(k);
      box.title = `ROI ${k}: rows ${r0}+${nr}, cols ${c0}+${nc} (index ${k} in live.rois and the pipeline's roi_stats)`;
      // numbered as in live.rois, RoiStats(roi=k) and the pipeline's roi_stats rows
      box.append(el('span', 'daqlab-li-roi-label', `ROI ${k}`));
      const [left, top] = this.toScreen(c0, r0);
      Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${nc / this.s}px`, height: `${nr / this.s}px` });
      this.overlay.append(box);
    });
    const ctx = this.peakCanvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.peakCanvas.width, this.peakCanvas.height);
    if (peaks.length) drawPeaks(ctx, peaks, (x, y) => this.toScreen(x, y), 1 / this.s);
  }

  private updateLut(): void {
    this.configureCpu();
    this.recolor();
    const bytes = lutBytes(colormapOf(this.model), this.model.get('reverse') as boolean);
    if (!this.lut) {
      this.lut = new THREE.DataTexture(bytes, 256, 1, THREE.RGBAFormat);
      this.lut.minFilter = this.lut.magFilter = THREE.NearestFilter;
    } else {
      (this.lut.image.data as Uint8Array).set(bytes);
    }
    this.lut.needsUpdate = true;
    this.bar.setLut(bytes);
    this.draw();
  }

  private updateRange(): void {
    const vmin = this.model.get('vmin') as number;
    const vmax = this.model.get('vmax') as number;
    const scale = this.model.get('scale') as Scale;
    this.configureCpu();
    this.recolor();
    if (this.material) {
      const u = this.material.uniforms;
      u.vmin.value = vmin;
      u.vmax.value = vmax;
      u.scale.value = SCALE_CODE[scale];
      u.dummy.value = dummyThreshold(this.dtype);
      u.showMask.value = Boolean(this.model.get('show_mask'));
    }
    // labels at t = 1, 0.5, 0 (the middle label inverts the scale)
    const mid = scale === 'log' ? vmin + Math.expm1(0.5 * Math.log1p(vmax - vmin)) : scale === 'sqrt' ? vmin + 0.25 * (vmax - vmin) : (vmin + vmax) / 2;
    this.bar.setLabels([vmax, mid, vmin]);
    this.draw();
  }

  private syncControls(): void {
    for (const [name, input] of Object.entries(this.inputs)) {
      const v = name === 'colormap' ? colormapOf(this.model) : this.model.get(name);
      if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = Boolean(v);
      else if (document.activeElement !== input) input.value = typeof v === 'number' ? String(+v.toPrecision(6)) : String(v);
    }
    this.pauseButton.textContent = this.model.get('paused') ? 'resume' : 'pause';
  }

  // ------------------------------------------------------------ pointer: zoom, pan, ROI, readout

  private bindPointer(): void {
    const stage = this.stage;
    let drag: { mode: 'pan' | 'roi'; x: number; y: number; cx: number; cy: number; box?: HTMLDivElement } | null = null;
    const local = (e: MouseEvent) => {
      const r = stage.getBoundingClientRect();
      return { px: e.clientX - r.left, py: e.clientY - r.top };
    };
    stage.addEventListener('wheel', (e) => {
      if (!this.fullRows) return;
      e.preventDefault();
      const { px, py } = local(e);
      const before = this.toImage(px, py);
      this.s *= Math.exp(Math.sign(e.deltaY) * 0.15);
      this.userMoved = true;
      const after = this.toImage(px, py);
      this.cx += before.x - after.x; // keep the pixel under the cursor in place
      this.cy += before.y - after.y;
      this.draw();
      this.viewChanged();
    });
    stage.addEventListener('dblclick', () => {
      this.fit();
      this.draw();
      this.viewChanged();
    });
    stage.addEventListener('mousedown', (e) => {
      if (e.button !== 0 || !this.fullRows) return;
      e.preventDefault();
      const { px, py } = local(e);
      drag = { mode: e.shiftKey ? 'roi' : 'pan', x: px, y: py, cx: this.cx, cy: this.cy };
      if (drag.mode === 'roi') {
        drag.box = el('div', 'daqlab-li-roi daqlab-li-roi-drawing');
        this.overlay.append(drag.box);
      }
    });
    window.addEventListener('mousemove', (e) => {
      const { px, py } = local(e);
      if (!drag) return this.showReadout(px, py);
      if (drag.mode === 'pan') {
        this.userMoved = true;
        this.cx = drag.cx - (px - drag.x) * this.s;
        this.cy = drag.cy - (py - drag.y) * this.s;
        this.draw();
      } else if (drag.box) {
        Object.assign(drag.box.style, {
          left: `${Math.min(px, drag.x)}px`,
          top: `${Math.min(py, drag.y)}px`,
          width: `${Math.abs(px - drag.x)}px`,
          height: `${Math.abs(py - drag.y)}px`,
        });
      }
    });
    window.addEventListener('mouseup', (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      d.box?.remove();
      if (d.mode === 'pan') return this.viewChanged();
      const { px, py } = local(e);
      const roi = this.roiFromScreen(d.x, d.y, px, py);
      if (roi) this.setAndSave({ rois: [...(this.model.get('rois') as Roi[]), roi] });
    });
  }

  /** A dragged rectangle → [row0, col0, rows, cols] in detector pixels, clipped to the frame. */
  private roiFromScreen(x0: number, y0: number, x1: number, y1: number): Roi | null {
    const a = this.toImage(Math.min(x0, x1), Math.min(y0, y1));
    const b = this.toImage(Math.max(x0, x1), Math.max(y0, y1));
    const r0 = Math.max(0, Math.floor(a.y));
    const c0 = Math.max(0, Math.floor(a.x));
    const r1 = Math.min(this.fullRows, Math.ceil(b.y));
    const c1 = Math.min(this.fullCols, Math.ceil(b.x));
    return r1 > r0 && c1 > c0 ? [r0, c0, r1 - r0, c1 - c0] : null;
  }

  /**
   * The value under the cursor: the drawn texel (a sum of binning² detector pixels when binned).
   * The readout element carries it in data-* attributes too (frame, row, col, binning, value).
   */
  private showReadout(px: number, py: number): void {
    const { width, height } = this.viewport();
    const p = this.placed;
    if (!this.values || !p || px < 0 || py < 0 || px > width || py > height) return;
    const { x, y } = this.toImage(px, py);
    const tr = Math.floor((y - p.r0) / p.binning);
    const tc = Math.floor((x - p.c0) / p.binning);
    if (tr < 0 || tc < 0 || tr >= p.rows || tc >= p.cols) {
      this.readout.textContent = ' ';
      delete this.readout.dataset.value;
      return;
    }
    const v = this.values[tr * p.cols + tc];
    const bin = p.binning;
    const row = p.r0 + tr * bin;
    const col = p.c0 + tc * bin;
    const where = bin > 1 ? `rows ${row}–${row + bin - 1}, cols ${col}–${col + bin - 1} (sum of ${bin}×${bin})` : `row ${row}, col ${col}`;
    const masked = Number.isNaN(v) || v >= dummyThreshold(this.dtype);
    const t = normalize(v, this.model.get('vmin'), this.model.get('vmax'), this.model.get('scale'));
    this.readout.textContent = `frame ${this.lastIndex} · ${where}: ${formatValue(v)}${masked ? ' (masked)' : ` (${Math.round(t * 100)}% of range)`}`;
    Object.assign(this.readout.dataset, { frame: String(this.lastIndex), row: String(row), col: String(col), binning: String(bin), value: String(v) });
  }
}
