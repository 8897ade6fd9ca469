/**
 * Raw PSI Jungfrau 4M: 8 modules of 512 × 1024 uint16 words,
 * bits 15–14 the gain code (00 G0, 01 G1, 11 G2), bits 13–0 the ADC value.
 *
 * Model (per raw pixel p, photons n from the scene at energy E keV):
 *   energy e = n·E (keV); z ~ N(0, 1) (electronic noise, one per pixel and frame)
 *   adc0 = P0[p] + G0[p]·e + σ0·z;  if adc0 < SWITCH → G0 word round(adc0)
 *   else adc1 = P1[p] + G1[p]·e + σ1·z; if adc1 < SWITCH → 0x4000 | round(adc1)
 *   else adc2 = P2[p] + G2[p]·e + σ2·z; ≥ 16383.5 → 0xC000 (saturated), else 0xC000 | round(adc2)
 * with SWITCH = 15000 ADU (the gain switches before the 14-bit range of
 * the stage saturates), σ = 12, 3, 2 ADU for G0, G1, G2.
 *
 * Calibration (deterministic from the seed; `pedestal` and `gain` maps of
 * shape [3, 8, 512, 1024], float32, index g·N + p):
 *   P0 = 3000 + 150·z, P1 = 1500 + 100·z, P2 = 1000 + 80·z  (ADU)
 *   G0 = 41·m·(1 + 0.03·z) ADU/keV (m: per-module factor 1 + 0.02·z)
 *   G1 = G0/30·(1 + 0.02·z), G2 = G0/400·(1 + 0.02·z)
 * Gains are positive here (some firmware versions have negative G1/G2);
 * the correction E = (adc − P[g]) / G[g] is the same either way. High-gain
 * mode (HG0) is not simulated. A dark frame (`dark` scene) is
 * code | round(P_g + σ_g·z) for the stage forced by `dark_gain`.
 */
import { SimRun, type Rendered } from './run.js';
import { STREAM, frameKey, hash2, normal8 } from './random.js';
import { addSpotPhotons, expNegative, samplePhotons } from './counting.js';
import { JUNGFRAU_4M, assemblyMap, imageToRawSum, type AssemblyMap } from '../geometry/jungfrau-layout.js';

export const JF_SWITCH_ADU = 15000;
export const JF_NOISE_ADU = [12, 3, 2] as const;
export const JF_GAIN_CODES = [0x0000, 0x4000, 0xc000] as const;
export const JF_SATURATED = 0xc000;
export const JF_G0_ADU_PER_KEV = 41;
export const JF_G1_RATIO = 1 / 30;
export const JF_G2_RATIO = 1 / 400;

export interface JungfrauCalibration {
  /** [3, modules, 512, 1024] ADU */
  pedestal: Float32Array;
  /** [3, modules, 512, 1024] ADU/keV */
  gain: Float32Array;
}

let calibrationCache: { seed: number; cal: JungfrauCalibration } | null = null;

/** Per-pixel pedestals and gains of the simulated Jungfrau 4M for `seed` (the last one is cached). */
export function jungfrauCalibration(seed: number): JungfrauCalibration {
  if (calibrationCache && calibrationCache.seed === seed) return calibrationCache.cal;
  const [M, R, C] = JUNGFRAU_4M.rawShape;
  const N = M * R * C;
  const perModule = R * C;
  // shared memory: receivers read the maps without a copy (processing/setup.ts shares others by copying)
  const pedestal = new Float32Array(new SharedArrayBuffer(3 * N * 4));
  const gain = new Float32Array(new SharedArrayBuffer(3 * N * 4));
  const k = (i: number): number => frameKey(seed, STREAM.CALIBRATION, i);
  const kp0 = k(0), kp1 = k(1), kp2 = k(2), kg0 = k(3), kg1 = k(4), kg2 = k(5), km = k(100);
  for (let m = 0; m < M; m++) {
    const fm = 1 + 0.02 * normal8(hash2(m, km));
    for (let q = 0; q < perModule; q++) {
      const p = m * perModule + q;
      pedestal[p] = 3000 + 150 * normal8(hash2(p, kp0));
      pedestal[N + p] = 1500 + 100 * normal8(hash2(p, kp1));
      pedestal[2 * N + p] = 1000 + 80 * normal8(hash2(p, kp2));
      const g0 = JF_G0_ADU_PER_KEV * fm * (1 + 0.03 * normal8(hash2(p, kg0)));
      gain[p] = g0;
      gain[N + p] = g0 * JF_G1_RATIO * (1 + 0.02 * normal8(hash2(p, kg1)));
      gain[2 * N + p] = g0 * JF_G2_RATIO * (1 + 0.02 * normal8(hash2(p, kg2)));
    }
  }
  const cal = { pedestal, gain };
  calibrationCache = { seed, cal };
  return cal;
}

/** The cached calibration of `seed`, or null (computing it takes ~0.7 s: calibration-worker.ts does it off the event loop). */
export const cachedCalibration = (seed: number): JungfrauCalibration | null =>
  calibrationCache && calibrationCache.seed === seed ? calibrationCache.cal : null;

/** Keep `cal` (computed by a worker) as the calibration of `seed`. */
export function adoptCalibration(seed: number, cal: JungfrauCalibration): void {
  calibrationCache = { seed, cal };
}

let jfMap: AssemblyMap | null = null;
/** The Jungfrau 4M assembly map, built once (130 ms of the event loop each time it was built per run). */
export const jungfrauMap = (): AssemblyMap => (jfMap ??= assemblyMap(JUNGFRAU_4M));

/** Gain stage (0, 1, 2) of a raw word; code 10 (invalid) is read as G2, as PSI's tools do. */
export const jfGainStage = (word: number): number => {
  const code = word >>> 14;
  return code === 0 ? 0 : code === 1 ? 1 : 2;
};

/** Energy in keV of raw word `word` at raw pixel `p` with calibration `cal` (NaN for saturated pixels). */
export function jfEnergy(word: number, p: number, cal: JungfrauCalibration): number {
  if (word === JF_SATURATED) return NaN;
  const N = cal.pedestal.length / 3;
  const g = jfGainStage(word);
  return ((word & 0x3fff) - cal.pedestal[g * N + p]) / cal.gain[g * N + p];
}

export class JungfrauRun extends SimRun {
  readonly map: AssemblyMap = jungfrauMap();
  private rawBase: Float32Array | null = null;
  private expNeg: Float32Array | null = null;
  private dynImage: Float32Array | null = null;
  private dynRaw: Float32Array | null = null;
  private photons: Float64Array | null = null;

  /** Static expectation per raw pixel (double pixels collect the photons of both their halves). */
  rawExpectation(): Float32Array | null {
    if (!this.rawBase) {
      const base = this.scene.base();
      if (!base) return null;
      this.rawBase = new Float32Array(this.size);
      imageToRawSum(base, this.rawBase, this.map);
    }
    return this.rawBase;
  }

  calibration(): JungfrauCalibration {
    return jungfrauCalibration(this.cfg.seed);
  }

  protected render(slot: number): Rendered {
    const cfg = this.cfg;
    const N = this.size;
    const out = this.allocate() as Uint16Array;
    const { pedestal: P, gain: G } = this.calibration();
    const kE = frameKey(cfg.seed, STREAM.ELECTRONIC, slot);
    const scene = this.scene;
    let truth: Record<string, unknown> | undefined;

    if (scene.name === 'dark') {
      const g = cfg.dark_gain === 'G0' ? 0 : cfg.dark_gain === 'G1' ? 1 : 2;
      const code = JF_GAIN_CODES[g], sigma = JF_NOISE_ADU[g], off = g * N;
      for (let p = 0; p < N; p++) {
        const v = Math.round(P[off + p] + sigma * normal8(hash2(p, kE)));
        out[p] = code | (v < 0 ? 0 : v > 16383 ? 16383 : v);
      }
      return { data: out, truth };
    }

    const photons = (this.photons ??= new Float64Array(N));
    if (scene.dynamic) {
      const img = (this.dynImage ??= new Float32Array(this.map.rawIndex.length));
      truth = scene.dynamic(slot, img);
      const raw = (this.dynRaw ??= new Float32Array(N));
      imageToRawSum(img, raw, this.map);
      samplePhotons(raw, null, photons, cfg.seed, slot);
    } else {
      const lam = this.rawExpectation()!;
      samplePhotons(lam, (this.expNeg ??= expNegative(lam)), photons, cfg.seed, slot);
    }
    if (scene.spots) {
      const s = scene.spots(slot);
      truth = s.truth;
      addSpotPhotons(s.spots, photons, cfg.seed, slot, this.map.rawIndex);
    }

    const E = this.geometry.energyKeV;
    const [s0, s1, s2] = JF_NOISE_ADU;
    for (let p = 0; p < N; p++) {
      const e = photons[p] * E;
      const z = normal8(hash2(p, kE));
      const a0 = P[p] + G[p] * e + s0 * z;
      if (a0 < JF_SWITCH_ADU) {
        out[p] = a0 <= 0 ? 0 : Math.round(a0);
        continue;
      }
      const a1 = P[N + p] + G[N + p] * e + s1 * z;
      if (a1 < JF_SWITCH_ADU) {
        out[p] = 0x4000 | (a1 <= 0 ? 0 : Math.round(a1));
        continue;
      }
      const a2 = P[2 * N + p] + G[2 * N + p] * e + s2 * z;
      out[p] = a2 >= 16383.5 ? JF_SATURATED : 0xc000 | (a2 <= 0 ? 0 : Math.round(a2));
    }
    return { data: out, truth };
  }

  protected describeKind(): Record<string, unknown> {
    return {
      jungfrau: {
        layout: {
          modules: JUNGFRAU_4M.nModules,
          module_grid: JUNGFRAU_4M.moduleGrid,
          gap: JUNGFRAU_4M.gap,
          module_origins: JUNGFRAU_4M.moduleOrigins,
          image_shape: JUNGFRAU_4M.imageShape,
        },
        gain_codes: { G0: 0, G1: 1, G2: 3 },
        saturated: JF_SATURATED,
        switch_adu: JF_SWITCH_ADU,
        noise_adu: { G0: JF_NOISE_ADU[0], G1: JF_NOISE_ADU[1], G2: JF_NOISE_ADU[2] },
        gain_adu_per_kev: { G0: JF_G0_ADU_PER_KEV, G1: JF_G0_ADU_PER_KEV * JF_G1_RATIO, G2: JF_G0_ADU_PER_KEV * JF_G2_RATIO },
        calibration_maps: ['pedestal [3,8,512,1024] float32 ADU', 'gain [3,8,512,1024] float32 ADU/keV'],
        dark_gain: this.cfg.dark_gain,
      },
    };
  }
}
