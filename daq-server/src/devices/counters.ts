/**
 * Simulated counters (0D): the i0 monitor counts the incident photons, the diode the photons the
 * sample lets through. Each reads the sample where samx/samy are when the point is counted.
 */
import type { CounterInfo } from '../protocol/devices.js';
import { Rng, keyOf, mix32 } from './random.js';
import type { SimSample } from './sample.js';

/** One count: how long, and the key that makes its noise reproducible (seed, scan, point). */
export interface Exposure {
  seconds: number;
  /** where the beam hits the sample (mm) */
  x: number;
  y: number;
  scan: number;
  point: number;
}

export interface Counter {
  readonly kind: 'counter';
  readonly name: string;
  info(): CounterInfo;
  read(exposure: Exposure): number;
  /**
   * Fly scans: `n` counts of `seconds` each at (xs[k], ys[k]) into `out` (no allocation per count);
   * count k's noise is keyed by (seed, name, scan, first + k), so a block's split does not matter.
   */
  readBlock(n: number, xs: Float64Array, ys: Float64Array, seconds: number, scan: number, first: number, out: Float64Array, rng: Rng, salt?: string): void;
}

type Model = (sample: SimSample, seconds: number, x: number, y: number) => number;

const MODELS: Record<string, { unit: string; description: string; expected: Model }> = {
  i0: { unit: 'counts', description: 'incident-beam monitor', expected: (s, t) => s.truthData.flux * t },
  diode: {
    unit: 'counts',
    description: 'transmitted-beam diode (sample absorption)',
    expected: (s, t, x, y) => 0.5 * s.truthData.flux * t * s.transmissionAt(x, y),
  },
};

export const SIM_COUNTERS = Object.keys(MODELS);

export class SimCounter implements Counter {
  readonly kind = 'counter' as const;
  private readonly model: (typeof MODELS)[string];

  constructor(readonly name: string, private readonly sample: SimSample) {
    this.model = MODELS[name];
    if (!this.model) throw new Error(`no simulated counter model ${name}`);
  }

  info(): CounterInfo {
    return { name: this.name, kind: 'counter', unit: this.model.unit, description: this.model.description };
  }

  read(e: Exposure): number {
    return new Rng(keyOf(this.sample.seed, this.name, e.scan, e.point)).poisson(this.model.expected(this.sample, e.seconds, e.x, e.y));
  }

  /** `salt` keeps apart two series of one counter in one scan (per trigger, and sampled fast) */
  readBlock(n: number, xs: Float64Array, ys: Float64Array, seconds: number, scan: number, first: number, out: Float64Array, rng: Rng, salt = 'fly'): void {
    const base = keyOf(this.sample.seed, this.name, salt, scan);
    for (let k = 0; k < n; k++) {
      rng.reseed(mix32(base ^ mix32(first + k)));
      out[k] = rng.poisson(this.model.expected(this.sample, seconds, xs[k], ys[k]));
    }
  }
}
