/**
 * Powder calibrants: d-spacings of cubic lattices from their lattice
 * constant, d = a / √(h² + k² + l²), one ring per distinct h² + k² + l².
 *
 *  - CeO2, fluorite structure (Fm-3m), a = 5.4111 Å: face-centred
 *    reflections only (h, k, l all even or all odd): 111, 200, 220, 311, …
 *  - LaB6, simple cubic (Pm-3m), a = 4.1569 Å: every hkl: 100, 110, 111, 200, …
 */

export interface Calibrant {
  name: 'CeO2' | 'LaB6';
  /** lattice constant in Å */
  a: number;
  lattice: 'fcc' | 'primitive';
}

export const CALIBRANTS: Record<Calibrant['name'], Calibrant> = {
  CeO2: { name: 'CeO2', a: 5.4111, lattice: 'fcc' },
  LaB6: { name: 'LaB6', a: 4.1569, lattice: 'primitive' },
};

export interface Reflection {
  /** representative Miller indices (h ≥ k ≥ l ≥ 0) */
  hkl: [number, number, number];
  /** h² + k² + l² */
  n: number;
  /** d-spacing in Å */
  d: number;
}

/** Reflections with d ≥ dMin (Å), in decreasing d (increasing 2θ). */
export function reflections(calibrant: Calibrant, dMin: number): Reflection[] {
  const maxN = Math.floor((calibrant.a / dMin) ** 2);
  const byN = new Map<number, [number, number, number]>();
  const hMax = Math.floor(Math.sqrt(maxN));
  for (let h = 0; h <= hMax; h++) {
    for (let k = 0; k <= h; k++) {
      for (let l = 0; l <= k; l++) {
        const n = h * h + k * k + l * l;
        if (n === 0 || n > maxN) continue;
        if (calibrant.lattice === 'fcc') {
          const parity = (h & 1) + (k & 1) + (l & 1);
          if (parity !== 0 && parity !== 3) continue;
        }
        if (!byN.has(n)) byN.set(n, [h, k, l]);
      }
    }
  }
  return [...byN.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([n, hkl]) => ({ hkl, n, d: calibrant.a / Math.sqrt(n) }));
}
