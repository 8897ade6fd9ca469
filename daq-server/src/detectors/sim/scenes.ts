/**
 * What the simulated detectors see, as expectation maps: mean photons per
 * pixel per frame on the image grid (the assembled image for Jungfrau).
 * The static part is computed once per run (lazily); per frame only the
 * sparse Bragg spots (serial crystallography) or the speckle field (xpcs)
 * change. Noise is added by the detector renderers.
 *
 * Scattering scenes are multiplied by the solid angle (cos³α) and the
 * polarization factor of the geometry, and are zero inside the beamstop
 * shadow (2θ < atan(beamstop_radius / dist)) and in gaps.
 */
import { PyFAIGeometry, braggTth, qFromTth, tthAt } from '../geometry/pyfai-geometry.js';
import type { ResolvedGeometry, SimConfig } from './config.js';
import type { SceneName, SimSpec } from './specs.js';
import { CALIBRANTS, reflections } from './calibrants.js';
import { TomographyScene } from './tomo-scene.js';
import { STREAM, TWO32, exponential, frameKey, hash2, normal8, poissonFloat, unit } from './random.js';

export interface SceneContext {
  spec: SimSpec;
  cfg: SimConfig;
  geometry: ResolvedGeometry;
  /** 1 where the image has a real pixel (0 in gaps); null when every pixel is real */
  valid: Uint8Array | null;
}

/** Sparse expectation added on top of the static map for one frame. */
export interface SpotList {
  n: number;
  /** flat image index of each entry (an index may repeat) */
  index: Int32Array;
  /** expected photons of each entry */
  lam: Float64Array;
}

export interface Scene {
  readonly name: SceneName;
  /** true when frames carry ground truth */
  readonly hasTruth: boolean;
  /** static (or mean) expectation in photons per image pixel per frame; null when no photons reach the detector */
  base(): Float32Array | null;
  /** serial crystallography: this frame's spots and truth */
  spots?(slot: number): { truth: Record<string, unknown>; spots: SpotList };
  /** xpcs: write this frame's expectation into `out` (image grid); returns the truth */
  dynamic?(slot: number, out: Float32Array): Record<string, unknown>;
  /** small JSON description for the scan info */
  describe(): Record<string, unknown>;
  /** detector-independent metadata a real detector would publish too, merged into the run's describe() (tomography: `tomo_scan`) */
  detectorMetadata?(): Record<string, unknown>;
}

const EMPTY_SPOTS: SpotList = { n: 0, index: new Int32Array(0), lam: new Float64Array(0) };

/**
 * Shared geometry of the scattering scenes. The per-pixel pyFAI arrays are
 * only needed while the static maps are built: `release()` drops them.
 */
class SceneGeometry {
  readonly rows: number;
  readonly cols: number;
  private geoCache: PyFAIGeometry | null = null;
  /** 1 where scattered photons can arrive: real pixel outside the beamstop */
  private allowedCache: Uint8Array | null = null;

  constructor(private readonly ctx: SceneContext) {
    [this.rows, this.cols] = ctx.spec.imageShape;
  }

  get geo(): PyFAIGeometry {
    return (this.geoCache ??= PyFAIGeometry.forDetector(this.ctx.geometry.poni, this.ctx.spec.imageShape, this.ctx.spec.pixel));
  }

  /** Drop the per-pixel geometry arrays (they are rebuilt if needed again). */
  release(): void {
    this.geoCache = null;
  }

  get beamstopTth(): number {
    return Math.atan(this.ctx.cfg.beamstop_radius / this.ctx.geometry.poni.dist);
  }

  /** Largest 2θ on the detector (at a corner: {2θ ≤ c} is convex on the detector plane for c < 90°). */
  maxTth(): number {
    const [p1, p2] = this.ctx.spec.pixel;
    const h = this.rows * p1, w = this.cols * p2;
    const g = this.ctx.geometry.poni;
    return Math.max(tthAt(g, 0, 0), tthAt(g, h, 0), tthAt(g, 0, w), tthAt(g, h, w));
  }

  allowed(): Uint8Array {
    if (!this.allowedCache) {
      const tth = this.geo.tth();
      const valid = this.ctx.valid;
      const bs = this.beamstopTth;
      const a = new Uint8Array(tth.length);
      for (let k = 0; k < a.length; k++) a[k] = (valid === null || valid[k] === 1) && tth[k] >= bs ? 1 : 0;
      this.allowedCache = a;
    }
    return this.allowedCache;
  }

  /** out[k] = allowed ? f(k) · solidAngle · polarization : 0 */
  map(f: (k: number) => number): Float32Array {
    const allowed = this.allowed();
    const sa = this.geo.solidAngle();
    const pol = this.geo.polarization(this.ctx.cfg.polarization_factor);
    const out = new Float32Array(allowed.length);
    for (let k = 0; k < out.length; k++) if (allowed[k]) out[k] = f(k) * sa[k] * pol[k];
    return out;
  }

  describe(): Record<string, unknown> {
    return { beamstop_tth_deg: (this.beamstopTth * 180) / Math.PI, max_tth_deg: (this.maxTth() * 180) / Math.PI };
  }
}

class FlatScene implements Scene {
  readonly name = 'flat' as const;
  readonly hasTruth = false;
  private cache: Float32Array | null = null;
  constructor(private readonly ctx: SceneContext) {}
  base(): Float32Array {
    if (!this.cache) {
      const [r, c] = this.ctx.spec.imageShape;
      const out = new Float32Array(r * c).fill(this.ctx.cfg.flat_mean);
      const v = this.ctx.valid;
      if (v) for (let k = 0; k < out.length; k++) if (!v[k]) out[k] = 0;
      this.cache = out;
    }
    return this.cache;
  }
  describe(): Record<string, unknown> {
    return { flat_mean: this.ctx.cfg.flat_mean };
  }
}

class DarkScene implements Scene {
  readonly name = 'dark' as const;
  readonly hasTruth = false;
  base(): null {
    return null;
  }
  describe(): Record<string, unknown> {
    return {};
  }
}

class SerialScene implements Scene {
  readonly name = 'serial_crystallography' as const;
  readonly hasTruth = true;
  private readonly g: SceneGeometry;
  private cache: Float32Array | null = null;
  private readonly hitThreshold: number;

  constructor(private readonly ctx: SceneContext) {
    this.g = new SceneGeometry(ctx);
    this.hitThreshold = Math.floor(ctx.cfg.hit_rate * TWO32);
  }

  base(): Float32Array {
    if (!this.cache) {
      const { background, solvent_ring_intensity: ri, solvent_ring_q: q0, solvent_ring_width: w } = this.ctx.cfg;
      const q = this.g.geo.q();
      const inv = 1 / (2 * w * w);
      this.cache = this.g.map((k) => background + ri * Math.exp(-(q[k] - q0) * (q[k] - q0) * inv));
      this.g.release();
    }
    return this.cache;
  }

  /** Is frame `slot` a hit (independent of its pixels; cheap). */
  isHit(slot: number): boolean {
    return frameKey(this.ctx.cfg.seed, STREAM.HIT, slot) < this.hitThreshold;
  }

  spots(slot: number): { truth: Record<string, unknown>; spots: SpotList } {
    const cfg = this.ctx.cfg;
    const hk = frameKey(cfg.seed, STREAM.HIT, slot);
    if (!(hk < this.hitThreshold)) return { truth: { is_hit: false, spots: [] }, spots: EMPTY_SPOTS };
    const nSpots = poissonFloat(cfg.spots_per_hit, NaN, hash2(1, hk), hash2(2, hk));
    const sk = frameKey(cfg.seed, STREAM.SPOTS, slot);
    const { rows, cols } = this.g;
    const allowed = this.g.allowed();
    const valid = this.ctx.valid;
    const sigma = cfg.spot_sigma;
    const R = Math.ceil(3 * sigma);
    const inv = 1 / (2 * sigma * sigma);
    const win = (2 * R + 1) * (2 * R + 1);
    const index = new Int32Array(nSpots * win);
    const lam = new Float64Array(nSpots * win);
    const weights = new Float64Array(win);
    const truth: [number, number, number][] = [];
    let n = 0;
    for (let s = 0; s < nSpots; s++) {
      let r = -1, c = -1, h = 0;
      for (let attempt = 0; attempt < 32; attempt++) {
        h = hash2(s * 32 + attempt, sk);
        const rr = unit(hash2(1, h)) * rows - 0.5;
        const cc = unit(hash2(2, h)) * cols - 0.5;
        const ri = Math.round(rr), ci = Math.round(cc);
        if (ri >= 0 && ri < rows && ci >= 0 && ci < cols && allowed[ri * cols + ci]) {
          r = rr;
          c = cc;
          break;
        }
      }
      if (r < 0) continue;
      const photons = exponential(cfg.spot_intensity, hash2(3, h));
      const ri = Math.round(r), ci = Math.round(c);
      let sum = 0, w = 0;
      for (let dr = -R; dr <= R; dr++) {
        for (let dc = -R; dc <= R; dc++) {
          const y = ri + dr - r, x = ci + dc - c;
          const v = Math.exp(-(x * x + y * y) * inv);
          weights[w++] = v;
          sum += v;
        }
      }
      w = 0;
      for (let dr = -R; dr <= R; dr++) {
        for (let dc = -R; dc <= R; dc++, w++) {
          const y = ri + dr, x = ci + dc;
          if (y < 0 || y >= rows || x < 0 || x >= cols) continue;
          const k = y * cols + x;
          if (valid && !valid[k]) continue;
          index[n] = k;
          lam[n] = (photons * weights[w]) / sum;
          n++;
        }
      }
      truth.push([Math.round(r * 1e4) / 1e4, Math.round(c * 1e4) / 1e4, Math.round(photons * 100) / 100]);
    }
    return { truth: { is_hit: true, spots: truth }, spots: { n, index, lam } };
  }

  describe(): Record<string, unknown> {
    const c = this.ctx.cfg;
    return {
      ...this.g.describe(),
      hit_rate: c.hit_rate,
      spots_per_hit: c.spots_per_hit,
      spot_intensity: c.spot_intensity,
      spot_sigma: c.spot_sigma,
      truth: 'per frame: is_hit, spots [[row, col, photons]] in image pixel coordinates (pixel centres at integers), photons = expected total of the spot',
    };
  }
}

interface Ring {
  hkl: [number, number, number];
  d: number;
  tth: number;
}

class PowderScene implements Scene {
  readonly name = 'powder' as const;
  readonly hasTruth = false;
  private readonly g: SceneGeometry;
  private cache: Float32Array | null = null;
  readonly rings: Ring[];
  private readonly sigma: number;

  constructor(private readonly ctx: SceneContext) {
    this.g = new SceneGeometry(ctx);
    const wl = ctx.geometry.wavelength;
    const cal = CALIBRANTS[ctx.cfg.calibrant];
    this.sigma = (ctx.cfg.ring_width * Math.PI) / 180 / (2 * Math.sqrt(2 * Math.log(2)));
    this.rings = reflections(cal, ((wl * 1e10) / 2) * 1.000001)
      .slice(0, 200)
      .map((r) => ({ hkl: r.hkl, d: r.d, tth: braggTth(r.d * 1e-10, wl) }))
      .filter((r) => Number.isFinite(r.tth));
  }

  base(): Float32Array {
    if (!this.cache) {
      const { background, ring_intensity: A } = this.ctx.cfg;
      const tth = this.g.geo.tth();
      const centres = this.rings.map((r) => r.tth);
      const reach = 6 * this.sigma;
      const inv = 1 / (2 * this.sigma * this.sigma);
      this.cache = this.g.map((k) => {
        const t = tth[k];
        // first ring with centre > t − reach
        let lo = 0, hi = centres.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (centres[mid] <= t - reach) lo = mid + 1;
          else hi = mid;
        }
        let v = background;
        for (let j = lo; j < centres.length && centres[j] < t + reach; j++) {
          const dt = t - centres[j];
          v += A * Math.exp(-dt * dt * inv);
        }
        return v;
      });
      this.g.release();
    }
    return this.cache;
  }

  describe(): Record<string, unknown> {
    const max = this.g.maxTth();
    const wl = this.ctx.geometry.wavelength;
    return {
      ...this.g.describe(),
      calibrant: this.ctx.cfg.calibrant,
      lattice_constant_angstrom: CALIBRANTS[this.ctx.cfg.calibrant].a,
      rings: this.rings
        .filter((r) => r.tth <= max)
        .map((r) => ({ hkl: r.hkl, d_angstrom: r.d, tth_deg: (r.tth * 180) / Math.PI, q_nm: qFromTth(r.tth, wl) })),
    };
  }
}

/** Sphere form factor P(x) = [3(sin x − x cos x)/x³]², P(0) = 1. */
export function sphereFormFactor(x: number): number {
  if (x < 1e-3) return 1 - (x * x) / 5;
  const f = (3 * (Math.sin(x) - x * Math.cos(x))) / (x * x * x);
  return f * f;
}

class SaxsScene implements Scene {
  readonly name = 'saxs' as const;
  readonly hasTruth = false;
  private readonly g: SceneGeometry;
  private cache: Float32Array | null = null;

  constructor(private readonly ctx: SceneContext) {
    this.g = new SceneGeometry(ctx);
  }

  /** Normalised polydisperse intensity Ī(q), Ī(0) = 1 (9-point Gaussian quadrature in R, volume² weighted). */
  intensity(q: number): number {
    const { sphere_radius: R0, polydispersity: p } = this.ctx.cfg;
    let s = 0, w = 0;
    for (let i = -4; i <= 4; i++) {
      const z = i * 0.5;
      const R = R0 * (1 + p * z);
      if (R <= 0) continue;
      const wt = Math.exp(-(z * z) / 2) * R ** 6;
      s += wt * sphereFormFactor(q * R);
      w += wt;
    }
    return s / w;
  }

  base(): Float32Array {
    if (!this.cache) {
      const q = this.g.geo.q();
      let qmax = 0;
      for (let k = 0; k < q.length; k++) if (q[k] > qmax) qmax = q[k];
      const N = 8192;
      const step = (qmax * 1.0001 + 1e-12) / (N - 1);
      const table = new Float64Array(N + 1);
      for (let i = 0; i <= N; i++) table[i] = this.intensity(i * step);
      const { saxs_intensity: I0, background } = this.ctx.cfg;
      this.cache = this.g.map((k) => {
        const x = q[k] / step;
        const i = Math.floor(x);
        const f = x - i;
        return background + I0 * (table[i] * (1 - f) + table[i + 1] * f);
      });
      this.g.release();
    }
    return this.cache;
  }

  describe(): Record<string, unknown> {
    const c = this.ctx.cfg;
    return {
      ...this.g.describe(),
      model: 'polydisperse homogeneous spheres, I(q) = I0·⟨[3(sin qR − qR cos qR)/(qR)³]²⟩_R + background',
      sphere_radius_nm: c.sphere_radius,
      polydispersity: c.polydispersity,
      first_minimum_q_nm: 4.4934 / c.sphere_radius,
    };
  }
}

class XpcsScene implements Scene {
  readonly name = 'xpcs' as const;
  readonly hasTruth = true;
  private readonly g: SceneGeometry;
  private envCache: Float32Array | null = null;
  private bgCache: Float32Array | null = null;
  private meanCache: Float32Array | null = null;
  private readonly keys = new Map<number, Float32Array>();
  private readonly nr: number;
  private readonly nc: number;
  private readonly rowNode: Int32Array;
  private readonly rowFrac: Float32Array;
  private readonly colNode: Int32Array;
  private readonly colFrac: Float32Array;
  private coarse: Float32Array;

  constructor(private readonly ctx: SceneContext) {
    this.g = new SceneGeometry(ctx);
    const s = ctx.cfg.speckle_size;
    const { rows, cols } = this.g;
    this.nr = Math.floor((rows - 1) / s) + 2;
    this.nc = Math.floor((cols - 1) / s) + 2;
    this.rowNode = new Int32Array(rows);
    this.rowFrac = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      const y = i / s;
      this.rowNode[i] = Math.floor(y);
      this.rowFrac[i] = y - Math.floor(y);
    }
    this.colNode = new Int32Array(cols);
    this.colFrac = new Float32Array(cols);
    for (let j = 0; j < cols; j++) {
      const x = j / s;
      this.colNode[j] = Math.floor(x);
      this.colFrac[j] = x - Math.floor(x);
    }
    this.coarse = new Float32Array(2 * this.nr * this.nc);
  }

  private envelope(): Float32Array {
    if (!this.envCache) {
      const { xpcs_intensity: I0, xpcs_xi: xi } = this.ctx.cfg;
      const q = this.g.geo.q();
      this.envCache = this.g.map((k) => I0 / (1 + q[k] * q[k] * xi * xi));
      const bg = this.ctx.cfg.background;
      this.bgCache = this.g.map(() => bg);
      this.g.release();
    }
    return this.envCache;
  }

  base(): Float32Array {
    if (!this.meanCache) {
      const env = this.envelope();
      const bg = this.bgCache!;
      const out = new Float32Array(env.length);
      for (let k = 0; k < out.length; k++) out[k] = env[k] + bg[k];
      this.meanCache = out;
    }
    return this.meanCache;
  }

  /** Independent complex Gaussian field (unit mean intensity) on the coarse grid for key frame n. */
  private keyField(n: number): Float32Array {
    let f = this.keys.get(n);
    if (!f) {
      const key = frameKey(this.ctx.cfg.seed, STREAM.SPECKLE, n);
      f = new Float32Array(2 * this.nr * this.nc);
      for (let j = 0; j < f.length; j++) f[j] = normal8(hash2(j, key)) * Math.SQRT1_2;
      if (this.keys.size >= 4) this.keys.delete(this.keys.keys().next().value as number);
      this.keys.set(n, f);
    }
    return f;
  }

  dynamic(slot: number, out: Float32Array): Record<string, unknown> {
    const tau = this.ctx.cfg.correlation_frames;
    const n = Math.floor(slot / tau);
    const frac = slot / tau - n;
    const a = Math.cos((Math.PI / 2) * frac), b = Math.sin((Math.PI / 2) * frac);
    const k0 = this.keyField(n), k1 = this.keyField(n + 1);
    const C = this.coarse;
    for (let j = 0; j < C.length; j++) C[j] = a * k0[j] + b * k1[j];
    const env = this.envelope();
    const bg = this.bgCache!;
    const sb = Math.sqrt(this.ctx.cfg.contrast);
    const { rows, cols } = this.g;
    const nc = this.nc;
    for (let i = 0; i < rows; i++) {
      const ri = this.rowNode[i], fy = this.rowFrac[i];
      const wy0 = 1 - fy, wy1 = fy;
      const ny = wy0 * wy0 + wy1 * wy1;
      const o = i * cols;
      const base0 = ri * nc, base1 = (ri + 1) * nc;
      for (let j = 0; j < cols; j++) {
        const k = o + j;
        const e = env[k];
        if (e === 0) {
          out[k] = bg[k];
          continue;
        }
        const cj = this.colNode[j], fx = this.colFrac[j];
        const wx0 = 1 - fx, wx1 = fx;
        const w00 = wy0 * wx0, w01 = wy0 * wx1, w10 = wy1 * wx0, w11 = wy1 * wx1;
        const p00 = 2 * (base0 + cj), p01 = p00 + 2, p10 = 2 * (base1 + cj), p11 = p10 + 2;
        const re = w00 * C[p00] + w01 * C[p01] + w10 * C[p10] + w11 * C[p11];
        const im = w00 * C[p00 + 1] + w01 * C[p01 + 1] + w10 * C[p10 + 1] + w11 * C[p11 + 1];
        const norm = ny * (wx0 * wx0 + wx1 * wx1);
        const I = (re * re + im * im) / norm;
        out[k] = e * (1 - sb + sb * I) + bg[k];
      }
    }
    return { speckle_key: n, speckle_mix: Math.round(frac * 1e6) / 1e6 };
  }

  describe(): Record<string, unknown> {
    const c = this.ctx.cfg;
    return {
      ...this.g.describe(),
      model:
        'I = env(q)·(1 − √β + √β·|A|²) + background, A a complex Gaussian speckle field (bilinear on a speckle_size grid); ' +
        'A(i) = cos(πf/2)·K_n + sin(πf/2)·K_{n+1}, n = ⌊i/τ⌋, f = i/τ − n, K_n independent fields',
      speckle_size: c.speckle_size,
      correlation_frames: c.correlation_frames,
      contrast: c.contrast,
      truth: 'per frame: speckle_key n and speckle_mix f',
    };
  }
}

export function createScene(ctx: SceneContext): Scene {
  switch (ctx.cfg.scene) {
    case 'flat':
      return new FlatScene(ctx);
    case 'dark':
      return new DarkScene();
    case 'serial_crystallography':
      return new SerialScene(ctx);
    case 'powder':
      return new PowderScene(ctx);
    case 'saxs':
      return new SaxsScene(ctx);
    case 'xpcs':
      return new XpcsScene(ctx);
    case 'tomography':
      return new TomographyScene(ctx);
  }
}

export { SerialScene, PowderScene, SaxsScene, XpcsScene };
