/**
 * Pure data logic of the chart widgets (no DOM): a bounded, decimated time
 * series, a rolling fraction over the last N booleans, and running averages.
 * Unit-tested in widgets/test/series.test.ts.
 */

/**
 * A series of (x, y) points that never holds more than `maxPoints`: when a push
 * goes over, the older half is thinned to every other point (its resolution
 * halves), the newer half stays at full resolution. Repeated halvings make old
 * data progressively coarser, so a night-long run stays bounded.
 */
export class DecimatedSeries {
  x: number[] = [];
  y: number[] = [];
  /** how many points were pushed in all (including the ones dropped) */
  pushed = 0;
  /** how many times the series was thinned */
  halvings = 0;

  constructor(public maxPoints = 5000) {
    if (!(maxPoints >= 4)) throw new Error(`maxPoints must be ≥ 4, got ${maxPoints}`);
  }

  get length(): number {
    return this.x.length;
  }

  push(x: number, y: number): void {
    this.x.push(x);
    this.y.push(y);
    this.pushed++;
    if (this.x.length > this.maxPoints) this.decimate();
  }

  /** Change the bound; thins at once while over it. */
  setMaxPoints(maxPoints: number): void {
    if (!(maxPoints >= 4)) throw new Error(`maxPoints must be ≥ 4, got ${maxPoints}`);
    this.maxPoints = maxPoints;
    while (this.x.length > this.maxPoints) this.decimate();
  }

  clear(): void {
    this.x = [];
    this.y = [];
    this.pushed = 0;
    this.halvings = 0;
  }

  /** Keep every other point of the older half (its first point included), all of the newer half. */
  private decimate(): void {
    const old = Math.floor(this.x.length / 2);
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < old; i += 2) {
      x.push(this.x[i]);
      y.push(this.y[i]);
    }
    for (let i = old; i < this.x.length; i++) {
      x.push(this.x[i]);
      y.push(this.y[i]);
    }
    this.x = x;
    this.y = y;
    this.halvings++;
  }
}

/** The fraction of `true` among the last `window` values pushed (O(1) per push). */
export class RollingFraction {
  private ring: Uint8Array;
  private at = 0;
  private filled = 0;
  private hits = 0;

  constructor(readonly window = 100) {
    if (!(window >= 1) || !Number.isInteger(window)) throw new Error(`window must be an integer ≥ 1, got ${window}`);
    this.ring = new Uint8Array(window);
  }

  /** Push one value; returns the fraction over the last min(window, pushed) values. */
  push(hit: boolean): number {
    if (this.filled === this.window) this.hits -= this.ring[this.at];
    else this.filled++;
    this.ring[this.at] = hit ? 1 : 0;
    this.hits += this.ring[this.at];
    this.at = (this.at + 1) % this.window;
    return this.value;
  }

  /** NaN before the first push. */
  get value(): number {
    return this.filled ? this.hits / this.filled : NaN;
  }

  /** how many values the fraction is over now (≤ window) */
  get count(): number {
    return this.filled;
  }
}

/** The element-wise running mean of equally long curves (NaN-free sums: NaN entries are skipped per bin). */
export class RunningMean {
  private sum: Float64Array | null = null;
  private n: Uint32Array | null = null;
  count = 0;

  add(curve: ArrayLike<number>): void {
    if (!this.sum || this.sum.length !== curve.length) {
      this.sum = new Float64Array(curve.length);
      this.n = new Uint32Array(curve.length);
      this.count = 0;
    }
    for (let i = 0; i < curve.length; i++) {
      const v = curve[i];
      if (Number.isFinite(v)) {
        this.sum[i] += v;
        this.n![i]++;
      }
    }
    this.count++;
  }

  mean(): number[] {
    if (!this.sum) return [];
    return Array.from(this.sum, (s, i) => (this.n![i] ? s / this.n![i] : NaN));
  }

  clear(): void {
    this.sum = null;
    this.n = null;
    this.count = 0;
  }
}

/** An axis title for a pyFAI radial unit name ("q_nm^-1" → "q (nm⁻¹)"). */
export function radialAxisTitle(unit: string | undefined): string {
  const known: Record<string, string> = {
    'q_nm^-1': 'q (nm⁻¹)',
    'q_A^-1': 'q (Å⁻¹)',
    '2th_deg': '2θ (°)',
    '2th_rad': '2θ (rad)',
    r_mm: 'r (mm)',
    r_m: 'r (m)',
    d_nm: 'd (nm)',
    d_A: 'd (Å)',
  };
  if (!unit) return 'radial';
  if (known[unit]) return known[unit];
  const m = /^([^_]+)_(.+)$/.exec(unit);
  return m ? `${m[1]} (${m[2]})` : unit;
}

/** Which statistic of a legacy `roi_stats` item (per ROI: sum, mean, std, min, max). */
export const ROI_STATISTICS = ['sum', 'mean', 'std', 'min', 'max'] as const;
export type RoiStatistic = (typeof ROI_STATISTICS)[number];

/** The value of one ROI's statistic in a flattened [n_roi, 5] item; NaN when the ROI is not there. */
export function roiValue(data: ArrayLike<number>, roi: number, statistic: RoiStatistic): number {
  const col = ROI_STATISTICS.indexOf(statistic);
  const i = roi * ROI_STATISTICS.length + col;
  return roi >= 0 && col >= 0 && i < data.length ? Number(data[i]) : NaN;
}
