/**
 * Volume3D: a 3D volume in a notebook (kernel-bridge/daqlab/volume.py is the
 * Python side). three.js draws a level of detail (LOD) held in a WebGL2 3D
 * texture with a ray-marching shader (volume-shader.ts), and up to three
 * axis-aligned cut planes at full resolution, fetched on demand: from the
 * kernel (custom comm messages with binary buffers) for arrays and HDF5
 * datasets, or from the daqlab server directly for a stream source
 * (volume-stream.ts), so those pixels never pass through the kernel.
 */
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from '@jupyter-widgets/base';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { COLORMAPS, formatValue, lutBytes, type Colormap } from './colormap.js';
import { keepConnected, serverAddress } from './connection.js';
import { MODE_CODE, PLANE_FRAGMENT, PLANE_VERTEX, VOLUME_FRAGMENT, VOLUME_VERTEX } from './volume-shader.js';
import { sliceToScreen, toTexture, type Vec3i } from './volume-math.js';
import { StreamVolume } from './volume-stream.js';
import { widgetIdentity } from './version.js';
import { ColorBar } from './colorbar.js';

export class Volume3DModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('Volume3D'),
      source_kind: 'array',
      server_url: '',
      token: '',
      scan: '',
      stream: '',
      shape: [1, 1, 1],
      dtype: 'float32',
      is_complex: false,
      data_range: [0, 1],
      lod_shape: [],
      lod_factors: [],
      max_size: 256,
      max_bytes: 64 * 2 ** 20,
      mode: 'mip',
      threshold: null,
      colormap: 'viridis',
      reverse: false,
      vmin: null,
      vmax: null,
      complex_mode: 'abs',
      opacity: 0.5,
      slice_x: null,
      slice_y: null,
      slice_z: null,
      view: '3d',
      voxel_size: [1, 1, 1],
      units: 'px',
      axis_labels: ['z', 'y', 'x'],
      show_axes: true,
      height: 400,
    };
  }
}

/** A slice as drawn: axis (0 z, 1 y, 2 x), index, rows × cols of float32 values. */
export interface Slice {
  axis: number;
  index: number;
  rows: number;
  cols: number;
  data: Float32Array;
  complexMode: string;
}

/** The LOD as drawn: float16 values normalised to `range`, (z, y, x) shape. */
export interface Lod {
  shape: Vec3i;
  range: [number, number];
  half: Uint16Array;
}

const SLICE_TRAIT = ['slice_z', 'slice_y', 'slice_x'] as const;
const AXIS_NAME = ['z', 'y', 'x'];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function bytesOf(buffer: ArrayBuffer | DataView | ArrayBufferView): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Box-space corners (x, y, z in [-0.5, 0.5]) and uvs (u → slice column, v → slice row) of a cut plane. */
function planeGeometry(axis: number): THREE.BufferGeometry {
  // positions are for plane coordinate 0; the mesh is moved along its axis
  const corners: number[][] = [
    [-0.5, -0.5],
    [0.5, -0.5],
    [0.5, 0.5],
    [-0.5, 0.5],
  ];
  const pos: number[] = [];
  const uv: number[] = [];
  for (const [a, b] of corners) {
    // axis 0 (z plane): (x, y) = (col, row); axis 1 (y plane): (x, z); axis 2 (x plane): (y, z)
    if (axis === 0) pos.push(a, b, 0);
    else if (axis === 1) pos.push(a, 0, b);
    else pos.push(0, a, b);
    uv.push(a + 0.5, b + 0.5);
  }
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.Float32BufferAttribute(pos, 3));
  g.setAttribute('uv', new THREE.Float32BufferAttribute(uv, 2));
  g.setIndex([0, 1, 2, 0, 2, 3]);
  return g;
}

export class Volume3DView extends DOMWidgetView {
  private stage!: HTMLDivElement;
  private labels!: HTMLDivElement;
  /** what the colours mean: the colormap over the colour range, in data values */
  private readonly bar = new ColorBar();
  private message!: HTMLDivElement;
  private statusLabel!: HTMLSpanElement;
  private readout!: HTMLSpanElement;
  private inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  private renderer: THREE.WebGLRenderer | null = null;
  private scene = new THREE.Scene();
  private camera = new THREE.PerspectiveCamera(35, 1, 0.01, 100);
  private ortho = new THREE.OrthographicCamera(-1, 1, 1, -1, -10, 10);
  private controls: OrbitControls | null = null;
  private box = new THREE.Group(); // scaled to the physical extent
  private volumeMesh: THREE.Mesh | null = null;
  private volumeMaterial: THREE.ShaderMaterial | null = null;
  private volumeTexture: THREE.Data3DTexture | null = null;
  private outline: THREE.LineSegments | null = null;
  private lut: THREE.DataTexture | null = null;
  private planes: (THREE.Mesh | null)[] = [null, null, null];
  private planeTextures: (THREE.DataTexture | null)[] = [null, null, null];
  /** the slice each plane shows, and the one asked for */
  private slices: (Slice | null)[] = [null, null, null];
  private wanted: (string | null)[] = [null, null, null];
  private lod: Lod | null = null;
  /** the kernel sends a small preview of a large LOD first */
  private lodIsPreview = false;
  private streamVolume: StreamVolume | null = null;
  private closed = false;
  private generation = 0;
  private resizeObserver: ResizeObserver | null = null;
  private drawScheduled = false;
  private interacting = false;
  private refineTimer: ReturnType<typeof setTimeout> | null = null;
  /** pixel ratio of quick frames, adapted to their cost */
  private quickRatio = 0.5;
  /** ray step of quick frames, LOD voxels */
  private quickStep = 2;
  /** cost of the last full-quality 3D frame, ms (unknown at first: assume slow, draw quick first) */
  private lastFullMs = 1000;
  private fitted = false;
  private started = performance.now();
  /** read by tests and benchmarks: render count, time to first picture */
  private stats = { renders: 0, firstPictureMs: -1, fullPictureMs: -1, lodMs: -1 };

  override render(): void {
    this.el.classList.add('daqlab-volume3d');
    const toolbar = el('div', 'daqlab-vol-toolbar');
    const select = (name: string, options: readonly string[]) => {
      const s = el('select');
      s.title = name;
      for (const o of options) s.append(new Option(o, o));
      s.onchange = () => this.setAndSave({ [name]: s.value });
      this.inputs[name] = s;
      return s;
    };
    const number = (name: string, step = 'any') => {
      const n = el('input', 'daqlab-vol-number');
      n.type = 'number';
      n.step = step;
      // an empty box means "none" (no cut plane, range from the data): say so instead of the trait's name
      const hints: Record<string, string> = {
        vmin: 'vmin: lower end of the colour range (empty: the data minimum)',
        vmax: 'vmax: upper end of the colour range (empty: the data maximum)',
        threshold: 'threshold: iso-surface value (empty: middle of the range)',
        opacity: 'opacity of the composite rendering',
        slice_z: 'index of the z cut plane (empty: none)',
        slice_y: 'index of the y cut plane (empty: none)',
        slice_x: 'index of the x cut plane (empty: none)',
      };
      n.title = hints[name] ?? name;
      n.dataset.trait = name;
      n.placeholder = name.startsWith('slice_') ? 'off' : name === 'vmin' || name === 'vmax' ? 'auto' : '';
      n.onchange = () => this.setAndSave({ [name]: n.value === '' ? null : Number(n.value) });
      this.inputs[name] = n;
      return n;
    };
    const labelled = (text: string, ...inputs: HTMLElement[]) => {
      const wrap = el('label', 'daqlab-vol-field', text);
      wrap.append(...inputs);
      return wrap;
    };
    const check = (name: string, label: string) => {
      const wrap = el('label', 'daqlab-vol-check');
      const c = el('input');
      c.type = 'checkbox';
      c.onchange = () => this.setAndSave({ [name]: c.checked });
      this.inputs[name] = c;
      wrap.append(c, label);
      return wrap;
    };
    const complexSelect = select('complex_mode', ['abs', 'phase']);
    complexSelect.style.display = this.model.get('is_complex') ? '' : 'none';
    const shot = el('button', 'daqlab-vol-png', 'PNG');
    shot.title = 'save a screenshot';
    shot.onclick = () => this.downloadPng();
    this.statusLabel = el('span', 'daqlab-vol-status');
    toolbar.append(
      select('view', ['3d', 'x', 'y', 'z']),
      select('mode', ['mip', 'iso', 'composite']),
      select('colormap', COLORMAPS),
      check('reverse', 'reverse'),
      complexSelect,
      labelled('range', number('vmin'), number('vmax')),
      labelled('threshold', number('threshold')),
      labelled('opacity', number('opacity', '0.05')),
      labelled('planes z', number('slice_z', '1')),
      labelled('y', number('slice_y', '1')),
      labelled('x', number('slice_x', '1')),
      shot,
      this.statusLabel,
    );
    this.stage = el('div', 'daqlab-vol-stage');
    this.labels = el('div', 'daqlab-vol-labels');
    this.message = el('div', 'daqlab-vol-message', 'loading the volume…');
    this.stage.append(this.labels, this.message);
    const body = el('div', 'daqlab-vol-body');
    body.append(this.stage, this.bar.el);
    const footer = el('div', 'daqlab-vol-footer');
    this.readout = el('span', 'daqlab-vol-readout', ' ');
    footer.append(this.readout);
    this.el.append(toolbar, body, footer);
    (this.el as unknown as { daqlabVolume: unknown }).daqlabVolume = this.hooks();

    this.initGL();
    this.syncControls();
    this.listenTo(this.model, 'msg:custom', (content: Record<string, unknown>, buffers: (ArrayBuffer | DataView)[]) => this.onMessage(content, buffers));
    this.listenTo(this.model, 'change:colormap change:reverse', () => this.updateLut());
    this.listenTo(this.model, 'change:mode change:threshold change:vmin change:vmax change:opacity change:data_range', () => this.updateUniforms());
    this.listenTo(this.model, 'change:slice_x change:slice_y change:slice_z', () => this.updatePlanes());
    this.listenTo(this.model, 'change:complex_mode', () => this.onComplexMode());
    this.listenTo(this.model, 'change:view', () => this.layout());
    this.listenTo(this.model, 'change:voxel_size change:show_axes change:units change:axis_labels', () => this.layout());
    this.listenTo(this.model, 'change:height', () => this.resize());
    this.listenTo(this.model, 'change', () => this.syncControls());
    if (this.model.get('source_kind') === 'stream') void this.runStream(this.generation);
    else this.toKernel({ type: 'lod' });
  }

  override remove(): void {
    this.closed = true;
    this.generation++;
    this.streamVolume?.close();
    this.resizeObserver?.disconnect();
    this.controls?.dispose();
    if (this.refineTimer) clearTimeout(this.refineTimer);
    this.volumeTexture?.dispose();
    this.planeTextures.forEach((t) => t?.dispose());
    this.lut?.dispose();
    this.renderer?.dispose();
    super.remove();
  }

  private setAndSave(values: Record<string, unknown>): void {
    this.model.set(values);
    this.model.save_changes();
  }

  private showMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.style.display = text ? 'flex' : 'none';
  }

  // ------------------------------------------------------------------ data: kernel messages

  private onMessage(content: Record<string, unknown>, buffers: (ArrayBuffer | DataView)[]): void {
    switch (content.type) {
      case 'lod': {
        const shape = content.shape as Vec3i;
        const bytes = bytesOf(buffers[0]);
        // a copy aligned for Uint16Array (the comm buffer may sit at an odd offset)
        const half = new Uint16Array(bytes.byteLength / 2);
        new Uint8Array(half.buffer).set(bytes);
        this.lodIsPreview = Boolean(content.preview);
        if (!this.lodIsPreview && !this.el.dataset.fullLodAt) this.el.dataset.fullLodAt = String(Date.now()); // benchmark breakdown
        this.setLod({ shape, range: content.range as [number, number], half });
        break;
      }
      case 'slice': {
        if (content.error) {
          this.statusLabel.textContent = String(content.error);
          break;
        }
        const [rows, cols] = content.shape as [number, number];
        const bytes = bytesOf(buffers[0]);
        const data = new Float32Array(rows * cols);
        new Uint8Array(data.buffer).set(bytes);
        this.setSlice({ axis: content.axis as number, index: content.index as number, rows, cols, data, complexMode: String(content.complex_mode) });
        break;
      }
      case 'screenshot':
        void this.answerScreenshot(content.id as number);
        break;
    }
  }

  private toKernel(content: Record<string, unknown>, buffers?: ArrayBuffer[]): void {
    this.model.send(content as Parameters<DOMWidgetModel['send']>[0], {}, buffers);
  }

  private onComplexMode(): void {
    // the kernel sends the new LOD by itself; the slices are asked again
    this.wanted = [null, null, null];
    if (this.streamVolume) this.streamVolume.setComplexMode(this.model.get('complex_mode') as 'abs' | 'phase');
    this.updatePlanes();
  }

  // ------------------------------------------------------------------ data: server stream

  private runStream(gen: number): Promise<void> {
    return keepConnected({
      address: () => serverAddress(this.model),
      alive: () => !this.closed && gen === this.generation,
      status: (t) => (this.statusLabel.textContent = t),
      message: (t) => this.showMessage(t),
      attach: async (client) => {
        this.streamVolume?.close();
        const shape = this.model.get('shape') as Vec3i;
        this.streamVolume = new StreamVolume(client, {
          scan: this.model.get('scan') as string,
          stream: this.model.get('stream') as string,
          shape,
          maxSize: this.model.get('max_size') as number,
          maxBytes: this.model.get('max_bytes') as number,
          complexMode: this.model.get('complex_mode') as 'abs' | 'phase',
          onLod: (lod) => {
            this.setAndSaveRange(lod.range);
            this.setLod(lod);
          },
          onSlice: (s) => this.setSlice(s),
          onStatus: (t) => (this.statusLabel.textContent = t),
        });
        this.wanted = [null, null, null];
        await this.streamVolume.start();
        this.updatePlanes();
      },
      detach: () => {
        this.streamVolume?.close();
        this.streamVolume = null;
      },
    });
  }

  private setAndSaveRange(range: [number, number]): void {
    const old = this.model.get('data_range') as number[];
    if (old[0] !== range[0] || old[1] !== range[1]) this.model.set({ data_range: range });
  }

  // ------------------------------------------------------------------ WebGL

  private initGL(): void {
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: false, alpha: false, preserveDrawingBuffer: false });
    } catch (e) {
      this.showMessage(`WebGL2 is not available in this browser: ${(e as Error).message}`);
      return;
    }
    if (!this.renderer.capabilities.isWebGL2) {
      this.showMessage('Volume3D needs WebGL2 (3D textures)');
      return;
    }
    this.renderer.setClearColor(0x111111, 1);
    this.renderer.setPixelRatio(1);
    this.stage.prepend(this.renderer.domElement);
    this.scene.add(this.box);
    this.updateLut();
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener('start', () => this.setInteracting(true));
    this.controls.addEventListener('end', () => this.setInteracting(false));
    this.controls.addEventListener('change', () => this.requestDraw());
    this.camera.position.set(1.2, -1.6, 1.4);
    this.camera.up.set(0, 0, 1);
    this.camera.lookAt(0, 0, 0);
    this.renderer.domElement.addEventListener('mousemove', (e) => this.showReadout(e));
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.resize();
  }

  /**
   * While the camera moves, quick frames: fewer pixels (a ratio adapted to a ~40 ms frame budget)
   * and half the ray samples; a full-quality frame follows once the camera rests. Changes of
   * settings are drawn the same way when a full frame is slow (software WebGL), so the view answers
   * at once and sharpens a moment later (as VTK's desired update rate does).
   */
  private setInteracting(on: boolean): void {
    this.interacting = on;
    if (!on) this.scheduleRefine();
  }

  private scheduleRefine(): void {
    if (this.refineTimer) clearTimeout(this.refineTimer);
    this.refineTimer = setTimeout(() => {
      this.refineTimer = null;
      // a preview is not refined: the full LOD is on its way, and a slow full frame would delay it
      if (!this.interacting && !this.closed && !this.lodIsPreview) this.draw(false);
    }, 200);
  }

  private setLod(lod: Lod): void {
    this.lod = lod;
    const [nz, ny, nx] = lod.shape;
    if (!this.volumeTexture || this.volumeTexture.image.width !== nx || this.volumeTexture.image.height !== ny || this.volumeTexture.image.depth !== nz) {
      this.volumeTexture?.dispose();
      this.volumeTexture = new THREE.Data3DTexture(lod.half, nx, ny, nz);
      this.volumeTexture.format = THREE.RedFormat;
      this.volumeTexture.type = THREE.HalfFloatType;
      this.volumeTexture.minFilter = this.volumeTexture.magFilter = THREE.LinearFilter;
      this.volumeTexture.wrapS = this.volumeTexture.wrapT = this.volumeTexture.wrapR = THREE.ClampToEdgeWrapping;
      this.volumeTexture.unpackAlignment = 1;
    } else {
      this.volumeTexture.image.data = lod.half;
    }
    this.volumeTexture.needsUpdate = true;
    if (!this.volumeMaterial) {
      this.volumeMaterial = new THREE.ShaderMaterial({
        glslVersion: THREE.GLSL3,
        vertexShader: VOLUME_VERTEX,
        fragmentShader: VOLUME_FRAGMENT,
        side: THREE.BackSide,
        transparent: true,
        depthTest: false,
        depthWrite: false,
        blending: THREE.CustomBlending,
        blendSrc: THREE.OneFactor,
        blendDst: THREE.OneMinusSrcAlphaFactor,
        uniforms: {
          volume: { value: this.volumeTexture },
          lut: { value: this.lut },
          size: { value: new THREE.Vector3(nx, ny, nz) },
          extent: { value: new THREE.Vector3(1, 1, 1) },
          mode: { value: 0 },
          vmin: { value: 0 },
          vmax: { value: 1 },
          threshold: { value: 0.5 },
          opacity: { value: 0.5 },
          stepRatio: { value: 1 },
          planes: { value: new THREE.Vector3() },
          planeOn: { value: new THREE.Vector3() },
        },
      });
      this.volumeMesh = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1), this.volumeMaterial);
      this.volumeMesh.renderOrder = 1;
      this.box.add(this.volumeMesh);
    }
    this.volumeMaterial.uniforms.volume.value = this.volumeTexture;
    (this.volumeMaterial.uniforms.size.value as THREE.Vector3).set(nx, ny, nz);
    if (this.stats.lodMs < 0) this.stats.lodMs = performance.now() - this.started;
    this.showMessage(null);
    const f = this.model.get('lod_factors') as number[];
    if (!this.streamVolume) this.statusLabel.textContent = `${(this.model.get('shape') as number[]).join('×')} ${this.model.get('dtype')}` +
      (f.length && f.some((k) => k > 1) ? ` · 3D view of ${lod.shape.join('×')}` : '');
    this.updateUniforms();
    this.layout();
    this.updatePlanes();
  }

  private setSlice(s: Slice): void {
    const a = s.axis;
    if (this.wanted[a] !== `${s.index}/${s.complexMode}`) return; // an answer to an older request (or another view's)
    this.slices[a] = s;
    let tex = this.planeTextures[a];
    if (!tex || tex.image.width !== s.cols || tex.image.height !== s.rows) {
      tex?.dispose();
      tex = new THREE.DataTexture(s.data, s.cols, s.rows, THREE.RedFormat, THREE.FloatType);
      tex.minFilter = tex.magFilter = THREE.NearestFilter;
      tex.unpackAlignment = 1;
      this.planeTextures[a] = tex;
    } else {
      tex.image.data = s.data;
    }
    tex.needsUpdate = true;
    let mesh = this.planes[a];
    if (!mesh) {
      const material = new THREE.ShaderMaterial({
        glslVersion: THREE.GLSL3,
        vertexShader: PLANE_VERTEX,
        fragmentShader: PLANE_FRAGMENT,
        side: THREE.DoubleSide,
        uniforms: { image: { value: tex }, lut: { value: this.lut }, vmin: { value: 0 }, vmax: { value: 1 } },
      });
      mesh = new THREE.Mesh(planeGeometry(a), material);
      mesh.renderOrder = 0;
      this.planes[a] = mesh;
      this.box.add(mesh);
    }
    (mesh.material as THREE.ShaderMaterial).uniforms.image.value = tex;
    this.el.dataset[`slice${AXIS_NAME[a].toUpperCase()}`] = String(s.index);
    this.updatePlanes();
  }

  /** Show/hide/move the cut planes, asking for the slices they need. */
  private updatePlanes(): void {
    const shape = this.model.get('shape') as number[];
    const view = this.model.get('view') as string;
    for (let a = 0; a < 3; a++) {
      const k = this.model.get(SLICE_TRAIT[a]) as number | null;
      const mesh = this.planes[a];
      const shown = k !== null && k !== undefined && k >= 0 && k < shape[a];
      if (shown) {
        const key = `${k}/${this.model.get('complex_mode')}`;
        if (this.wanted[a] !== key) {
          this.wanted[a] = key;
          if (this.streamVolume) void this.streamVolume.requestSlice(a, k);
          else if (this.model.get('source_kind') === 'array') this.toKernel({ type: 'slice', axis: a, index: k });
        }
      }
      const current = this.slices[a];
      const ready = shown && current !== null && current.index === k && this.wanted[a] === `${k}/${current.complexMode}`;
      if (mesh) {
        // only the plane of the 2D slice view is drawn there; in 3D, every shown one
        mesh.visible = ready && (view === '3d' || view === AXIS_NAME[a]);
        const pos = shown ? (k + 0.5) / shape[a] - 0.5 : 0;
        if (a === 0) mesh.position.set(0, 0, pos);
        else if (a === 1) mesh.position.set(0, pos, 0);
        else mesh.position.set(pos, 0, 0);
      }
      if (this.volumeMaterial) {
        const p = this.volumeMaterial.uniforms.planes.value as THREE.Vector3;
        const on = this.volumeMaterial.uniforms.planeOn.value as THREE.Vector3;
        // uniform vectors are (x, y, z): axis a of the data is component 2 − a
        p.setComponent(2 - a, shown ? (k + 0.5) / shape[a] - 0.5 : 0);
        on.setComponent(2 - a, ready ? 1 : 0);
      }
    }
    this.el.dataset.slicesReady = this.slices
      .map((s, a) => (s && this.planes[a]?.visible ? `${AXIS_NAME[a]}${s.index}` : ''))
      .filter(Boolean)
      .join(' ');
    this.updateUniforms();
  }

  /** Colour range and threshold in data values → the shaders' spaces. */
  private updateUniforms(): void {
    const [lo, hi] = this.lod?.range ?? (this.model.get('data_range') as [number, number]);
    const range = this.model.get('data_range') as [number, number];
    const vmin = (this.model.get('vmin') as number | null) ?? range[0];
    const vmax = (this.model.get('vmax') as number | null) ?? range[1];
    const threshold = (this.model.get('threshold') as number | null) ?? (vmin + vmax) / 2;
    if (this.volumeMaterial) {
      const u = this.volumeMaterial.uniforms;
      u.mode.value = MODE_CODE[this.model.get('mode') as keyof typeof MODE_CODE] ?? 0;
      u.vmin.value = toTexture(vmin, lo, hi);
      u.vmax.value = toTexture(vmax, lo, hi);
      u.threshold.value = toTexture(threshold, lo, hi);
      u.opacity.value = this.model.get('opacity') as number;
    }
    for (const mesh of this.planes) {
      if (!mesh) continue;
      const u = (mesh.material as THREE.ShaderMaterial).uniforms;
      u.vmin.value = vmin;
      u.vmax.value = vmax;
      u.lut.value = this.lut;
    }
    this.bar.setLabels([vmax, (vmin + vmax) / 2, vmin]);
    this.bar.el.style.height = `${this.model.get('height') as number}px`;
    this.requestDraw();
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
    this.bar.setLut(bytes);
    this.requestDraw();
  }

  /** Physical extent, box outline and axis labels; the 2D slice view's camera. */
  private layout(): void {
    const shape = this.model.get('shape') as number[];
    const vs = this.model.get('voxel_size') as number[];
    const ext = [shape[2] * vs[2], shape[1] * vs[1], shape[0] * vs[0]]; // x, y, z
    const norm = Math.max(...ext);
    this.box.scale.set(ext[0] / norm, ext[1] / norm, ext[2] / norm);
    if (!this.fitted) this.fitCamera();
    if (this.volumeMaterial) (this.volumeMaterial.uniforms.extent.value as THREE.Vector3).set(ext[0], ext[1], ext[2]);
    if (!this.outline) {
      this.outline = new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1)), new THREE.LineBasicMaterial({ color: 0x888888 }));
      this.outline.renderOrder = 2;
      this.box.add(this.outline);
    }
    const view = this.model.get('view') as string;
    const va = AXIS_NAME.indexOf(view);
    if (va >= 0 && this.model.get(SLICE_TRAIT[va]) === null) {
      // a 2D slice view needs its plane: the middle one
      this.setAndSave({ [SLICE_TRAIT[va]]: Math.floor(shape[va] / 2) });
    }
    this.outline.visible = view === '3d' && (this.model.get('show_axes') as boolean);
    if (this.volumeMesh) this.volumeMesh.visible = view === '3d';
    if (this.controls) this.controls.enabled = view === '3d';
    this.updatePlanes();
    this.requestDraw();
  }

  /** Put the camera where the box's bounding sphere just fills the view (keeping its direction). */
  private fitCamera(): void {
    const r = 0.5 * this.box.scale.length();
    const width = this.stage.clientWidth || 480;
    const height = this.model.get('height') as number;
    const half = THREE.MathUtils.degToRad(this.camera.fov / 2);
    const halfMin = Math.min(half, Math.atan(Math.tan(half) * (width / height)));
    const target = this.controls?.target ?? new THREE.Vector3();
    const dir = this.camera.position.clone().sub(target).normalize();
    this.camera.position.copy(target).addScaledVector(dir, (0.9 * r) / Math.sin(halfMin)); // the sphere is loose around a box
    this.camera.lookAt(target);
    this.controls?.update();
    this.fitted = true;
  }

  private resize(): void {
    if (!this.renderer) return;
    const width = this.stage.clientWidth || 480;
    const height = this.model.get('height') as number;
    this.stage.style.height = `${height}px`;
    this.renderer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestDraw();
  }

  private requestDraw(): void {
    if (this.drawScheduled || !this.renderer) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      const quick = this.interacting || this.lastFullMs > 80;
      this.draw(quick);
      if (quick && !this.interacting) this.scheduleRefine();
    });
  }

  /** The 2D slice view: an orthographic camera facing plane `axis`, rows down and columns right. */
  private sliceCamera(axis: number): THREE.OrthographicCamera {
    const width = this.stage.clientWidth || 480;
    const height = this.model.get('height') as number;
    const s = this.box.scale;
    // plane extent on screen (cols, rows) in world units
    const [w, h] = axis === 0 ? [s.x, s.y] : axis === 1 ? [s.x, s.z] : [s.y, s.z];
    const scale = Math.min(width / w, height / h);
    const cam = this.ortho;
    cam.left = -width / scale / 2;
    cam.right = width / scale / 2;
    cam.top = height / scale / 2;
    cam.bottom = -height / scale / 2;
    if (axis === 0) {
      cam.position.set(0, 0, -5);
      cam.up.set(0, -1, 0);
    } else if (axis === 1) {
      cam.position.set(0, 5, 0);
      cam.up.set(0, 0, -1);
    } else {
      cam.position.set(-5, 0, 0);
      cam.up.set(0, 0, -1);
    }
    cam.lookAt(0, 0, 0);
    cam.updateProjectionMatrix();
    return cam;
  }

  private draw(quick = false): void {
    if (!this.renderer) return;
    const view = this.model.get('view') as string;
    const timed = view === '3d' && this.lod !== null;
    quick = quick && timed; // the 2D slice view is cheap: always full resolution
    const ratio = quick ? this.quickRatio : 1;
    if (this.renderer.getPixelRatio() !== ratio) this.renderer.setPixelRatio(ratio);
    if (this.volumeMaterial) this.volumeMaterial.uniforms.stepRatio.value = quick ? this.quickStep : 1;
    const cam = view === '3d' ? this.camera : this.sliceCamera(AXIS_NAME.indexOf(view));
    const t0 = performance.now();
    this.renderer.render(this.scene, cam);
    if (timed) {
      this.sync(); // the frame's real cost, to choose the next frames' quality
      const ms = performance.now() - t0;
      if (quick) this.adaptQuick(ms);
      else this.lastFullMs = ms;
    }
    this.el.dataset.quality = quick ? 'quick' : 'full';
    this.stats.renders++;
    if (this.stats.firstPictureMs < 0 && this.lod) {
      this.stats.firstPictureMs = performance.now() - this.started;
      this.el.dataset.firstPictureMs = this.stats.firstPictureMs.toFixed(1);
      this.el.dataset.firstPictureAt = String(Date.now()); // wall clock, comparable with the kernel's
      this.el.dataset.lodMs = this.stats.lodMs.toFixed(1);
    }
    if (this.stats.fullPictureMs < 0 && this.lod && !this.lodIsPreview) {
      this.stats.fullPictureMs = performance.now() - this.started;
      this.el.dataset.fullPictureAt = String(Date.now()); // the full LOD drawn (after the preview)
    }
    this.el.dataset.renders = String(this.stats.renders);
    this.drawLabels(view);
  }

  /**
   * Aim quick frames at 40 ms: scale the pixel ratio by √(40 ms / cost) (at most ×0.7…×1.25 a
   * frame), down to 0.15; below that, lengthen the ray step (up to 4 voxels), and shorten it first
   * when frames get cheap again.
   */
  private adaptQuick(ms: number): void {
    const f = Math.min(1.25, Math.max(0.7, Math.sqrt(40 / Math.max(ms, 1))));
    if (f < 1 && this.quickRatio <= 0.15) this.quickStep = Math.min(4, this.quickStep / f);
    else if (f > 1 && this.quickStep > 2) this.quickStep = Math.max(2, this.quickStep / f);
    else this.quickRatio = Math.min(1, Math.max(0.15, this.quickRatio * f));
  }

  private pixel = new Uint8Array(4);

  /** Wait until the GPU has drawn the frame (a 1-pixel read: gl.finish() does not wait in Chromium). */
  private sync(): void {
    const gl = this.renderer?.getContext();
    gl?.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.pixel);
  }

  /** Axis labels with extents and units at the ends of three box edges (3D view). */
  private drawLabels(view: string): void {
    this.labels.replaceChildren();
    if (view !== '3d' || !(this.model.get('show_axes') as boolean) || !this.renderer) return;
    const shape = this.model.get('shape') as number[];
    const vs = this.model.get('voxel_size') as number[];
    const names = this.model.get('axis_labels') as string[];
    const units = this.model.get('units') as string;
    const width = this.stage.clientWidth || 480;
    const height = this.model.get('height') as number;
    const ends: [THREE.Vector3, number][] = [
      [new THREE.Vector3(0.5, -0.5, -0.5), 2],
      [new THREE.Vector3(-0.5, 0.5, -0.5), 1],
      [new THREE.Vector3(-0.5, -0.5, 0.5), 0],
    ];
    // each label sits just outside the box, pushed away from the box's centre on screen, so it never covers
    // the object: anchored on its side nearest the box
    const centre = new THREE.Vector3().project(this.camera);
    const screen = (v: THREE.Vector3) => [((v.x + 1) / 2) * width, ((1 - v.y) / 2) * height];
    const [cx, cy] = screen(centre);
    for (const [p, a] of ends) {
      const w = p.clone().multiply(this.box.scale).project(this.camera);
      if (w.z > 1) continue;
      const [x, y] = screen(w);
      const dx = x - cx;
      const dy = y - cy;
      const len = Math.hypot(dx, dy) || 1;
      const label = el('span', 'daqlab-vol-axis', `${names[a]} ${formatValue(shape[a] * vs[a])} ${units}`);
      label.dataset.axis = names[a];
      label.style.left = `${x + (8 * dx) / len}px`;
      label.style.top = `${y + (8 * dy) / len}px`;
      label.style.transform = `translate(${dx < 0 ? '-100%' : '0'}, ${dy < 0 ? '-100%' : '0'})`;
      this.labels.append(label);
    }
  }

  /** In the 2D slice view: the value under the cursor. */
  private showReadout(e: MouseEvent): void {
    const view = this.model.get('view') as string;
    const a = AXIS_NAME.indexOf(view);
    const s = a >= 0 ? this.slices[a] : null;
    if (!s) return;
    const r = this.stage.getBoundingClientRect();
    const vs = this.model.get('voxel_size') as number[];
    const [rowAxis, colAxis] = a === 0 ? [1, 2] : a === 1 ? [0, 2] : [0, 1];
    const aspect = vs[rowAxis] / vs[colAxis];
    const { x: x0, y: y0, scale } = sliceToScreen(0, 0, s.rows, s.cols, r.width, this.model.get('height') as number, aspect);
    const col = Math.floor((e.clientX - r.left - x0) / scale + 0.5);
    const row = Math.floor((e.clientY - r.top - y0) / (scale * aspect) + 0.5);
    if (row < 0 || col < 0 || row >= s.rows || col >= s.cols) return void (this.readout.textContent = ' ');
    const names = ['z', 'y', 'x'];
    this.readout.textContent = `${names[a]}=${s.index}, ${names[rowAxis]}=${row}, ${names[colAxis]}=${col}: ${formatValue(s.data[row * s.cols + col])}`;
  }

  private syncControls(): void {
    for (const [name, input] of Object.entries(this.inputs)) {
      const v = this.model.get(name);
      if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = Boolean(v);
      else if (document.activeElement !== input) input.value = v === null || v === undefined ? '' : typeof v === 'number' ? String(+v.toPrecision(6)) : String(v);
    }
    (this.inputs.complex_mode as HTMLElement).style.display = this.model.get('is_complex') ? '' : 'none';
  }

  // ------------------------------------------------------------------ screenshots, hooks

  /** The canvas as PNG, drawn at full quality just before (the drawing buffer is not preserved). */
  private pngBytes(): Uint8Array {
    this.draw(false);
    const url = this.renderer!.domElement.toDataURL('image/png');
    const b64 = atob(url.slice(url.indexOf(',') + 1));
    const out = new Uint8Array(b64.length);
    for (let i = 0; i < b64.length; i++) out[i] = b64.charCodeAt(i);
    return out;
  }

  private async answerScreenshot(id: number): Promise<void> {
    try {
      if (!this.renderer) throw new Error('no WebGL canvas');
      const png = this.pngBytes();
      this.toKernel({ type: 'screenshot', id }, [png.buffer as ArrayBuffer]);
    } catch (e) {
      this.toKernel({ type: 'screenshot', id, error: (e as Error).message });
    }
  }

  private downloadPng(): void {
    if (!this.renderer) return;
    const blob = new Blob([this.pngBytes() as unknown as BlobPart], { type: 'image/png' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'volume.png';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  /** For tests and benchmarks (page.evaluate): counters and a programmatic camera orbit. */
  private hooks() {
    return {
      stats: () => ({ ...this.stats }),
      /** Orbit the camera by `n` frames (one render each, as during a drag); returns frames per second. */
      rotate: (n: number, lowQuality = true) =>
        new Promise<{ fps: number; pixelRatio: number; step: number }>((resolve) => {
          const t0 = performance.now();
          let i = 0;
          const step = () => {
            this.interacting = lowQuality;
            this.camera.position.applyAxisAngle(new THREE.Vector3(0, 0, 1), (2 * Math.PI) / 120);
            this.camera.lookAt(this.controls?.target ?? new THREE.Vector3());
            this.draw(lowQuality);
            this.sync();
            if (++i < n) requestAnimationFrame(step);
            else {
              const fps = (n * 1000) / (performance.now() - t0);
              this.setInteracting(false);
              resolve({ fps, pixelRatio: lowQuality ? this.quickRatio : 1, step: lowQuality ? this.quickStep : 1 });
            }
          };
          requestAnimationFrame(step);
        }),
      /** The same loop drawing an empty scene (reference for `rotate`). */
      emptyRate: (n: number) =>
        new Promise<number>((resolve) => {
          const empty = new THREE.Scene();
          const t0 = performance.now();
          let i = 0;
          const step = () => {
            this.renderer?.render(empty, this.camera);
            this.sync();
            if (++i < n) requestAnimationFrame(step);
            else resolve((n * 1000) / (performance.now() - t0));
          };
          requestAnimationFrame(step);
        }),
      /** What plane `axis` (0 z, 1 y, 2 x) holds: index, size, sum and first values (tests compare with Python). */
      slice: (axis: number) => {
        const s = this.slices[axis];
        if (!s) return null;
        let sum = 0;
        for (let i = 0; i < s.data.length; i++) sum += s.data[i];
        return { index: s.index, rows: s.rows, cols: s.cols, sum, first: Array.from(s.data.subarray(0, 4)) };
      },
      /** Screen position (CSS px in the canvas) of voxel (row, col) of the 2D slice view's plane. */
      sliceToScreen: (row: number, col: number) => {
        const a = AXIS_NAME.indexOf(this.model.get('view') as string);
        const s = this.slices[a];
        if (!s) return null;
        const vs = this.model.get('voxel_size') as number[];
        const [rowAxis, colAxis] = a === 0 ? [1, 2] : a === 1 ? [0, 2] : [0, 1];
        return sliceToScreen(row, col, s.rows, s.cols, this.stage.clientWidth, this.model.get('height') as number, vs[rowAxis] / vs[colAxis]);
      },
    };
  }
}
