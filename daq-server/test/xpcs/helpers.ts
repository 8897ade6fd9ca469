/** Shared helpers of the XPCS tests: deterministic random numbers and a brute-force multi-tau reference. */

import { rng } from '../rng.js';
export { rng };

/** Standard normal numbers (Box–Muller) from a uniform source. */
export function normals(u: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const a = 2 * Math.PI * u();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

/** Poisson sample of mean lam (inversion below 30, rounded normal above). */
export function poisson(lam: number, u: () => number, n: () => number): number {
  if (lam <= 0) return 0;
  if (lam > 30) return Math.max(0, Math.round(lam + Math.sqrt(lam) * n()));
  let k = 0, p = Math.exp(-lam), c = p;
  const x = u();
  while (x > c && k < 1000) {
    k++;
    p *= lam / k;
    c += p;
  }
  return k;
}

/**
 * Brute-force multi-tau g2 with per-pixel symmetric normalisation, from the
 * whole series at once: frames[t][k] (null = missing), labels[k] ring or −1.
 * Returns g2 [nRings, nTau] (NaN where no pair / no pixel).
 */
export function referenceG2(frames: (ArrayLike<number> | null)[], labels: ArrayLike<number>, nRings: number, m: number, levels: number, ringNorm = false): Float64Array {
  const pix: number[] = [];
  for (let k = 0; k < labels.length; k++) if (labels[k] >= 0) pix.push(k);
  let series: Float64Array[] = frames.map((f) => Float64Array.from(pix, (k) => (f ? Math.fround(f[k]) : 0)));
  let valid: boolean[] = frames.map((f) => f !== null);
  const nTau = m + (levels - 1) * (m / 2);
  const g2 = new Float64Array(nRings * nTau).fill(NaN);
  let base = 0;
  for (let l = 0; l < levels; l++) {
    const lags: number[] = [];
    for (let k = l === 0 ? 1 : m / 2 + 1; k <= m; k++) lags.push(k);
    const S = series.length;
    lags.forEach((k, i) => {
      let N = 0;
      for (let s = k; s < S; s++) if (valid[s] && valid[s - k]) N++;
      if (N === 0) return;
      const sum = new Float64Array(nRings), cnt = new Float64Array(nRings);
      const sG = new Float64Array(nRings), sP = new Float64Array(nRings), sF = new Float64Array(nRings);
      pix.forEach((k0, p) => {
        let G = 0, IP = 0, IF = 0;
        for (let s = k; s < S; s++) {
          if (!(valid[s] && valid[s - k])) continue;
          G += series[s - k][p] * series[s][p];
          IP += series[s - k][p];
          IF += series[s][p];
        }
        const r = labels[k0];
        sG[r] += G;
        sP[r] += IP;
        sF[r] += IF;
        if (IP > 0 && IF > 0) {
          sum[r] += (N * G) / (IP * IF);
          cnt[r]++;
        }
      });
      for (let r = 0; r < nRings; r++) {
        g2[r * nTau + base + i] = ringNorm ? (sP[r] * sF[r] > 0 ? (N * sG[r]) / (sP[r] * sF[r]) : NaN) : cnt[r] > 0 ? sum[r] / cnt[r] : NaN;
      }
    });
    base += lags.length;
    // coarse-grain
    const next: Float64Array[] = [];
    const nv: boolean[] = [];
    for (let s = 0; s + 1 < S; s += 2) {
      const ok = valid[s] && valid[s + 1];
      nv.push(ok);
      next.push(ok ? series[s].map((v, p) => Math.fround((v + series[s + 1][p]) * 0.5)) : new Float64Array(pix.length));
    }
    series = next;
    valid = nv;
  }
  return g2;
}

/** Least-squares line y = a + b·x. */
export function linearFit(x: number[], y: number[]): { a: number; b: number } {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n, my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}
