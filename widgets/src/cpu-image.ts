/**
 * The CPU colour mapping of LiveImage, for browsers whose WebGL is a software
 * rasteriser (SwiftShader, llvmpipe: remote desktops, VMs, headless). There a
 * WebGL canvas costs a read-back and a copy per screen pixel every frame, so a
 * 2 Mpx canvas tops out near 20 fps, while a 2D canvas fed with RGBA pixels
 * keeps up with the screen. Same formulas as the fragment shader and
 * colormap.ts `normalize` (kept DOM-free: unit tested in Node).
 */
import type { TypedArray } from '@daqlab/daq-server/protocol';
import type { Scale } from './colormap.js';

/** Renderers whose WebGL runs on the CPU (the unmasked renderer string of WEBGL_debug_renderer_info). */
const SOFTWARE_GL = /SwiftShader|llvmpipe|softpipe|Software Rasterizer|Microsoft Basic Render/i;

export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE_GL.test(renderer);
}

/** Whether this browser's WebGL is software-rendered (false when it cannot tell: WebGL is preferred). */
export function softwareWebGL(): boolean {
  try {
    const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
    if (!gl) return true; // no WebGL at all: the CPU path is the only one
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return isSoftwareRenderer(name);
  } catch {
    return false;
  }
}

export interface ColorParams {
  /** 256 RGBA entries (colormap.ts lutBytes) */
  lut: Uint8Array;
  vmin: number;
  vmax: number;
  scale: Scale;
  /** values at or above this are gap dummies (colormap.ts dummyThreshold) */
  dummy: number;
  showMask: boolean;
}

/** Integer frames whose range spans at most this many values map through one table lookup per pixel. */
const MAX_TABLE = 1 << 20;
const INTEGER = /^u?int/;

const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const rgba = (r: number, g: number, b: number, a: number): number =>
  (little ? ((a << 24) | (b << 16) | (g << 8) | r) : ((r << 24) | (g << 16) | (b << 8) | a)) >>> 0;

/** Colours frames into RGBA pixels (a Uint32Array over ImageData) without allocating per frame. */
export class Colorizer {
  private colors = new Uint32Array(256);
  private mask = 0;
  private p: ColorParams | null = null;
  /** integer frames: the colour of every value in [lo, lo + table.length) */
  private table = new Uint32Array(0);
  private lo = 0;
  private tableFor = '';

  configure(p: ColorParams): void {
    this.p = p;
    for (let i = 0; i < 256; i++) this.colors[i] = rgba(p.lut[4 * i], p.lut[4 * i + 1], p.lut[4 * i + 2], p.lut[4 * i + 3]);
    // the shader's tint (1, 0.1, 0.55) at alpha 0.55, or opaque black without the mask overlay
    this.mask = p.showMask ? rgba(255, 26, 140, 140) : rgba(0, 0, 0, 255);
    this.tableFor = '';
  }

  /** LUT entry of a (non-masked) value: the shader's formula and its nearest texel. */
  private index(v: number): number {
    const p = this.p!;
    const span = Math.max(p.vmax - p.vmin, 1e-12);
    const x = Math.min(Math.max(v - p.vmin, 0), span);
    const t = p.scale === 'log' ? Math.log1p(x) / Math.log1p(span) : p.scale === 'sqrt' ? Math.sqrt(x / span) : x / span;
    return Math.min(255, Math.max(0, Math.floor(t * 255 + 0.5)));
  }

  /** The colour of one value (for tests and single pixels). */
  color(v: number): number {
    const p = this.p!;
    if (Number.isNaN(v) || v >= p.dummy) return this.mask;
    return this.colors[this.index(v)];
  }

  /** `out[i]` = colour of `src[i]`. */
  colorize(src: TypedArray, dtype: string, out: Uint32Array): void {
    const p = this.p;
    if (!p) throw new Error('Colorizer.colorize before configure');
    const n = Math.min(src.length, out.length);
    if (INTEGER.test(dtype) && this.prepareTable(dtype)) {
      const { table, lo, mask, colors } = this;
      const last = table.length - 1;
      const dummy = p.dummy;
      const bottom = colors[this.index(-Infinity)];
      const top = colors[this.index(Infinity)];
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v >= dummy) out[i] = mask;
        else {
          const k = v - lo;
          out[i] = k < 0 ? bottom : k > last ? top : table[k];
        }
      }
      return;
    }
    for (let i = 0; i < n; i++) out[i] = this.color(src[i]);
  }

  /** The per-value table of an integer frame's range; false when the range is too wide for one. */
  private prepareTable(dtype: string): boolean {
    const p = this.p!;
    const lo = Math.floor(p.vmin);
    const hi = Math.ceil(p.vmax);
    if (!(hi - lo < MAX_TABLE)) return false;
    const key = `${dtype}/${lo}/${hi}`;
    if (key === this.tableFor) return true;
    const size = Math.max(1, hi - lo + 1);
    if (this.table.length !== size) this.table = new Uint32Array(size);
    for (let k = 0; k < size; k++) this.table[k] = this.colors[this.index(lo + k)];
    this.lo = lo;
    this.tableFor = key;
    return true;
  }
}
