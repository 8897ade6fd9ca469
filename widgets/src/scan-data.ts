/**
 * The data side of the step-scan views (ScanPlot, Map2D, MCA), free of DOM and Plotly so that
 * node tests reach it: the join of a scan's channel streams by point index, normalisation,
 * derivative, peak statistics (BLISS's peak / cen / com / fwhm), the mesh grid that places point i,
 * the MCA energy axis and a Plotly colour scale from LiveImage's colour tables.
 */
import { lutBytes, type Colormap } from './colormap.js';

/**
 * Channels of one step scan joined by point index: every channel is a stream whose item i is
 * point i. The streams arrive separately and at their own pace; a row is complete once every
 * channel has it, and `rows` counts the complete leading rows (what a plot may show).
 */
export class PointTable {
  private readonly columns = new Map<string, number[]>();

  constructor(readonly channels: readonly string[]) {
    for (const c of channels) this.columns.set(c, []);
  }

  set(channel: string, index: number, value: number): void {
    const col = this.columns.get(channel);
    if (!col || !(index >= 0)) return;
    while (col.length < index) col.push(NaN); // a gap (an item never sent) stays NaN
    col[index] = value;
  }

  /** points every channel has */
  get rows(): number {
    let n = Infinity;
    for (const col of this.columns.values()) n = Math.min(n, col.length);
    return Number.isFinite(n) ? n : 0;
  }

  /** the first `rows` values of a channel */
  column(channel: string): number[] {
    const col = this.columns.get(channel);
    if (!col) throw new Error(`no channel ${channel}`);
    return col.slice(0, this.rows);
  }
}

/** y / monitor point by point (NaN where the monitor is 0 or missing). */
export function normalise(y: readonly number[], monitor: readonly number[]): number[] {
  return y.map((v, i) => (monitor[i] ? v / monitor[i] : NaN));
}

/** dy/dx at each point: central differences inside, one-sided at the ends (NaN where x does not move). */
export function derivative(x: readonly number[], y: readonly number[]): number[] {
  const n = Math.min(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - 1);
    const b = Math.min(n - 1, i + 1);
    const dx = x[b] - x[a];
    out.push(b > a && dx !== 0 ? (y[b] - y[a]) / dx : NaN);
  }
  return out;
}

export interface PeakStats {
  /** x of the largest y */
  peak: number;
  peak_y: number;
  /** middle of the half-maximum crossings (above the curve's minimum), interpolated */
  cen: number;
  fwhm: number;
  /** centre of mass of y − min(y) */
  com: number;
}

/** BLISS-like statistics of a curve; null with fewer than 2 finite points. */
export function peakStats(x: readonly number[], y: readonly number[]): PeakStats | null {
  const pts: [number, number][] = [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i])) pts.push([x[i], y[i]]);
  if (pts.length < 2) return null;
  let top = 0;
  let lo = Infinity;
  for (let i = 0; i < pts.length; i++) {
    if (pts[i][1] > pts[top][1]) top = i;
    lo = Math.min(lo, pts[i][1]);
  }
  const half = lo + (pts[top][1] - lo) / 2;
  const cross = (i: number, j: number): number => {
    const [x0, y0] = pts[i];
    const [x1, y1] = pts[j];
    return y1 === y0 ? x0 : x0 + ((half - y0) * (x1 - x0)) / (y1 - y0);
  };
  let left = pts[0][0];
  for (let i = top; i > 0; i--) {
    if (pts[i - 1][1] <= half) {
      left = cross(i - 1, i);
      break;
    }
  }
  let right = pts[pts.length - 1][0];
  for (let i = top; i < pts.length - 1; i++) {
    if (pts[i + 1][1] <= half) {
      right = cross(i, i + 1);
      break;
    }
  }
  let sw = 0;
  let sxw = 0;
  for (const [px, py] of pts) {
    sw += py - lo;
    sxw += px * (py - lo);
  }
  return { peak: pts[top][0], peak_y: pts[top][1], cen: (left + right) / 2, fwhm: Math.abs(right - left), com: sw > 0 ? sxw / sw : NaN };
}

/** A mesh's grid as the scan info names it (daq-server scanning/plan.ts `MeshGrid`). */
export interface MeshGridInfo {
  axes: { axis: string; start: number; stop: number; intervals: number }[];
  backnforth: boolean;
}

/** A mesh as an image: point i lands in (column, row) = (fast, slow) of the grid, NaN until measured. */
export class MeshImage {
  readonly nx: number;
  readonly ny: number;
  readonly values: Float64Array;
  filled = 0;

  constructor(readonly grid: MeshGridInfo) {
    if (grid.axes.length !== 2) throw new Error(`a map needs a 2-axis mesh, this grid has ${grid.axes.length} axes`);
    this.nx = grid.axes[0].intervals + 1;
    this.ny = grid.axes[1].intervals + 1;
    this.values = new Float64Array(this.nx * this.ny).fill(NaN);
  }

  /** (column, row) of point i; null outside the grid */
  cell(i: number): [number, number] | null {
    if (!(i >= 0 && i < this.nx * this.ny)) return null;
    const row = Math.floor(i / this.nx);
    let col = i % this.nx;
    if (this.grid.backnforth && row % 2 === 1) col = this.nx - 1 - col;
    return [col, row];
  }

  set(i: number, v: number): void {
    const c = this.cell(i);
    if (!c) return;
    const k = c[1] * this.nx + c[0];
    if (Number.isNaN(this.values[k]) && !Number.isNaN(v)) this.filled++;
    this.values[k] = v;
  }

  /** motor positions of the columns / rows */
  axis(k: 0 | 1): number[] {
    const a = this.grid.axes[k];
    const n = a.intervals;
    return Array.from({ length: n + 1 }, (_, j) => (n === 0 ? a.start : a.start + ((a.stop - a.start) * j) / n));
  }

  /** rows of the image for Plotly (null where not measured yet), `transform` applied to measured cells */
  rows(transform: (v: number) => number = (v) => v): (number | null)[][] {
    return Array.from({ length: this.ny }, (_, r) =>
      Array.from(this.values.subarray(r * this.nx, (r + 1) * this.nx), (v) => (Number.isNaN(v) ? null : transform(v))),
    );
  }
}

/** An MCA's energy calibration (the `<mca>:spectrum` stream info): E = offset + gain·ch + quadratic·ch² (eV). */
export interface McaCalibration {
  offset: number;
  gain: number;
  quadratic?: number;
}

export function energyAxis(channels: number, cal: McaCalibration | null | undefined): number[] {
  if (!cal || !Number.isFinite(cal.gain)) return Array.from({ length: channels }, (_, ch) => ch);
  const q = cal.quadratic ?? 0;
  return Array.from({ length: channels }, (_, ch) => cal.offset + cal.gain * ch + q * ch * ch);
}

/** A Plotly colour scale (11 stops) from a LiveImage colour table. */
export function plotlyColorscale(name: Colormap, reverse = false): [number, string][] {
  const lut = lutBytes(name, reverse);
  return Array.from({ length: 11 }, (_, k) => {
    const i = Math.round((k / 10) * 255) * 4;
    return [k / 10, `rgb(${lut[i]},${lut[i + 1]},${lut[i + 2]})`] as [number, string];
  });
}
