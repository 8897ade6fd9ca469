/**
 * LiveImage: a live detector image in a notebook. The view composes modules that each do one job:
 * stream.ts (its own WebSocket to the server, the subscription and browsing), renderer.ts (WebGL or
 * CPU drawing), transform.ts (zoom/pan), interactions.ts (pointer), keyboard.ts, overlays.ts (ROIs
 * with their statistics, peaks, rings, profile line), axesview.ts (rows/columns), histogram.ts
 * (levels), profileview.ts (the profile plot), png.ts (the picture). The tools' arithmetic lives in
 * DOM-free modules (levels, axes, geometry, profile) with unit tests.
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetView } from '@jupyter-widgets/base';
import type { FrameStats } from '@daqlab/daq-server/protocol';
import type { ArrayItem } from '../client.js';
import { COLORMAPS, SCALES, dummyThreshold, formatValue, lutBytes, normalize, type Scale } from '../colormap.js';
import { ColorBar } from '../colorbar.js';
import { el, type ScanSummaryLike } from '../daqview.js';
import { acquisitionFrame } from '../frame-join.js';
import { FrameMeter } from '../meter.js';
import { onReconnect, onSettingsChanged } from '../settings.js';
import { chooseView, visibleRect, type ViewRequest } from '../viewspec.js';
import { AxesView } from './axesview.js';
import { dOfTth, poniOf, qOfTth, tthAtPixel, type Poni, type RingUnit } from './geometry.js';
import { AutoLevels, type AutoScope } from './autoscope.js';
import { LevelsPanel } from './histogram.js';
import { roundLevels } from './levels.js';
import { bindPointer } from './interactions.js';
import { bindKeys } from './keyboard.js';
import { colormapOf, type Roi } from './model.js';
import { Overlays } from './overlays.js';
import { composePicture, download, pngBytes } from './png.js';
import { offerSnapshot } from '../snapshots.js';
import { profileLine, roiStat, sampleProfile, type Line, type ProfileMode } from './profile.js';
import { ProfilePlot } from './profileview.js';
import { Throttle } from './throttle.js';
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
  /** acquisition frame of the drawn item (item positions skip dropped frames): peaks, readout and titles use it */
  peakFrame = -1;
  readonly meter = new FrameMeter();
  private lastReport = performance.now();
  /** items in the stream as far as the view knows */
  private knownLength = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private resizeObserver: ResizeObserver | null = null;
  private cleanups: (() => void)[] = [];
  // tools
  private readonly axes = new AxesView();
  private levels!: LevelsPanel;
  private readonly autoLevels = new AutoLevels();
  /** the whole frame's statistics the server sent with the drawn region (zoomed in), else null */
  private frameStats: FrameStats | null = null;
  private readonly profilePlot = new ProfilePlot();
  private plot!: HTMLDivElement;
  private barTitle!: HTMLDivElement;
  private playButton!: HTMLButtonElement;
  private playTimer: ReturnType<typeof setInterval> | null = null;
  private geometry: Poni | null = null;
  private scanKey = '';
  /** the profile line while it is being dragged (Python gets it on release) */
  private dragLine: Line | null = null;
  // the tools follow the drawn frame at a bounded rate, and always end on the frame left on screen
  private readonly levelsTick = new Throttle(250, () => this.autoscaleNow());
  private readonly statsTick = new Throttle(250, () => this.updateStats());
  private readonly profileTick = new Throttle(250, () => this.updateProfile());

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
    const labelled = (text: string, input: HTMLElement, name: string) => {
      const l = el('label', `daqlab-li-field daqlab-li-field-${name}`, text);
      l.append(input);
      return l;
    };
    const width = el('input', 'daqlab-li-number daqlab-li-width');
    width.type = 'number';
    width.min = '1';
    width.max = '512';
    width.title = 'profile width, detector pixels (averaged across the line)';
    width.onchange = () => this.setAndSave({ profile_width: Math.max(1, Math.min(512, Math.round(Number(width.value)) || 1)) });
    this.inputs.profile_width = width;
    const png = el('button', 'daqlab-li-png', 'PNG');
    png.title = 'save the picture (image, overlays, axes, colour bar, profile) as a PNG file';
    png.onclick = () => download(this.pictureBytes(), this.pictureName());
    this.pauseButton = el('button', 'daqlab-li-pause', 'pause');
    this.pauseButton.onclick = () => this.setAndSave({ paused: !this.model.get('paused') });
    const clear = el('button', 'daqlab-li-clear', 'clear ROIs');
    clear.onclick = () => this.setAndSave({ rois: [] });
    this.statusLabel = el('span', 'daqlab-li-status');
    toolbar.append(
      select('colormap', COLORMAPS),
      check('reverse', 'reverse'),
      select('scale', SCALES),
      check('show_mask', 'mask'),
      check('show_peaks', 'peaks'),
      check('show_axes', 'axes'),
      labelled('rings ', select('rings', ['off', 'q', '2theta']), 'rings'),
      labelled('profile ', select('profile', ['off', 'horizontal', 'vertical', 'line']), 'profile'),
      labelled('width ', width, 'profile_width'),
      this.pauseButton,
      png,
      clear,
      this.statusLabel,
    );
    this.levels = new LevelsPanel(this.model, (values) => this.setAndSave(values));

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
    const stepButton = (cls: string, text: string, delta: number, title: string) => {
      const b = el('button', cls, text);
      b.title = title;
      b.onclick = () => this.step(delta);
      return b;
    };
    this.playButton = el('button', 'daqlab-li-play', '▶ play');
    this.playButton.title = 'play the frames of the scan (space); stops at the last frame';
    this.playButton.onclick = () => this.togglePlay();
    browse.append(
      stepButton('daqlab-li-prev', '◀', -1, 'previous frame (←)'),
      this.playButton,
      stepButton('daqlab-li-next', '▶', 1, 'next frame (→)'),
      this.liveButton,
      this.slider,
      this.frameLabel,
    );

    // the image between its axes (rows left, columns below) and the colour bar with its title
    this.plot = el('div', 'daqlab-li-plot');
    this.stage = el('div', 'daqlab-li-stage');
    this.stage.title = 'wheel: zoom · drag: pan · double-click: fit · shift+drag: ROI · ← →: frames · space: pause/play';
    this.messageEl = el('div', 'daqlab-li-message', 'connecting…');
    this.stage.append(this.overlays.el, this.messageEl);
    const barColumn = el('div', 'daqlab-li-barcol');
    this.barTitle = el('div', 'daqlab-li-bartitle', 'counts');
    barColumn.append(this.bar.el, this.barTitle);
    this.plot.append(this.axes.left, this.stage, barColumn, el('div'), this.axes.bottom);

    const footer = el('div', 'daqlab-li-footer');
    this.readout = el('span', 'daqlab-li-readout', ' ');
    this.fpsLabel = el('span', 'daqlab-li-fps', '0.0 fps');
    footer.append(this.readout, this.fpsLabel);
    this.el.append(toolbar, this.levels.el, browse, this.plot, this.profilePlot.el, footer);

    this.stream = new FrameStream(this);
    this.initRenderer();
    this.cleanups.push(
      bindPointer(this.stage, this.overlays.el, {
        transform: this.transform,
        redraw: () => this.draw(),
        viewChanged: () => this.viewChanged(),
        addRoi: (roi) => this.setAndSave({ rois: [...(this.model.get('rois') as Roi[]), roi] }),
        hover: (px, py) => this.showReadout(px, py),
        profileMode: () => this.model.get('profile') as ProfileMode,
        setProfile: (from, to, done) => this.setProfile(from, to, done),
      }),
    );
    bindKeys(this.stage, {
      step: (d) => this.step(d),
      toggle: () => (this.browsing ? this.togglePlay() : this.setAndSave({ paused: !this.model.get('paused') })),
      live: () => this.goLive(),
      first: () => this.setAndSave({ index: 0 }),
    });
    this.syncControls();
    this.profilePlot.show(this.model.get('profile') !== 'off');
    this.listenTo(this.model, 'change:colormap change:reverse', () => this.updateLut());
    this.listenTo(this.model, 'change:scale change:vmin change:vmax change:auto_range change:auto_scope change:show_mask', () => this.updateRange());
    this.listenTo(this.model, 'change:auto_range change:auto_percentiles change:auto_scope', () => this.levelsTick.flush());
    this.listenTo(this.model, 'change:show_axes change:rings', () => this.draw());
    this.listenTo(this.model, 'change:profile change:profile_line change:profile_width', () => this.profileChanged());
    this.listenTo(this.model, 'msg:custom', (content: { type?: string; id?: number }) => this.onMessage(content));
    this.listenTo(this.model, 'change:paused', () => this.onPaused());
    this.listenTo(this.model, 'change:rois', () => {
      this.drawOverlay();
      this.statsTick.flush();
    });
    this.listenTo(this.model, 'change:show_peaks', () => this.drawOverlay());
    this.listenTo(this.model, 'change:height', () => this.resize());
    this.listenTo(this.model, 'change:server_url change:token', () => this.stream.restart());
    this.listenTo(this.model, 'change:scan change:stream', () => this.autoLevels.reset());
    this.listenTo(this.model, 'change:scan change:stream change:max_size change:peaks_stream change:compression', () => void this.stream.resubscribe());
    this.listenTo(this.model, 'change:index', () => this.onIndex());
    this.listenTo(this.model, 'change', () => this.syncControls());
    this.timers.push(setInterval(() => this.report(), 1000));
    this.cleanups.push(onReconnect(() => this.stream.restart()), this.offerPicture());
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
    this.stopPlay();
    for (const t of [this.levelsTick, this.statsTick, this.profileTick]) t.cancel();
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

  scanShown(key: string, name: string, summary?: ScanSummaryLike): void {
    if (key !== this.scanKey) {
      this.scanKey = key;
      this.geometry = null;
    }
    if (summary) {
      this.geometry = poniOf(summary.info);
      this.drawOverlay();
    }
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
    this.frameStats = item.stats ?? null;
    this.lastIndex = item.index;
    this.peakFrame = acquisitionFrame(item);
    const placed = image.placed!;
    // Python sees the drawn region and the auto range, but not every frame: only when they change (range ≤ 2 Hz)
    const changes: Record<string, unknown> = {};
    const drawn = [placed.r0, placed.c0, placed.rows * placed.binning, placed.cols * placed.binning, placed.binning];
    if (JSON.stringify(drawn) !== JSON.stringify(this.model.get('view'))) changes.view = drawn;
    if (Object.keys(changes).length) this.setAndSave(changes);
    this.levelsTick.request();
    this.statsTick.request();
    this.profileTick.request();
    const barTitle = `${this.model.get('stream')}${placed.binning > 1 ? ` (sum of ${placed.binning}×${placed.binning} px)` : ''}`;
    if (barTitle !== this.barTitle.textContent) this.barTitle.textContent = barTitle; // a DOM write costs a layout
    if (!this.browsing) this.syncBrowseSoon();
    else this.frameLabel.textContent = `frame ${item.index} / ${this.knownLength}${this.peakFrame !== item.index ? ` (acquisition frame ${this.peakFrame})` : ''}`;
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
    this.barTitle.style.height = `${height}px`;
    this.image.resize(width, height);
    this.overlays.resize(width, height);
    this.levels.resized();
    this.profilePlot.resized();
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
    this.overlays.draw(this.transform, {
      rois: (this.model.get('rois') as Roi[]) ?? [],
      frame: this.peakFrame,
      showPeaks: Boolean(this.model.get('show_peaks')),
      geometry: this.geometry,
      rings: (this.model.get('rings') as RingUnit | 'off') ?? 'off',
      profile: this.currentLine(),
      profileWidth: (this.model.get('profile_width') as number) || 1,
    });
    this.axes.draw(this.transform, Boolean(this.model.get('show_axes')));
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
    this.levels.sync();
    this.draw();
  }

  private syncControls(): void {
    for (const [name, input] of Object.entries(this.inputs)) {
      const v = name === 'colormap' ? colormapOf(this.model) : this.model.get(name);
      if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = Boolean(v);
      else if (document.activeElement !== input) input.value = typeof v === 'number' ? String(+v.toPrecision(6)) : String(v);
    }
    this.pauseButton.textContent = this.model.get('paused') ? 'resume' : 'pause';
    this.levels?.sync();
  }

  // ------------------------------------------------------------ tools: levels, ROI statistics, profile

  /** The histogram of the drawn frame, and the levels when autoscale is on (≤ 4 Hz, a bounded subsample). */
  private autoscaleNow(): void {
    const values = this.image?.values;
    if (!values) return;
    const drawn = this.levels.update(values, dummyThreshold(this.image!.dtype));
    const placed = this.image!.placed;
    const t = this.transform;
    // the whole frame's levels unless the user asked for the view's: zooming does not move them
    const scope = this.model.get('auto_scope') as AutoScope;
    const found = drawn && placed && t.fullRows ? this.autoLevels.levels(scope, placed, t.fullRows, t.fullCols, drawn, this.frameStats) : drawn;
    const range = found && roundLevels(found);
    if (range && (range[0] !== this.model.get('vmin') || range[1] !== this.model.get('vmax'))) this.setAndSave({ vmin: range[0], vmax: range[1] });
  }

  /** The ROIs' statistics on the drawn frame, beside them (≤ 4 Hz). */
  private updateStats(): void {
    const image = this.image;
    const rois = (this.model.get('rois') as Roi[]) ?? [];
    if (!image?.values || !image.placed || !rois.length) return;
    const dummy = dummyThreshold(image.dtype);
    this.overlays.setRoiStats(rois.map((r) => roiStat(image.values!, image.placed!, r, dummy)));
  }

  /** The profile line now: the one being dragged, else the model's, else through the middle of the frame. */
  private currentLine(): Line | null {
    const mode = this.model.get('profile') as ProfileMode;
    const t = this.transform;
    if (mode === 'off' || !t.fullRows) return null;
    if (this.dragLine) return this.dragLine;
    const pl = (this.model.get('profile_line') as number[]) ?? [];
    const line: Line = pl.length === 4 ? [pl[1], pl[0], pl[3], pl[2]] : [0, 0, t.fullCols, t.fullRows];
    if (mode === 'line') return line;
    const mid = pl.length === 4 ? [(line[0] + line[2]) / 2, (line[1] + line[3]) / 2] : [t.fullCols / 2, t.fullRows / 2];
    return profileLine(mode, mid[0], mid[1], t.fullRows, t.fullCols, null);
  }

  private setProfile(from: { x: number; y: number }, to: { x: number; y: number }, done: boolean): void {
    const mode = this.model.get('profile') as ProfileMode;
    const t = this.transform;
    const line = mode === 'line' ? ([from.x, from.y, to.x, to.y] as Line) : profileLine(mode, to.x, to.y, t.fullRows, t.fullCols, null);
    if (!line) return;
    this.dragLine = done ? null : line;
    if (done) {
      const r = (v: number) => Math.round(v * 100) / 100;
      this.setAndSave({ profile_line: [r(line[1]), r(line[0]), r(line[3]), r(line[2])] });
    }
    this.profileChanged();
  }

  private profileChanged(): void {
    this.profilePlot.show(this.model.get('profile') !== 'off');
    this.drawOverlay();
    this.profileTick.flush();
  }

  /** The profile of the drawn frame along the line, plotted (≤ 4 Hz). */
  private updateProfile(): void {
    const line = this.currentLine();
    const image = this.image;
    if (!line) return;
    const data = image?.values && image.placed
      ? sampleProfile(image.values, image.placed, line, (this.model.get('profile_width') as number) || 1, dummyThreshold(image.dtype))
      : null;
    this.profilePlot.draw(data, `frame ${this.peakFrame}`);
  }

  // ------------------------------------------------------------ frames: keyboard, play, live

  private step(delta: number): void {
    const last = Math.max(0, this.knownLength - 1);
    const from = this.browsing ? (this.model.get('index') as number) : Math.max(0, this.lastIndex);
    this.setAndSave({ index: Math.max(0, Math.min(last, from + delta)) });
  }

  private goLive(): void {
    this.stopPlay();
    this.setAndSave({ index: -1 });
  }

  private togglePlay(): void {
    if (this.playTimer) return this.stopPlay();
    if (!this.browsing) return;
    this.playButton.textContent = '❚❚ stop';
    this.playTimer = setInterval(() => {
      const index = this.model.get('index') as number;
      if (index < 0 || index >= this.knownLength - 1) return this.stopPlay();
      this.setAndSave({ index: index + 1 });
    }, 200);
  }

  private stopPlay(): void {
    if (this.playTimer) clearInterval(this.playTimer);
    this.playTimer = null;
    if (this.playButton) this.playButton.textContent = '▶ play';
  }

  // ------------------------------------------------------------ the picture (PNG): toolbar and Python

  private pictureName(): string {
    return `${(this.scanName || 'liveimage').replace(/[^\w.#-]+/g, '_')}-frame${this.lastIndex}.png`;
  }

  /** The picture for the Logbook's "attach view" (snapshots.ts). */
  private offerPicture(): () => void {
    return offerSnapshot({
      el: this.el,
      ready: () => Boolean(this.image) && this.lastIndex >= 0,
      take: async () => ({ name: this.pictureName(), png: new Blob([this.pictureBytes() as BlobPart], { type: 'image/png' }) }),
    });
  }

  private pictureBytes(): Uint8Array {
    this.draw();
    const title = `${this.scanName} · ${this.model.get('stream')} · frame ${this.peakFrame}`;
    return pngBytes(composePicture(this.el, [this.plot, this.profilePlot.el], title));
  }

  /** `LiveImage.save_png()`: the picture back to the kernel over the widget comm. */
  private onMessage(content: { type?: string; id?: number }): void {
    if (content?.type !== 'png') return;
    const id = Number(content.id);
    try {
      if (!this.image || this.lastIndex < 0) throw new Error('no frame drawn yet');
      const png = this.pictureBytes();
      this.model.send({ type: 'png', id }, {}, [png.buffer as ArrayBuffer]);
    } catch (e) {
      this.model.send({ type: 'png', id, error: (e as Error).message }, {});
    }
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
    let geo = '';
    const g = this.geometry;
    if (g) {
      const tth = tthAtPixel(g, x, y);
      const q = g.wavelength ? qOfTth(tth, g.wavelength) : NaN;
      const d = g.wavelength ? dOfTth(tth, g.wavelength) : NaN;
      geo = ` · 2θ ${((tth * 180) / Math.PI).toFixed(2)}°${Number.isFinite(q) ? ` · q ${q.toFixed(3)} nm⁻¹ · d ${d.toFixed(2)} Å` : ''}`;
      Object.assign(this.readout.dataset, { tth: String(tth), q: String(q), d: String(d) });
    }
    this.readout.textContent = `frame ${this.peakFrame} · ${where}: ${formatValue(v)}${masked ? ' (masked)' : ` (${Math.round(t * 100)}% of range)`}${geo}`;
    Object.assign(this.readout.dataset, { frame: String(this.peakFrame), item: String(this.lastIndex), row: String(row), col: String(col), binning: String(bin), value: String(v) });
  }
}
