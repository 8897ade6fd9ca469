/**
 * Axis ticks of LiveImage (detector pixels, ring values): "nice" numbers, 1, 2 or 5 × 10^k apart.
 * Free of DOM (unit tested in Node).
 */

/** About `target` nicely spaced values covering [lo, hi] (only those inside it). */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo) || target < 1) return [];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.ceil(lo / step);
  for (let k = first; k * step <= hi + step * 1e-9; k++) {
    out.push(+(k * step).toPrecision(12)); // 0.30000000000000004 → 0.3
    if (out.length > 1000) break;
  }
  return out;
}

/** Tick label: integers as they are, else as few decimals as the step needs. */
export function tickLabel(v: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9));
  return v.toFixed(decimals);
}
