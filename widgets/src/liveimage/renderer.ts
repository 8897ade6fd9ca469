/**
 * LiveImage's image renderer: the drawn frame on a canvas, by WebGL (three.js: a float texture of
 * the image and a 256-entry colormap texture combined in a fragment shader that also tints masked
 * pixels) or, where WebGL would be software-rendered, by the CPU (cpu-image.ts: frames coloured
 * into an RGBA bitmap the size of the frame, drawn scaled onto a 2D canvas by the browser).
 * It keeps the drawn frame's values (`values`, `placed`) for the readout and the tools.
 */
import * as THREE from 'three';
import type { ArrayItem } from '../client.js';
import { SCALE_CODE, dummyThreshold, type Scale } from '../colormap.js';
import { Colorizer, softwareWebGL } from '../cpu-image.js';
import { el } from '../daqview.js';
import type { ViewRequest } from '../viewspec.js';
import { placementOf, type Placement } from './model.js';
import type { ViewTransform } from './transform.js';

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

/** How values become colours. */
export interface Levels {
  vmin: number;
  vmax: number;
  scale: Scale;
  showMask: boolean;
}

interface CpuCanvas {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  image: HTMLCanvasElement;
  imageCtx: CanvasRenderingContext2D;
  data: ImageData | null;
  pixels: Uint32Array | null;
  colorizer: Colorizer;
}

export class ImageRenderer {
  private gl: THREE.WebGLRenderer | null = null;
  private scene = new THREE.Scene();
  private camera = new THREE.OrthographicCamera(0, 1, 1, 0, -1, 1);
  private material: THREE.ShaderMaterial | null = null;
  private mesh: THREE.Mesh | null = null;
  private texture: THREE.DataTexture | null = null;
  private lut: THREE.DataTexture | null = null;
  private lutData: Uint8Array = new Uint8Array(1024);
  private cpu: CpuCanvas | null = null;
  /** the dtype the colorizer was configured for (its gap-dummy threshold) */
  private cpuDtype = '';
  private levels: Levels = { vmin: 0, vmax: 1, scale: 'linear', showMask: true };
  /** the drawn frame's values: WebGL's float copy (its texture), or the frame itself (CPU renderer) */
  values: ArrayLike<number> | null = null;
  placed: Placement | null = null;
  dtype = 'float32';
  /** null when neither WebGL nor a 2D canvas is available (`error` says why) */
  readonly kind: 'webgl' | 'cpu' | null;
  readonly error: string = '';

  /** `choice`: the model's `renderer` trait (auto, webgl, cpu). The canvas is prepended to `stage`. */
  constructor(stage: HTMLElement, choice: string) {
    if (choice === 'cpu' || (choice !== 'webgl' && softwareWebGL())) {
      const canvas = el('canvas', 'daqlab-li-canvas');
      const image = el('canvas');
      const ctx = canvas.getContext('2d');
      const imageCtx = image.getContext('2d');
      if (!ctx || !imageCtx) {
        this.kind = null;
        this.error = 'this browser has neither WebGL nor a 2D canvas to draw on';
        return;
      }
      this.cpu = { canvas, ctx, image, imageCtx, data: null, pixels: null, colorizer: new Colorizer() };
      stage.prepend(canvas);
      this.kind = 'cpu';
    } else {
      try {
        this.gl = new THREE.WebGLRenderer({ antialias: false, alpha: true, preserveDrawingBuffer: true });
      } catch (e) {
        this.kind = null;
        this.error = `WebGL is not available in this browser: ${(e as Error).message}`;
        return;
      }
      this.gl.setPixelRatio(window.devicePixelRatio || 1);
      stage.prepend(this.gl.domElement);
      this.kind = 'webgl';
    }
    stage.dataset.renderer = this.kind;
  }

  /** The canvas the frame is drawn on (for the PNG). */
  get canvas(): HTMLCanvasElement | null {
    return this.gl?.domElement ?? this.cpu?.canvas ?? null;
  }

  dispose(): void {
    this.gl?.dispose();
    this.texture?.dispose();
    this.lut?.dispose();
  }

  /** Take a frame (`view`: what the server was asked for, so where it lies on the detector). */
  upload(item: ArrayItem, view: ViewRequest, fullRows: number): void {
    const placed = placementOf(view, item);
    const sized = this.cpu ? this.cpu.data : this.texture;
    if (placed.rows !== this.placed?.rows || placed.cols !== this.placed?.cols || !sized) this.allocate(placed.rows, placed.cols);
    this.placed = placed;
    if (this.cpu) {
      this.values = item.data; // kept as it came: the cursor readout and the tools read it
      if (this.cpuDtype !== this.dtype) this.configureCpu();
      this.recolor();
    } else {
      const out = this.values as Float32Array;
      const src = item.data;
      for (let i = 0; i < out.length; i++) out[i] = src[i];
      this.texture!.needsUpdate = true;
    }
    this.place(fullRows);
  }

  setLut(bytes: Uint8Array): void {
    this.lutData = bytes;
    this.configureCpu();
    this.recolor();
    if (this.cpu) return;
    if (!this.lut) {
      this.lut = new THREE.DataTexture(new Uint8Array(bytes), 256, 1, THREE.RGBAFormat);
      this.lut.minFilter = this.lut.magFilter = THREE.NearestFilter;
    } else {
      (this.lut.image.data as Uint8Array).set(bytes);
    }
    this.lut.needsUpdate = true;
    if (this.material) this.material.uniforms.lut.value = this.lut;
  }

  setLevels(levels: Levels): void {
    this.levels = levels;
    this.configureCpu();
    this.recolor();
    if (this.material) {
      const u = this.material.uniforms;
      u.vmin.value = levels.vmin;
      u.vmax.value = levels.vmax;
      u.scale.value = SCALE_CODE[levels.scale];
      u.dummy.value = dummyThreshold(this.dtype);
      u.showMask.value = levels.showMask;
    }
  }

  resize(width: number, height: number): void {
    const dpr = window.devicePixelRatio || 1;
    if (this.gl) this.gl.setSize(width, height);
    else if (this.cpu) {
      this.cpu.canvas.width = Math.round(width * dpr);
      this.cpu.canvas.height = Math.round(height * dpr);
      Object.assign(this.cpu.canvas.style, { width: `${width}px`, height: `${height}px` });
    }
  }

  /** Draw the frame where the view transform puts it. */
  render(t: ViewTransform): void {
    const { width, height } = t.size;
    if (this.cpu) {
      const { canvas, ctx, image, data } = this.cpu;
      const dpr = window.devicePixelRatio || 1;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const p = this.placed;
      if (p && data) {
        ctx.imageSmoothingEnabled = false; // nearest neighbour, like the texture
        const [left, top] = t.toScreen(p.c0, p.r0);
        ctx.drawImage(image, left, top, (p.cols * p.binning) / t.s, (p.rows * p.binning) / t.s);
      }
      return;
    }
    if (!this.gl) return;
    const cam = this.camera;
    cam.left = t.cx - (width / 2) * t.s;
    cam.right = t.cx + (width / 2) * t.s;
    cam.top = t.fullRows - t.cy + (height / 2) * t.s;
    cam.bottom = t.fullRows - t.cy - (height / 2) * t.s;
    cam.updateProjectionMatrix();
    this.gl.render(this.scene, cam);
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
    this.setLevels(this.levels);
  }

  /** CPU renderer: colour the frame into the bitmap (after a new frame, colormap or range). */
  private recolor(): void {
    const cpu = this.cpu;
    if (!cpu?.data || !cpu.pixels || !this.values) return;
    cpu.colorizer.colorize(this.values as never, this.dtype, cpu.pixels);
    cpu.imageCtx.putImageData(cpu.data, 0, 0);
  }

  /** CPU renderer: the colour parameters (after a colormap or range change). */
  private configureCpu(): void {
    if (!this.cpu) return;
    this.cpu.colorizer.configure({ lut: this.lutData, ...this.levels, dummy: dummyThreshold(this.dtype) });
    this.cpuDtype = this.dtype;
  }

  /** Put the texture's quad where its region lies: world x = column, world y = fullRows − row. */
  private place(fullRows: number): void {
    const p = this.placed;
    if (!p || !this.mesh) return;
    const h = p.rows * p.binning;
    const w = p.cols * p.binning;
    this.mesh.scale.set(w, h, 1);
    this.mesh.position.set(p.c0, fullRows - p.r0 - h, 0);
  }
}
