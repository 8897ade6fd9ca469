/**
 * LiveImage: a live detector image in a notebook. The view opens its own
 * WebSocket to the daqlab server (through jupyter-server-proxy by default) and
 * subscribes in `latest` mode, binned to fit the display, so pixels never pass
 * through the kernel. Frames are drawn with three.js: a float texture of the
 * image and a 256-entry colormap texture, combined in a fragment shader.
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from '@jupyter-widgets/base';
import * as THREE from 'three';
import { DaqClient, type ArrayItem, type DataMessage } from './client.js';
import { keepConnected, serverAddress, sleep } from './connection.js';
import {
  COLORMAPS,
  SCALES,
  SCALE_CODE,
  dummyThreshold,
  fitBinning,
  formatValue,
  lutBytes,
  normalize,
  percentileRange,
  type Colormap,
  type Scale,
} from './colormap.js';
import { MODULE_NAME, MODULE_VERSION } from './version.js';

export class LiveImageModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      _model_name: 'LiveImageModel',
      _view_name: 'LiveImageView',
      _model_module: MODULE_NAME,
      _view_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_module_version: MODULE_VERSION,
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'frame',
      follow: false,
      colormap: 'viridis',
      reverse: false,
      scale: 'linear',
      auto_range: true,
      vmin: 0,
      vmax: 1,
      paused: false,
      max_size: 1024,
      height: 480,
      fps: 0,
      rois: [],
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
const FRAGMENT = /* glsl */ `
precision highp float;
uniform sampler2D image;
uniform sampler2D lut;
uniform float vmin;
uniform float vmax;
uniform int scale;
varying vec2 vUv;
void main() {
  float v = texture2D(image, vec2(vUv.x, 1.0 - vUv.y)).r;
  float span = max(vmax - vmin, 1e-12);
  float x = clamp(v - vmin, 0.0, span);
  float t = scale == 1 ? log(1.0 + x) / log(1.0 + span) : (scale == 2 ? sqrt(x / span) : x / span);
  gl_FragColor = texture2D(lut, vec2((t * 255.0 + 0.5) / 256.0, 0.5));
}`;

type Roi = [number, number, number, number];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}


export class LiveImageView extends DOMWidgetView {
  // DOM
  private stage!: HTMLDivElement;
  private overlay!: HTMLDivElement;
  private message!: HTMLDivElement;
  private readout!: HTMLSpanElement;
  private fpsLabel!: HTMLSpanElement;
  private statusLabel!: HTMLSpanElement;
  private bar!: HTMLCanvasElement;
  private barLabels!: HTMLDivElement;
  private pauseButton!: HTMLButtonElement;
  private inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  // WebGL
  private renderer: THREE.WebGLRenderer | null = null;
  private scene = new THREE.Scene();
  private camera = new THREE.OrthographicCamera(0, 1, 1, 0, -1, 1);
  private material: THREE.ShaderMaterial | null = null;
  private mesh: THREE.Mesh | null = null;
  private texture: THREE.DataTexture | null = null;
  private lut: THREE.DataTexture | null = null;
  // image and view transform: centre (cx, cy) in image pixels, s image pixels per screen pixel
  private rows = 0;
  private cols = 0;
  private values: Float32Array | null = null;
  private binning = 1;
  private dtype = 'float32';
  private cx = 0;
  private cy = 0;
  private s = 1;
  private fitted = false;
  // data flow
  private client: DaqClient | null = null;
  private sub: string | null = null;
  /** the scan/stream/size the latest resubscribe() is for (an older retry loop stops) */
  private wanted = '';
  private pending: { item: ArrayItem; msg: number } | null = null;
  private lastMsg = -1;
  private drawScheduled = false;
  private frames = 0;
  private lastIndex = -1;
  private lastRangeAt = 0;
  private closed = false;
  private generation = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private resizeObserver: ResizeObserver | null = null;

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
      const wrap = el('label', 'daqlab-li-check');
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
      this.pauseButton,
      clear,
      this.statusLabel,
    );

    const body = el('div', 'daqlab-li-body');
    this.stage = el('div', 'daqlab-li-stage');
    this.overlay = el('div', 'daqlab-li-overlay');
    this.message = el('div', 'daqlab-li-message', 'connecting…');
    this.stage.append(this.overlay, this.message);
    const barBox = el('div', 'daqlab-li-colorbar');
    this.bar = el('canvas');
    this.bar.width = 1;
    this.bar.height = 256;
    this.barLabels = el('div', 'daqlab-li-barlabels');
    barBox.append(this.bar, this.barLabels);
    body.append(this.stage, barBox);

    const footer = el('div', 'daqlab-li-footer');
    this.readout = el('span', 'daqlab-li-readout', ' ');
    this.fpsLabel = el('span', 'daqlab-li-fps', '0.0 fps');
    footer.append(this.readout, this.fpsLabel);
    this.el.append(toolbar, body, footer);

    this.initGL();
    this.bindPointer();
    this.syncControls();
    this.listenTo(this.model, 'change:colormap change:reverse', () => this.updateLut());
    this.listenTo(this.model, 'change:scale change:vmin change:vmax change:auto_range', () => this.updateRange());
    this.listenTo(this.model, 'change:paused', () => this.onPaused());
    this.listenTo(this.model, 'change:rois', () => this.drawRois());
    this.listenTo(this.model, 'change:height', () => this.resize());
    this.listenTo(this.model, 'change:server_url change:token', () => this.restart());
    this.listenTo(this.model, 'change:scan change:stream change:max_size', () => this.resubscribe());
    this.listenTo(this.model, 'change', () => this.syncControls());
    this.timers.push(setInterval(() => this.reportFps(), 1000));
    void this.run(this.generation);
  }

  override remove(): void {
    this.closed = true;
    this.timers.forEach(clearInterval);
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
          if (this.model.get('follow') && key) this.setAndSave({ scan: key });
        });
        client.on('sub.end', (ev) => {
          if (ev.sub === this.sub) {
            this.sub = null;
            this.statusLabel.textContent = `scan ended (${ev.length} items)`;
          }
        });
        await this.resubscribe();
      },
      detach: () => {
        this.client = null;
        this.sub = null;
      },
    });
  }

  /** A new address: drop the connection and start over. */
  private restart(): void {
    this.generation++;
    this.client?.close();
    this.client = null;
    this.sub = null;
    void this.run(this.generation);
  }

  /**
   * (Re)subscribe to the model's scan/stream; a scan or stream that is not there (yet) is
   * reported in the view and retried, without dropping the connection.
   */
  private async resubscribe(): Promise<void> {
    const client = this.client;
    const key = `${this.model.get('scan')}/${this.model.get('stream')}/${this.model.get('max_size')}`;
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
    if (this.sub) {
      const old = this.sub;
      this.sub = null;
      void client.unsubscribe(old);
    }
    this.pending = null;
    let scan = this.model.get('scan') as string;
    const stream = this.model.get('stream') as string;
    if (!scan) {
      const last = await client.request<{ key: string } | null>('scans.last');
      if (!last) {
        this.showMessage('no scan yet: waiting for an acquisition…');
        this.statusLabel.textContent = 'waiting';
        return;
      }
      scan = last.key;
    }
    const info = await client.request<{ shape?: number[]; dtype?: string }>('stream.info', { scan, stream });
    const shape = info.shape ?? [];
    if (shape.length < 2) throw new Error(`${scan}/${stream} is not an image stream (shape ${JSON.stringify(shape)})`);
    this.binning = fitBinning(shape[shape.length - 2], shape[shape.length - 1], this.model.get('max_size') as number);
    const result = await client.subscribe(
      { scan, stream, mode: 'latest', binning: this.binning },
      (msg) => this.onData(msg),
    );
    if (client !== this.client) return void client.unsubscribe(result.sub);
    this.sub = result.sub;
    this.lastMsg = -1;
    this.dtype = result.dtype;
    this.statusLabel.textContent = `${scan} · ${stream}${this.binning > 1 ? ` · binned ${this.binning}×` : ''}`;
    this.showMessage(null);
  }

  private onData(msg: DataMessage): void {
    if (msg.header.sub !== this.sub || msg.items.length === 0) return;
    this.pending = { item: msg.items[msg.items.length - 1], msg: msg.header.msg };
    this.lastMsg = msg.header.msg;
    if (!this.model.get('paused')) this.scheduleDraw();
  }

  /** Draw on the next animation frame, then ack: the server sends the next frame only then (latest mode, window 1). */
  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      const p = this.pending;
      if (!p || this.model.get('paused')) return;
      this.pending = null;
      this.upload(p.item);
      this.frames++;
      if (this.sub) this.client?.ack(this.sub, p.msg);
    });
  }

  private onPaused(): void {
    const paused = this.model.get('paused') as boolean;
    this.pauseButton.textContent = paused ? 'resume' : 'pause';
    if (!paused) {
      if (this.pending) this.scheduleDraw();
      else if (this.sub && this.lastMsg >= 0) this.client?.ack(this.sub, this.lastMsg);
    }
  }

  private reportFps(): void {
    const fps = this.frames;
    this.frames = 0;
    this.fpsLabel.textContent = `${fps.toFixed(1)} fps`;
    const changes: Record<string, unknown> = {};
    if (fps !== this.model.get('fps')) changes.fps = fps;
    if (Object.keys(changes).length) this.setAndSave(changes);
  }

  // ------------------------------------------------------------ drawing

  private initGL(): void {
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: false, alpha: true });
    } catch (e) {
      this.showMessage(`WebGL is not available in this browser: ${(e as Error).message}`);
      return;
    }
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.stage.prepend(this.renderer.domElement);
    this.updateLut();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.resize();
  }

  private upload(item: ArrayItem): void {
    const rows = item.shape[item.shape.length - 2];
    const cols = item.shape[item.shape.length - 1];
    if (rows !== this.rows || cols !== this.cols || !this.texture) this.allocate(rows, cols);
    const out = this.values!;
    const src = item.data;
    for (let i = 0; i < out.length; i++) out[i] = src[i];
    this.texture!.needsUpdate = true;
    this.lastIndex = item.index;
    const now = performance.now();
    if (this.model.get('auto_range') && now - this.lastRangeAt > 500) {
      this.lastRangeAt = now;
      const [lo, hi] = percentileRange(out, 1, 99.5, dummyThreshold(this.dtype));
      this.setAndSave({ vmin: lo, vmax: hi });
    }
    this.draw();
  }

  private allocate(rows: number, cols: number): void {
    this.rows = rows;
    this.cols = cols;
    this.values = new Float32Array(rows * cols);
    this.texture?.dispose();
    this.texture = new THREE.DataTexture(this.values, cols, rows, THREE.RedFormat, THREE.FloatType);
    this.texture.minFilter = this.texture.magFilter = THREE.NearestFilter;
    if (this.mesh) this.scene.remove(this.mesh);
    this.material = new THREE.ShaderMaterial({
      vertexShader: VERTEX,
      fragmentShader: FRAGMENT,
      uniforms: {
        image: { value: this.texture },
        lut: { value: this.lut },
        vmin: { value: 0 },
        vmax: { value: 1 },
        scale: { value: 0 },
      },
    });
    const geometry = new THREE.PlaneGeometry(cols, rows);
    geometry.translate(cols / 2, rows / 2, 0);
    this.mesh = new THREE.Mesh(geometry, this.material);
    this.scene.add(this.mesh);
    this.fitted = false;
    this.resize();
    this.updateRange();
  }

  private resize(): void {
    if (!this.renderer) return;
    const width = this.stage.clientWidth || 640;
    const height = this.model.get('height') as number;
    this.stage.style.height = `${height}px`;
    (this.bar.parentElement as HTMLElement).style.height = `${height}px`; // the colour bar spans the image area
    this.renderer.setSize(width, height);
    if (!this.fitted && this.rows) this.fit();
    this.draw();
  }

  private fit(): void {
    const { width, height } = this.viewport();
    this.s = Math.max(this.cols / width, this.rows / height);
    this.cx = this.cols / 2;
    this.cy = this.rows / 2;
    this.fitted = true;
  }

  private viewport(): { width: number; height: number } {
    return { width: this.stage.clientWidth || 640, height: (this.model.get('height') as number) || 480 };
  }

  /** Screen pixel in the stage → image (display) coordinates: x = column, y = row. */
  private toImage(px: number, py: number): { x: number; y: number } {
    const { width, height } = this.viewport();
    return { x: this.cx + (px - width / 2) * this.s, y: this.cy + (py - height / 2) * this.s };
  }

  private draw(): void {
    if (!this.renderer) return;
    const { width, height } = this.viewport();
    // world y points up and row 0 is at the top: world y = rows - row
    const cam = this.camera;
    cam.left = this.cx - (width / 2) * this.s;
    cam.right = this.cx + (width / 2) * this.s;
    cam.top = this.rows - this.cy + (height / 2) * this.s;
    cam.bottom = this.rows - this.cy - (height / 2) * this.s;
    cam.updateProjectionMatrix();
    this.renderer.render(this.scene, cam);
    this.drawRois();
  }

  private updateLut(): void {
    const bytes = lutBytes(this.model.get('colormap') as Colormap, this.model.get('reverse') as boolean);
    if (!this.lut) {
      this.lut = new THREE.DataTexture(bytes, 256, 1, THREE.RGBAFormat);
      this.lut.minFilter = this.lut.magFilter = THREE.NearestFilter;
    } else {
      (this.lut.image.data as Uint8Array).set(bytes);
    }
    this.lut.needsUpdate = true;
    // the colour bar: high values at the top
    const ctx = this.bar.getContext('2d');
    if (ctx) {
      const img = ctx.createImageData(1, 256);
      for (let i = 0; i < 256; i++) img.data.set(bytes.subarray((255 - i) * 4, (255 - i) * 4 + 4), i * 4);
      ctx.putImageData(img, 0, 0);
    }
    this.draw();
  }

  private updateRange(): void {
    const vmin = this.model.get('vmin') as number;
    const vmax = this.model.get('vmax') as number;
    const scale = this.model.get('scale') as Scale;
    if (this.material) {
      this.material.uniforms.vmin.value = vmin;
      this.material.uniforms.vmax.value = vmax;
      this.material.uniforms.scale.value = SCALE_CODE[scale];
    }
    // labels at t = 1, 0.5, 0 (the middle label inverts the scale)
    const mid = scale === 'log' ? vmin + Math.expm1(0.5 * Math.log1p(vmax - vmin)) : scale === 'sqrt' ? vmin + 0.25 * (vmax - vmin) : (vmin + vmax) / 2;
    this.barLabels.replaceChildren(...[vmax, mid, vmin].map((v) => el('span', '', formatValue(v))));
    this.draw();
  }

  private syncControls(): void {
    for (const [name, input] of Object.entries(this.inputs)) {
      const v = this.model.get(name);
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
      if (!this.rows) return;
      e.preventDefault();
      const { px, py } = local(e);
      const before = this.toImage(px, py);
      this.s *= Math.exp(Math.sign(e.deltaY) * 0.15);
      const after = this.toImage(px, py);
      this.cx += before.x - after.x; // keep the pixel under the cursor in place
      this.cy += before.y - after.y;
      this.draw();
    });
    stage.addEventListener('dblclick', () => {
      this.fit();
      this.draw();
    });
    stage.addEventListener('mousedown', (e) => {
      if (e.button !== 0 || !this.rows) return;
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
      if (d.mode !== 'roi') return;
      const { px, py } = local(e);
      const roi = this.roiFromScreen(d.x, d.y, px, py);
      if (roi) this.setAndSave({ rois: [...(this.model.get('rois') as Roi[]), roi] });
    });
  }

  /** A dragged rectangle → [row0, col0, rows, cols] in detector pixels (undoing the binning), clipped to the image. */
  private roiFromScreen(x0: number, y0: number, x1: number, y1: number): Roi | null {
    const a = this.toImage(Math.min(x0, x1), Math.min(y0, y1));
    const b = this.toImage(Math.max(x0, x1), Math.max(y0, y1));
    const bin = this.binning;
    const r0 = Math.max(0, Math.floor(a.y)) * bin;
    const c0 = Math.max(0, Math.floor(a.x)) * bin;
    const r1 = Math.min(this.rows, Math.ceil(b.y)) * bin;
    const c1 = Math.min(this.cols, Math.ceil(b.x)) * bin;
    return r1 > r0 && c1 > c0 ? [r0, c0, r1 - r0, c1 - c0] : null;
  }

  private drawRois(): void {
    if (!this.overlay) return;
    for (const old of Array.from(this.overlay.querySelectorAll('.daqlab-li-roi:not(.daqlab-li-roi-drawing)'))) old.remove();
    const { width, height } = this.viewport();
    const bin = this.binning;
    for (const [r0, c0, nr, nc] of (this.model.get('rois') as Roi[]) ?? []) {
      const box = el('div', 'daqlab-li-roi');
      const left = (c0 / bin - this.cx) / this.s + width / 2;
      const top = (r0 / bin - this.cy) / this.s + height / 2;
      Object.assign(box.style, {
        left: `${left}px`,
        top: `${top}px`,
        width: `${nc / bin / this.s}px`,
        height: `${nr / bin / this.s}px`,
      });
      this.overlay.append(box);
    }
  }

  private showReadout(px: number, py: number): void {
    const { width, height } = this.viewport();
    if (!this.values || px < 0 || py < 0 || px > width || py > height) return;
    const { x, y } = this.toImage(px, py);
    const col = Math.floor(x);
    const row = Math.floor(y);
    if (row < 0 || col < 0 || row >= this.rows || col >= this.cols) {
      this.readout.textContent = ' ';
      return;
    }
    const v = this.values[row * this.cols + col];
    const bin = this.binning;
    const where = bin > 1 ? `rows ${row * bin}–${row * bin + bin - 1}, cols ${col * bin}–${col * bin + bin - 1} (sum of ${bin}×${bin})` : `row ${row}, col ${col}`;
    const t = normalize(v, this.model.get('vmin'), this.model.get('vmax'), this.model.get('scale'));
    this.readout.textContent = `frame ${this.lastIndex} · ${where}: ${formatValue(v)} (${Math.round(t * 100)}% of range)`;
  }
}
