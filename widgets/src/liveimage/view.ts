/**
 * LiveImage: a live detector image in a notebook. The view composes modules that each do one job:
 * stream.ts (its own WebSocket to the server, the subscription and browsing), renderer.ts (WebGL or
 * CPU drawing), transform.ts (zoom/pan), interactions.ts (pointer), overlays.ts (ROIs, peaks).
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetView } from '@jupyter-widgets/base';
import type { ArrayItem } from '../client.js';
import { COLORMAPS, SCALES, dummyThreshold, formatValue, lutBytes, normalize, percentileRange, type Scale } from '../colormap.js';
import { ColorBar } from '../colorbar.js';
import { el, type ScanSummaryLike } from '../daqview.js';
import { FrameMeter } from '../meter.js';
import { onReconnect, onSettingsChanged } from '../settings.js';
import { chooseView, visibleRect, type ViewRequest } from '../viewspec.js';
import { bindPointer } from './interactions.js';
import { colormapOf, type Roi } from './model.js';
import { Overlays } from './overlays.js';
import { ImageRenderer } from './renderer.js';
import { FrameStream, type StreamHost } from './stream.js';
import { ViewTransform } from './transform.js';

export { LiveImageModel } from './model.js';

export class LiveImageView extends DOMWidgetView implements StreamHost {
  // DOM
  private stage!: HTMLDivElement;
  private readonly overlays = new Overlays();
  private browseTimer: ReturnType<typeof setTimeout> | null = null;
  private messageEl!: HTMLDivElement;
  private readout!: HTMLSpanElement;
  private fpsLabel!: HTMLSpanElement;
  private statusLabel!: HTMLSpanElement;
  private readonly bar = new ColorBar();
  private pauseButton!: HTMLButtonElement;
  private liveButton!: HTMLButtonElement;
  private slider!: HTMLInputElement;
  private frameLabel!: HTMLSpanElement;
  private inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  private image: ImageRenderer | null = null;
  readonly transform = new ViewTransform(() => this.viewport());
  private stream!: FrameStream;
  /** "name #number" of the scan shown (its key until the server said) */
  private scanName = '';
  lastIndex = -1;
  private lastRangeAt = 0;
  readonly meter = new FrameMeter();
  private lastReport = performance.now();
  /** items in the stream as far as the view knows */
  private knownLength = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private resizeObserver: ResizeObserver | null = null;
  private cleanups: (() => void)[] = [];

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
    this.messageEl = el('div', 'daqlab-li-message', 'connecting…');
    this.stage.append(this.overlays.el, this.messageEl);
    body.append(this.stage, this.bar.el);

    const footer = el('div', 'daqlab-li-footer');
    this.readout = el('span', 'daqlab-li-readout', ' ');
    this.fpsLabel = el('span', 'daqlab-li-fps', '0.0 fps');
    footer.append(this.readout, this.fpsLabel);
    this.el.append(toolbar, browse, body, footer);

    this.stream = new FrameStream(this);
    this.initRenderer();
    this.cleanups.push(
      bindPointer(this.stage, this.overlays.el, {
        transform: this.transform,
        redraw: () => this.draw(),
        viewChanged: () => this.viewChanged(),
        addRoi: (roi) => this.setAndSave({ rois: [...(this.model.get('rois') as Roi[]), roi] }),
        hover: (px, py) => this.showReadout(px, py),
      }),
    );
    this.syncControls();
    this.listenTo(this.model, 'change:colormap change:reverse', () => this.updateLut());
    this.listenTo(this.model, 'change:scale change:vmin change:vmax change:auto_range change:show_mask', () => this.updateRange());
    this.listenTo(this.model, 'change:paused', () => this.onPaused());
    this.listenTo(this.model, 'change:rois', () => this.drawOverlay());
    this.listenTo(this.model, 'change:show_peaks', () => this.drawOverlay());
    this.listenTo(this.model, 'change:height', () => this.resize());
    this.listenTo(this.model, 'change:server_url change:token', () => this.stream.restart());
    this.listenTo(this.model, 'change:scan change:stream change:max_size change:peaks_stream change:compression', () => void this.stream.resubscribe());
    this.listenTo(this.model, 'change:index', () => this.onIndex());
    this.listenTo(this.model, 'change', () => this.syncControls());
    this.timers.push(setInterval(() => this.report(), 1000));
    this.cleanups.push(onReconnect(() => this.stream.restart()));
    // the default colormap (JupyterLab setting) is drawn when the view sets none: redraw when it changes
    this.cleanups.push(
      onSettingsChanged((changed) => {
        if (!changed.has('colormap')) return;
        this.updateLut(); // colormapOf() picks the view's own or the setting
        this.syncControls();
      }),
    );
    this.stream.start();
  }

  override remove(): void {
    this.cleanups.forEach((f) => f());
    this.timers.forEach(clearInterval);
    this.resizeObserver?.disconnect();
    this.stream.close();
    this.image?.dispose();
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

  // ------------------------------------------------------------ StreamHost: what the stream tells the view

  status(text: string): void {
    this.statusLabel.textContent = text;
  }

  message(text: string | null): void {
    this.messageEl.textContent = text ?? '';
    this.messageEl.style.display = text ? 'flex' : 'none';
  }

  shape(rows: number, cols: number): void {
    const t = this.transform;
    if (rows === t.fullRows && cols === t.fullCols) return;
    t.fullRows = rows;
    t.fullCols = cols;
    t.fitted = false;
    t.fit();
  }

  scanShown(key: string, name: string, _summary?: ScanSummaryLike): void {
    if (name) this.scanName = name;
    const v = this.stream.request;
    const what = v ? `${v.roi ? ` · rows ${v.roi[0]}+${v.roi[2]}, cols ${v.roi[1]}+${v.roi[3]}` : ''}${v.binning > 1 ? ` · binned ${v.binning}×` : ''}` : '';
    this.statusLabel.dataset.scan = key;
    this.statusLabel.title = key;
    this.statusLabel.textContent = `${this.scanName} · ${this.model.get('stream')}${what}`;
  }

  wantedView(): ViewRequest {
    const t = this.transform;
    return chooseView(this.visible(), t.s, t.fullRows, t.fullCols, this.model.get('max_size') as number);
  }

  visible() {
    const t = this.transform;
    const { width, height } = this.viewport();
    return visibleRect(t.cx, t.cy, t.s, width, height, t.fullRows, t.fullCols);
  }

  frame(item: ArrayItem, view: ViewRequest, dtype: string): void {
    const image = this.image;
    if (!image) return;
    image.dtype = dtype;
    image.upload(item, view, this.transform.fullRows);
    this.lastIndex = item.index;
    const placed = image.placed!;
    // Python sees the drawn region and the auto range, but not every frame: only when they change (range ≤ 2 Hz)
    const changes: Record<string, unknown> = {};
    const drawn = [placed.r0, placed.c0, placed.rows * placed.binning, placed.cols * placed.binning, placed.binning];
    if (JSON.stringify(drawn) !== JSON.stringify(this.model.get('view'))) changes.view = drawn;
    const now = performance.now();
    if (this.model.get('auto_range') && now - this.lastRangeAt > 500) {
      this.lastRangeAt = now;
      const [lo, hi] = percentileRange(image.values!, 1, 99.5, dummyThreshold(dtype));
      if (lo !== this.model.get('vmin') || hi !== this.model.get('vmax')) Object.assign(changes, { vmin: lo, vmax: hi });
    }
    if (Object.keys(changes).length) this.setAndSave(changes);
    if (!this.browsing) this.syncBrowseSoon();
    else this.frameLabel.textContent = `frame ${item.index} / ${this.knownLength}`;
    this.draw();
  }

  /** Items in the stream as far as the view knows (slider range); Python's `length` follows once a second. */
  length(length: number, reset: boolean): void {
    if (!Number.isFinite(length) || (!reset && length <= this.knownLength)) return;
    this.knownLength = length;
    this.slider.max = String(Math.max(0, length - 1));
    if (reset || this.browsing) this.syncBrowse();
    else this.syncBrowseSoon();
    // a (re)opened stream's length goes to Python now; growth while following waits for the next report
    if (reset && length !== this.model.get('length')) this.setAndSave({ length });
  }

  ended(length: number): void {
    this.length(length, false);
    this.statusLabel.textContent = `scan ended (${length} items)`;
  }

  peaks(events: Parameters<Overlays['addPeaks']>[0]): Set<number> {
    return this.overlays.addPeaks(events);
  }

  clearPeaks(): void {
    this.overlays.clearPeaks();
  }

  peaksChanged(): void {
    this.drawOverlay();
  }

  // ------------------------------------------------------------ browsing

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
    const length = this.knownLength;
    if (index >= 0) {
      if (document.activeElement !== this.slider) this.slider.value = String(index);
      this.frameLabel.textContent = `frame ${index} / ${length}`;
    } else {
      if (this.lastIndex >= 0) this.slider.value = String(this.lastIndex);
      this.frameLabel.textContent = `live · ${length} frames`;
    }
    this.liveButton.disabled = index < 0;
  }

  private onIndex(): void {
    this.syncBrowse();
    this.stream.onIndex();
  }

  private onPaused(): void {
    this.pauseButton.textContent = this.model.get('paused') ? 'resume' : 'pause';
    this.stream.onPaused();
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
    if (this.knownLength !== this.model.get('length')) changes.length = this.knownLength;
    if (Object.keys(changes).length) this.setAndSave(changes);
  }

  /** After zoom/pan/resize: the stream may ask for another region or binning. */
  private viewChanged(): void {
    if (this.transform.fullRows) this.stream.viewChanged();
  }

  // ------------------------------------------------------------ drawing

  private initRenderer(): void {
    const image = new ImageRenderer(this.stage, this.model.get('renderer') as string);
    if (!image.kind) return this.message(image.error);
    this.image = image;
    this.updateLut();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.resize();
  }

  private viewport(): { width: number; height: number } {
    return { width: this.stage?.clientWidth || 640, height: (this.model.get('height') as number) || 480 };
  }

  private resize(): void {
    if (!this.image) return;
    const { width, height } = this.viewport();
    this.stage.style.height = `${height}px`;
    this.bar.el.style.height = `${height}px`; // the colour bar spans the image area
    this.image.resize(width, height);
    this.overlays.resize(width, height);
    const t = this.transform;
    if ((!t.fitted || !t.userMoved) && t.fullRows) t.fit();
    this.draw();
    this.viewChanged();
  }

  private draw(): void {
    if (!this.image) return;
    this.image.render(this.transform);
    this.drawOverlay();
  }

  private drawOverlay(): void {
    this.overlays.draw(this.transform, (this.model.get('rois') as Roi[]) ?? [], this.lastIndex, Boolean(this.model.get('show_peaks')));
  }

  private updateLut(): void {
    const bytes = lutBytes(colormapOf(this.model), this.model.get('reverse') as boolean);
    this.image?.setLut(bytes);
    this.bar.setLut(bytes);
    this.draw();
  }

  private updateRange(): void {
    const vmin = this.model.get('vmin') as number;
    const vmax = this.model.get('vmax') as number;
    const scale = this.model.get('scale') as Scale;
    this.image?.setLevels({ vmin, vmax, scale, showMask: Boolean(this.model.get('show_mask')) });
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

  // ------------------------------------------------------------ readout

  /**
   * The value under the cursor: the drawn texel (a sum of binning² detector pixels when binned).
   * The readout element carries it in data-* attributes too (frame, row, col, binning, value).
   */
  private showReadout(px: number, py: number): void {
    const { width, height } = this.viewport();
    const p = this.image?.placed;
    const values = this.image?.values;
    if (!values || !p || px < 0 || py < 0 || px > width || py > height) return;
    const { x, y } = this.transform.toImage(px, py);
    const tr = Math.floor((y - p.r0) / p.binning);
    const tc = Math.floor((x - p.c0) / p.binning);
    if (tr < 0 || tc < 0 || tr >= p.rows || tc >= p.cols) {
      this.readout.textContent = ' ';
      delete this.readout.dataset.value;
      return;
    }
    const v = values[tr * p.cols + tc];
    const bin = p.binning;
    const row = p.r0 + tr * bin;
    const col = p.c0 + tc * bin;
    const where = bin > 1 ? `rows ${row}–${row + bin - 1}, cols ${col}–${col + bin - 1} (sum of ${bin}×${bin})` : `row ${row}, col ${col}`;
    const masked = Number.isNaN(v) || v >= dummyThreshold(this.image!.dtype);
    const t = normalize(v, this.model.get('vmin'), this.model.get('vmax'), this.model.get('scale'));
    this.readout.textContent = `frame ${this.lastIndex} · ${where}: ${formatValue(v)}${masked ? ' (masked)' : ` (${Math.round(t * 100)}% of range)`}`;
    Object.assign(this.readout.dataset, { frame: String(this.lastIndex), row: String(row), col: String(col), binning: String(bin), value: String(v) });
  }
}
