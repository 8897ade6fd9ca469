/**
 * Hyperslab selections as text (`"3,:,10:20:2"`), parsed with the server's rules
 * (kernel-bridge/daqlab/h5server/reader.py: parse_selection) so MockProvider answers
 * exactly what the server would, and built from a display plan and slider positions.
 */
import { ProviderError } from './provider.js';

/** One dimension: an index (dimension dropped) or a start/stop/step range. */
export type SelItem = number | { start: number; stop: number; step: number };

export function parseSelect(text: string | undefined, shape: readonly number[]): SelItem[] {
  const parts = text ? text.split(',').map((p) => p.trim()) : [];
  if (parts.length > shape.length) {
    throw new ProviderError(`select: ${parts.length} dimensions given, the dataset has ${shape.length}`, 400, 'select');
  }
  return shape.map((n, dim) => {
    const p = dim < parts.length ? parts[dim] : ':';
    if (p.includes(':')) {
      const bits = p.split(':');
      const num = (s: string | undefined, dflt: number | null) => {
        if (s === undefined || s.trim() === '') return dflt;
        if (!/^-?\d+$/.test(s.trim())) throw new ProviderError(`select: dimension ${dim}: '${p}' is not an index or a start:stop:step slice`, 400, 'select');
        return Number(s);
      };
      if (bits.length > 3) throw new ProviderError(`select: dimension ${dim}: '${p}' is not an index or a start:stop:step slice`, 400, 'select');
      const step = num(bits[2], 1) as number;
      if (step <= 0) throw new ProviderError(`select: dimension ${dim}: step must be positive, got ${step}`, 400, 'select');
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      const start = clamp(num(bits[0], 0) as number);
      const stop = clamp(num(bits[1], n) as number);
      if (stop <= start) throw new ProviderError(`select: dimension ${dim}: '${p}' selects nothing (size ${n})`, 400, 'select');
      return { start, stop, step };
    }
    if (!/^-?\d+$/.test(p)) throw new ProviderError(`select: dimension ${dim}: '${p}' is not an index or a start:stop:step slice`, 400, 'select');
    const i = Number(p);
    if (i < -n || i >= n) throw new ProviderError(`select: dimension ${dim}: index ${i} is out of range for size ${n}`, 400, 'select');
    return (i + n) % n;
  });
}

export function selectedShape(items: readonly SelItem[]): number[] {
  return items.filter((it): it is Exclude<SelItem, number> => typeof it !== 'number').map((s) => Math.ceil((s.stop - s.start) / s.step));
}

export function formatSelect(items: readonly SelItem[]): string {
  return items.map((it) => (typeof it === 'number' ? String(it) : `${it.start}:${it.stop}${it.step === 1 ? '' : `:${it.step}`}`)).join(',');
}

/**
 * The selection of one view: every displayed dimension whole, every other at its slider's
 * index. `"4,:,:"` for frame 4 of a stack.
 */
export function sliceSelect(shape: readonly number[], displayed: readonly number[], indices: readonly number[]): string {
  return shape.map((n, d) => (displayed.includes(d) ? ':' : String(Math.min(Math.max(indices[d] ?? 0, 0), n - 1)))).join(',');
}

/** The binning factor the server applies so `shape` fits `maxPixels` (same loop as reader.py). */
export function binningFor(shape: readonly number[], maxPixels: number | undefined): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!maxPixels || n <= maxPixels || shape.length === 0) return 1;
  let b = Math.max(1, Math.floor((n / maxPixels) ** (1 / shape.length)));
  while (shape.reduce((a, d) => a * Math.ceil(d / b), 1) > maxPixels) b++;
  return b;
}
