/**
 * What a step scan visits: BLISS's semantics (intervals + 1 points; relative scans around the
 * current position; meshes with the first axis fast, optionally back and forth). Points are
 * computed on demand, so a million-point mesh costs no memory up front.
 */
import type { StepScanRequest } from '../protocol/scanning.js';
import { SHAPES } from './request.js';

export interface Plan {
  title: string;
  axes: string[];
  /** null: until stopped (timescan with npoints 0) */
  npoints: number | null;
  /** absolute axis positions of point i (same order as `axes`) */
  point(i: number): number[];
  /** every absolute target per axis that the scan may reach, for the limit check before it starts */
  extremes: { axis: string; field: string; value: number }[];
  /** relative scans: where the axes return to when the scan ends */
  origin: number[] | null;
  /** the axis to plot counters against (plotselect's x); null: against time or point */
  xAxis: string | null;
  /** meshes: the grid (first axis fast), so that a map view can place point i without the positions */
  grid?: MeshGrid;
}

export interface MeshGrid {
  axes: { axis: string; start: number; stop: number; intervals: number }[];
  backnforth: boolean;
}

const fmt = (x: number): string => String(Number(x.toPrecision(10)));
const linspace = (a: number, b: number, intervals: number, k: number): number => (k === intervals ? b : a + ((b - a) * k) / intervals);

export function buildPlan(req: StepScanRequest, positionOf: (axis: string) => number): Plan {
  const shape = SHAPES[req.type];
  const axes = (req.axes ?? []).map((a) => a.axis);
  const origin = shape.relative ? axes.map(positionOf) : null;
  const offset = (k: number): number => (origin ? origin[k] : 0);
  const t = fmt(req.count_time);
  const ranged = shape.lookup ? [] : (req.axes ?? []);
  const ranges = ranged.map((a, k) => ({ start: a.start! + offset(k), stop: a.stop! + offset(k) }));
  const rangeWords = ranged.map((a) => `${a.axis} ${fmt(a.start!)} ${fmt(a.stop!)}`);
  const extremes = ranges.flatMap((r, k) => [
    { axis: axes[k], field: `axes[${k}].start`, value: r.start },
    { axis: axes[k], field: `axes[${k}].stop`, value: r.stop },
  ]);
  const common = { axes, origin, xAxis: axes[0] ?? null };

  switch (req.type) {
    case 'ct':
      return { ...common, title: `ct ${t}`, npoints: 1, point: () => [], extremes: [] };
    case 'timescan':
    case 'loopscan': {
      const n = req.npoints!;
      const title = req.type === 'timescan' ? `timescan ${t}` + (n ? ` npoints=${n}` : '') : `loopscan ${n} ${t}`;
      return { ...common, title, npoints: n === 0 ? null : n, point: () => [], extremes: [] };
    }
    case 'ascan':
    case 'dscan':
    case 'a2scan':
    case 'd2scan': {
      const n = req.intervals!;
      return {
        ...common,
        title: `${req.type} ${rangeWords.join(' ')} ${n} ${t}`,
        npoints: n + 1,
        point: (i) => ranges.map((r) => linspace(r.start, r.stop, n, i)),
        extremes,
      };
    }
    case 'amesh':
    case 'dmesh': {
      const [n1, n2] = (req.axes ?? []).map((a) => a.intervals!);
      const back = Boolean(req.backnforth);
      return {
        ...common,
        title: `${req.type} ${rangeWords[0]} ${n1} ${rangeWords[1]} ${n2} ${t}` + (back ? ' backnforth' : ''),
        grid: { axes: ranges.map((r, k) => ({ axis: axes[k], ...r, intervals: k === 0 ? n1 : n2 })), backnforth: back },
        npoints: (n1 + 1) * (n2 + 1),
        point: (i) => {
          const slow = Math.floor(i / (n1 + 1));
          let fast = i % (n1 + 1);
          if (back && slow % 2 === 1) fast = n1 - fast;
          return [linspace(ranges[0].start, ranges[0].stop, n1, fast), linspace(ranges[1].start, ranges[1].stop, n2, slow)];
        },
        extremes,
      };
    }
    case 'lookupscan': {
      const lists = (req.axes ?? []).map((a) => a.positions!);
      return {
        ...common,
        title: `lookupscan ${axes.join(' ')} ${lists[0].length} ${t}`,
        npoints: lists[0].length,
        point: (i) => lists.map((p) => p[i]),
        extremes: lists.flatMap((p, k) => p.map((value, j) => ({ axis: axes[k], field: `axes[${k}].positions[${j}]`, value }))),
      };
    }
  }
}
