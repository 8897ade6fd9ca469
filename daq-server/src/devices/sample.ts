/**
 * The simulated sample: element concentration maps (Gaussian grains placed by the seed) on a
 * 10 × 10 mm plate, the transmission they give the diode, and the X-ray fluorescence spectrum they
 * give the MCA. Everything is a pure function of (seed, position): the ground truth is `truth()`.
 */
import { Rng, keyOf } from './random.js';

/** Emission lines (eV) and relative intensities of the elements the sample holds (Kα, Kβ). */
export const ELEMENT_LINES: Record<string, [number, number][]> = {
  Ca: [[3691.7, 1], [4012.7, 0.13]],
  Fe: [[6403.8, 1], [7058.0, 0.13]],
  Cu: [[8047.8, 1], [8905.3, 0.13]],
  Zn: [[8638.9, 1], [9572.0, 0.13]],
};

export interface Grain {
  x: number;
  y: number;
  sigma: number;
  amplitude: number;
}

export interface SampleTruth {
  seed: number;
  /** the plate: |x|, |y| ≤ half_size (mm); outside is air */
  half_size: number;
  /** grains of each element; concentration = Σ amplitude·exp(−r²/2σ²), at most 1 */
  elements: Record<string, Grain[]>;
  /** transmission = exp(−(base + Σ_e k·c_e)) on the plate, 1 in air */
  absorption: { base: number; per_concentration: number };
  /** incident photons per second (the i0 monitor counts them) */
  flux: number;
  beam_energy: number;
}

/** What the sample gives at one position for one exposure. */
export interface SampleReading {
  transmission: number;
  concentrations: Record<string, number>;
}

const HALF = 5;
const GRAINS = 3;
/** fluorescence photons reaching the MCA per incident photon at concentration 1 */
const FLUO_YIELD = 0.05;
const ELASTIC_YIELD = 0.002;
const COMPTON_YIELD = 0.003;
/** flat background, counts per channel per second */
const BACKGROUND = 0.02;

export class SimSample {
  readonly truthData: SampleTruth;

  constructor(readonly seed: number) {
    const rng = new Rng(keyOf(seed, 'sample'));
    const elements: Record<string, Grain[]> = {};
    for (const name of Object.keys(ELEMENT_LINES)) {
      elements[name] = Array.from({ length: GRAINS }, () => ({
        x: -4 + 8 * rng.next(),
        y: -4 + 8 * rng.next(),
        sigma: 0.3 + 0.7 * rng.next(),
        amplitude: 0.3 + 0.7 * rng.next(),
      }));
    }
    this.truthData = { seed, half_size: HALF, elements, absorption: { base: 0.2, per_concentration: 0.5 }, flux: 1e6, beam_energy: 12000 };
  }

  truth(): SampleTruth {
    return structuredClone(this.truthData);
  }

  onPlate(x: number, y: number): boolean {
    return Math.abs(x) <= HALF && Math.abs(y) <= HALF;
  }

  concentration(element: string, x: number, y: number): number {
    if (!this.onPlate(x, y)) return 0;
    let c = 0;
    for (const g of this.truthData.elements[element] ?? []) {
      const r2 = (x - g.x) ** 2 + (y - g.y) ** 2;
      c += g.amplitude * Math.exp(-r2 / (2 * g.sigma * g.sigma));
    }
    return Math.min(1, c);
  }

  /** The diode's transmission at (x, y), as `at` computes it, without building a reading (fly scans). */
  transmissionAt(x: number, y: number): number {
    if (!this.onPlate(x, y)) return 1;
    let mu = 0;
    for (const e in ELEMENT_LINES) mu += this.truthData.absorption.per_concentration * this.concentration(e, x, y);
    return Math.exp(-(this.truthData.absorption.base + mu));
  }

  at(x: number, y: number): SampleReading {
    const concentrations: Record<string, number> = {};
    let mu = 0;
    for (const e of Object.keys(ELEMENT_LINES)) {
      concentrations[e] = this.concentration(e, x, y);
      mu += this.truthData.absorption.per_concentration * concentrations[e];
    }
    const transmission = this.onPlate(x, y) ? Math.exp(-(this.truthData.absorption.base + mu)) : 1;
    return { transmission, concentrations };
  }

  /**
   * The expected (noise-free) MCA spectrum, counts per channel, for `seconds` at `reading`:
   * Gaussian lines whose width grows with energy, elastic and Compton scatter, a flat background.
   */
  expectedSpectrum(reading: SampleReading, seconds: number, energyOf: (channel: number) => number, channels: number): Float64Array {
    const out = new Float64Array(channels).fill(BACKGROUND * seconds);
    const incident = this.truthData.flux * seconds;
    const e0 = this.truthData.beam_energy;
    const peaks: [number, number][] = [
      [e0, incident * ELASTIC_YIELD],
      [e0 * 0.97, incident * COMPTON_YIELD],
    ];
    for (const [element, lines] of Object.entries(ELEMENT_LINES)) {
      const c = reading.concentrations[element];
      for (const [energy, rel] of lines) peaks.push([energy, incident * FLUO_YIELD * c * rel]);
    }
    const gain = energyOf(1) - energyOf(0);
    for (const [energy, area] of peaks) {
      if (!(area > 0)) continue;
      const sigma = Math.sqrt(40 * 40 + 0.414 * energy); // electronic noise ⊕ Fano statistics (eV)
      const centre = (energy - energyOf(0)) / gain;
      const half = Math.ceil((5 * sigma) / gain);
      const norm = (area * gain) / (sigma * Math.sqrt(2 * Math.PI));
      for (let ch = Math.max(0, Math.floor(centre - half)); ch <= Math.min(channels - 1, Math.ceil(centre + half)); ch++) {
        const de = energyOf(ch) - energy;
        out[ch] += norm * Math.exp(-(de * de) / (2 * sigma * sigma));
      }
    }
    return out;
  }
}
