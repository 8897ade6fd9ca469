/**
 * Reconstruction filters of filtered back-projection, as frequency responses
 * on an FFT of size n (rows zero-padded to n ≥ 2·width).
 *
 * The ramp is the FFT of Kak & Slaney's band-limited spatial kernel
 * (h(0) = 1/4, h(odd k) = −1/(πk)², h(even k) = 0, unit pixel spacing)
 * rather than a sampled |f|: its DC term is right (no cupping, no offset).
 * Windows apply on top, with f in cycles per pixel (|f| ≤ 1/2):
 * Shepp–Logan sinc(f) = sin(πf)/(πf), Hann (1 + cos 2πf)/2.
 */
import { FFT } from './fft.js';

export const FILTERS = ['ramp', 'shepp-logan', 'hann'] as const;
export type FilterName = (typeof FILTERS)[number];

export function filterResponse(name: FilterName, n: number): Float64Array {
  const re = new Float64Array(n), im = new Float64Array(n);
  re[0] = 0.25;
  for (let k = 1; k < n / 2; k += 2) {
    const v = -1 / (Math.PI * Math.PI * k * k);
    re[k] = v;
    re[n - k] = v;
  }
  new FFT(n).transform(re, im, false);
  const H = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const f = Math.min(k, n - k) / n;
    H[k] = re[k] * windowAt(name, f);
  }
  return H;
}

/** The window of a filter at frequency f (cycles per pixel, 0 ≤ f ≤ 1/2). */
export function windowAt(name: FilterName, f: number): number {
  switch (name) {
    case 'ramp':
      return 1;
    case 'shepp-logan':
      return f === 0 ? 1 : Math.sin(Math.PI * f) / (Math.PI * f);
    case 'hann':
      return 0.5 * (1 + Math.cos(2 * Math.PI * f));
  }
}
