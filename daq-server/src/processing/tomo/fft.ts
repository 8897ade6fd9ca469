/**
 * A small radix-2 FFT on split real/imaginary Float64Arrays, and the
 * two-for-one real transform that tomography filtering needs: two real rows
 * go in as the real and imaginary parts of one complex signal, and because
 * the filter's response is real and even, one forward and one inverse
 * transform filter both rows (a real-input FFT at half the cost of two).
 */

export class FFT {
  readonly n: number;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) throw new RangeError(`FFT size must be a power of two, got ${n}`);
    this.n = n;
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.rev = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  /** In place: X_k = Σ x_j e^{∓2πi jk/n} (forward: −; inverse: + and no 1/n scaling). */
  transform(re: Float64Array, im: Float64Array, inverse = false): void {
    const n = this.n, rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i];
        re[i] = re[j];
        re[j] = t;
        t = im[i];
        im[i] = im[j];
        im[j] = t;
      }
    }
    const sign = inverse ? 1 : -1;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1, step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0, t = 0; k < half; k++, t += step) {
          const wr = this.cos[t], wi = sign * this.sin[t];
          const a = start + k, b = a + half;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }
}

/**
 * Convolves rows of length `len` with a real, even filter given by its
 * frequency response `H` (length n = FFT size ≥ 2·len, zero padding avoids
 * wrap-around), two rows per transform. Scratch is allocated once.
 */
export class RowFilter {
  private readonly fft: FFT;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(
    readonly len: number,
    readonly H: Float64Array,
  ) {
    this.fft = new FFT(H.length);
    if (H.length < len) throw new RangeError(`filter length ${H.length} is shorter than the rows (${len})`);
    this.re = new Float64Array(H.length);
    this.im = new Float64Array(H.length);
  }

  /**
   * Filter rows a and b (b may be null) of `src` (offsets in elements) into
   * `dst` at the same offsets. src and dst may be the same array.
   */
  pair(src: Float32Array, a: number, b: number | null, dst: Float32Array): void {
    const { re, im, len, H } = this;
    const n = H.length;
    for (let i = 0; i < len; i++) re[i] = src[a + i];
    re.fill(0, len);
    if (b !== null) for (let i = 0; i < len; i++) im[i] = src[b + i];
    else im.fill(0, 0, len);
    im.fill(0, len);
    this.fft.transform(re, im, false);
    for (let k = 0; k < n; k++) {
      re[k] *= H[k];
      im[k] *= H[k];
    }
    this.fft.transform(re, im, true);
    const s = 1 / n;
    for (let i = 0; i < len; i++) dst[a + i] = re[i] * s;
    if (b !== null) for (let i = 0; i < len; i++) dst[b + i] = im[i] * s;
  }

  /** Filter `count` rows starting at element `offset`, `stride` elements apart (default: packed), in place. */
  rows(data: Float32Array, offset: number, count: number, stride = this.len): void {
    for (let r = 0; r < count; r += 2) {
      const a = offset + r * stride;
      this.pair(data, a, r + 1 < count ? a + stride : null, data);
    }
  }
}

export const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
