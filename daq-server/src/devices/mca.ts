/**
 * A simulated fluorescence MCA: 4096 channels with an energy calibration, dead time (the live
 * fraction falls as the input rate rises) and element ROIs, each integrated into its own channel.
 */
import { DaqError } from '../protocol/index.js';
import { DEVICE_LIMITS, type McaInfo, type McaRoi } from '../protocol/devices.js';
import type { Exposure } from './counters.js';
import { Rng, keyOf } from './random.js';
import type { SimSample } from './sample.js';

export interface McaReading {
  spectrum: Uint32Array;
  /** counts in each ROI (same order as `rois`) */
  rois: number[];
  /** the fraction of the exposure the MCA was dead */
  dead_time: number;
}

const ROI_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export class SimMca {
  readonly kind = 'mca' as const;
  readonly channels = 4096;
  readonly calibration = { offset: 0, gain: 10, quadratic: 0 };
  readonly deadTimeTau = 2e-6;
  private readonly _rois: McaRoi[] = [];

  constructor(readonly name: string, private readonly sample: SimSample) {}

  energyOf(channel: number): number {
    const { offset, gain, quadratic } = this.calibration;
    return offset + gain * channel + quadratic * channel * channel;
  }

  info(): McaInfo {
    return { name: this.name, kind: 'mca', channels: this.channels, calibration: { ...this.calibration }, dead_time_tau: this.deadTimeTau, rois: this.rois };
  }

  get rois(): McaRoi[] {
    return this._rois.map((r) => ({ ...r }));
  }

  addRoi(name: unknown, start: unknown, stop: unknown): McaRoi {
    const bad = (field: string, message: string) => new DaqError('ParameterError', `${field}: ${this.name} ROI ${message}`, [{ field, message }]);
    if (typeof name !== 'string' || !ROI_NAME.test(name) || name.length > DEVICE_LIMITS.maxRoiName) {
      throw bad('name', `names are a letter then letters, digits or _ (at most ${DEVICE_LIMITS.maxRoiName}), got ${JSON.stringify(String(name).slice(0, 40))}`);
    }
    const emax = this.energyOf(this.channels - 1);
    for (const [field, v] of [['start', start], ['stop', stop]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > emax) throw bad(field, `${field} must be an energy in [0, ${emax}] eV, got ${String(v)}`);
    }
    if ((start as number) >= (stop as number)) throw bad('stop', `stop (${String(stop)} eV) must be above start (${String(start)} eV)`);
    const existing = this._rois.findIndex((r) => r.name === name);
    if (existing < 0 && this._rois.length >= DEVICE_LIMITS.maxRois) {
      throw new DaqError('LimitError', `${this.name} has ${this._rois.length} ROIs already (at most ${DEVICE_LIMITS.maxRois})`);
    }
    const roi = { name, start: start as number, stop: stop as number };
    if (existing >= 0) this._rois[existing] = roi;
    else this._rois.push(roi);
    return { ...roi };
  }

  removeRoi(name: unknown): void {
    const k = this._rois.findIndex((r) => r.name === name);
    if (k < 0) throw new DaqError('NotFoundError', `${this.name} has no ROI ${JSON.stringify(name)}; ROIs: ${this._rois.map((r) => r.name).join(', ') || 'none'}`);
    this._rois.splice(k, 1);
  }

  clearRois(): void {
    this._rois.length = 0;
  }

  /** Sum of the channels whose energy lies in [start, stop]. */
  integrate(spectrum: ArrayLike<number>, roi: McaRoi): number {
    let sum = 0;
    for (let ch = 0; ch < spectrum.length; ch++) {
      const e = this.energyOf(ch);
      if (e >= roi.start && e <= roi.stop) sum += spectrum[ch];
    }
    return sum;
  }

  /** One exposure: Poisson counts of the sample's spectrum at the beam, less what the dead time lost. */
  acquire(e: Exposure, rois: McaRoi[] = this._rois): McaReading {
    const expected = this.sample.expectedSpectrum(this.sample.at(e.x, e.y), e.seconds, (c) => this.energyOf(c), this.channels);
    const spectrum = new Uint32Array(this.channels);
    const deadTime = this.draw(expected, e.seconds, new Rng(keyOf(this.sample.seed, this.name, e.scan, e.point)), spectrum, 0);
    return { spectrum, rois: rois.map((r) => this.integrate(spectrum, r)), dead_time: deadTime };
  }

  /**
   * Fly scans: one exposure at (x, y) drawn into `out` at `offset` (a block of spectra; the
   * expected spectrum is the only allocation). Returns the dead-time fraction.
   */
  acquireInto(x: number, y: number, seconds: number, rng: Rng, out: Uint32Array, offset: number): number {
    const expected = this.sample.expectedSpectrum(this.sample.at(x, y), seconds, (c) => this.energyOf(c), this.channels);
    return this.draw(expected, seconds, rng, out, offset);
  }

  /** Channel ranges [first, last] of the ROIs (fly scans integrate blocks with them). */
  roiChannels(rois: McaRoi[] = this._rois): [number, number][] {
    return rois.map((r) => {
      let first = this.channels;
      let last = -1;
      for (let ch = 0; ch < this.channels; ch++) {
        const e = this.energyOf(ch);
        if (e >= r.start && e <= r.stop) {
          first = Math.min(first, ch);
          last = ch;
        }
      }
      return [first, last];
    });
  }

  private draw(expected: Float64Array, seconds: number, rng: Rng, out: Uint32Array, offset: number): number {
    let total = 0;
    for (let c = 0; c < expected.length; c++) total += expected[c];
    const inputRate = seconds > 0 ? total / seconds : 0;
    const live = Math.exp(-inputRate * this.deadTimeTau); // paralysable detector
    for (let c = 0; c < expected.length; c++) out[offset + c] = rng.poisson(expected[c] * live);
    return 1 - live;
  }
}
