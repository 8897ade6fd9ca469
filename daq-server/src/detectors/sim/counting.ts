/**
 * Photon-counting (DECTRIS-like, uint32) and integrating camera (uint16)
 * renderers.
 *
 * Counting detector pixel value:
 *   flat:   PoissonTable(flat_mean).sample(u_PHOTON(p))
 *   dark:   0
 *   others: Poisson(λ_p) drawn with `poissonFloat` (+ the spots' photons)
 *   gap pixels: the dummy 2^32 − 1.
 * Camera pixel value: clamp(offset + photons + PoissonTable(σ²).sample(u_READ_NOISE(p)) − floor(σ² + 0.5), 0, 65535),
 * photons as above (0 for dark).
 * u_S(p) = hash2(p, key(seed, S, slot)), see random.ts; test/simref.py
 * reproduces the flat and dark scenes of these detectors bit for bit.
 */
import type { TypedArray } from '../../protocol/index.js';
import { SimRun, type Rendered } from './run.js';
import { PoissonTable, STREAM, frameKey, hash2, poissonFloat } from './random.js';
import { countingGapMask } from './specs.js';
import type { SpotList } from './scenes.js';

/** Poisson-sample an expectation map into `out` (added to what is there when `add`). */
export function samplePhotons(
  lam: Float32Array,
  expNeg: Float32Array | null,
  out: { [i: number]: number },
  seed: number,
  slot: number,
): void {
  const kP = frameKey(seed, STREAM.PHOTON, slot);
  const kN = frameKey(seed, STREAM.NORMAL, slot);
  const n = lam.length;
  for (let p = 0; p < n; p++) {
    const l = lam[p];
    if (l > 0) {
      out[p] = poissonFloat(l, expNeg ? expNeg[p] : NaN, hash2(p, kP), l < 30 ? 0 : hash2(p, kN));
    } else {
      out[p] = 0;
    }
  }
}

/** Poisson-sample the spots' photons (independently of the background) and add them to `out` through `map` (identity when null). */
export function addSpotPhotons(
  spots: SpotList,
  out: { [i: number]: number },
  seed: number,
  slot: number,
  map: Int32Array | null = null,
): void {
  const kP = frameKey(seed, STREAM.PHOTON2, slot);
  const kN = hash2(0x6e, kP);
  for (let j = 0; j < spots.n; j++) {
    const target = map ? map[spots.index[j]] : spots.index[j];
    if (target < 0) continue;
    const l = spots.lam[j];
    out[target] += poissonFloat(l, NaN, hash2(j, kP), l < 30 ? 0 : hash2(j, kN));
  }
}

/** exp(−λ) per pixel (for the inverse-transform sampler). */
export function expNegative(lam: Float32Array): Float32Array {
  const out = new Float32Array(lam.length);
  for (let k = 0; k < lam.length; k++) out[k] = lam[k] > 0 && lam[k] < 30 ? Math.exp(-lam[k]) : 0;
  return out;
}

export class CountingRun extends SimRun {
  private gapList: Int32Array | null = null;
  private flatTable: PoissonTable | null = null;
  private readTable: PoissonTable | null = null;
  private expNeg: Float32Array | null = null;
  private dyn: Float32Array | null = null;
  private scratch: Float64Array | null = null;

  private gaps(): Int32Array | null {
    if (this.gapList === null && this.spec.dummy !== null) {
      const mask = countingGapMask(this.spec);
      if (mask) {
        let n = 0;
        for (let k = 0; k < mask.length; k++) n += mask[k];
        const list = new Int32Array(n);
        n = 0;
        for (let k = 0; k < mask.length; k++) if (mask[k]) list[n++] = k;
        this.gapList = list;
      }
    }
    return this.gapList;
  }

  /** Gap pixels (flat indexes) that carry the dummy value. */
  gapPixels(): Int32Array {
    return this.gaps() ?? new Int32Array(0);
  }

  protected render(slot: number): Rendered {
    const cfg = this.cfg;
    const camera = this.spec.kind === 'camera';
    const out = this.allocate();
    // photons go to `target`: the frame itself, or a float scratch for the camera (offset/noise/clamp after)
    let target: { [i: number]: number } = out;
    if (camera) target = this.scratch ??= new Float64Array(this.size);
    let truth: Record<string, unknown> | undefined;
    const scene = this.scene;
    if (scene.name === 'flat') {
      (this.flatTable ??= new PoissonTable(cfg.flat_mean)).fill(target, this.size, frameKey(cfg.seed, STREAM.PHOTON, slot));
    } else if (scene.name === 'dark') {
      if (camera) (target as Float64Array).fill(0);
    } else {
      let lam: Float32Array;
      let expNeg: Float32Array | null = null;
      if (scene.dynamic) {
        lam = this.dyn ??= new Float32Array(this.size);
        truth = scene.dynamic(slot, lam);
      } else {
        lam = scene.base()!;
        expNeg = this.expNeg ??= expNegative(lam);
      }
      samplePhotons(lam, expNeg, target, cfg.seed, slot);
      if (scene.spots) {
        const s = scene.spots(slot);
        truth = s.truth;
        addSpotPhotons(s.spots, target, cfg.seed, slot);
      }
    }
    if (camera) this.finishCamera(out, target as Float64Array, slot);
    const gaps = this.gaps();
    if (gaps) {
      const dummy = this.spec.dummy!;
      for (let k = 0; k < gaps.length; k++) out[gaps[k]] = dummy;
    }
    return { data: out, truth };
  }

  /** out = clamp(offset + photons + read noise, 0, 65535). */
  private finishCamera(out: TypedArray, photons: Float64Array, slot: number): void {
    const cfg = this.cfg;
    const v2 = cfg.read_noise * cfg.read_noise;
    const table = (this.readTable ??= new PoissonTable(v2));
    const base = cfg.offset - Math.floor(v2 + 0.5);
    const key = frameKey(cfg.seed, STREAM.READ_NOISE, slot);
    for (let p = 0; p < this.size; p++) {
      const v = base + photons[p] + table.sample(hash2(p, key));
      out[p] = v < 0 ? 0 : v > 65535 ? 65535 : v;
    }
  }

  protected describeKind(): Record<string, unknown> {
    if (this.spec.kind === 'camera') {
      return { camera: { offset_adu: this.cfg.offset, read_noise_adu: this.cfg.read_noise, adu_per_photon: 1 } };
    }
    return {
      counting: {
        gap_rows: this.spec.gapRows,
        gap_cols: this.spec.gapCols,
        dummy_note: 'gap pixels hold 2^32-1 (DECTRIS convention: the largest value of the type)',
      },
    };
  }
}
