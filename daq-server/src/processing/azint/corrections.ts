/**
 * Static per-pixel corrections, computed once per integrator: the
 * normalization of pyFAI's preprocessing and which pixels can never be
 * valid.
 *
 *   norm = normalization_factor · flat · polarization · solid_angle
 *
 * (stored as float32, like pyFAI's preprocessed array). A pixel is
 * statically invalid when it is masked (mask ≠ 0), its flat is non-finite
 * or equals the dummy (pyFAI checks the flat against the dummy — 0 when no
 * dummy is given), its dark is non-finite, or its norm is 0 or non-finite.
 * Per frame a pixel is also invalid when its value is non-finite or equals
 * the dummy (within delta_dummy); see `frameValidity`.
 */
import type { PyFAIGeometry } from '../../detectors/geometry/pyfai-geometry.js';

export type NumericArray = ArrayLike<number>;

export interface CorrectionOptions {
  /** non-zero = masked */
  mask?: NumericArray | null;
  dark?: NumericArray | null;
  flat?: NumericArray | null;
  /** correct for the solid angle (cos³α) — default true */
  correctSolidAngle?: boolean;
  /** polarization factor in [−1, 1], null/undefined = no correction */
  polarizationFactor?: number | null;
  /** angle (rad) of the polarization plane from the detector's horizontal axis */
  polarizationOffset?: number;
  normalizationFactor?: number;
  /** dummy value (invalid pixel marker) and its tolerance */
  dummy?: number | null;
  deltaDummy?: number | null;
}

/** Dummy test with pyFAI's float32 arithmetic: invalid when |f32(v) − dummy| ≤ delta (or == when delta is 0). */
export interface DummyTest {
  /** float32 dummy, or null when no dummy is checked */
  dummy: number | null;
  /** float32 tolerance (0 = exact comparison) */
  delta: number;
}

/**
 * What makes a pixel invalid in one frame besides its value being
 * non-finite: the dummy test and, optionally, a per-frame mask (the
 * project's `ctx.vars.mask`, non-zero = invalid).
 */
export interface FrameValidity extends DummyTest {
  mask: Uint8Array | null;
}

export function dummyTest(dummy: number | null | undefined, deltaDummy: number | null | undefined): DummyTest {
  if (dummy === null || dummy === undefined) return { dummy: null, delta: 0 };
  return { dummy: Math.fround(dummy), delta: deltaDummy ? Math.fround(deltaDummy) : 0 };
}

/** True when `v` is the dummy under pyFAI's test (v is compared as float32). */
export function isDummy(v: number, t: DummyTest): boolean {
  if (t.dummy === null) return false;
  const v32 = Math.fround(v);
  return t.delta === 0 ? v32 === t.dummy : !(Math.abs(Math.fround(v32 - t.dummy)) > t.delta);
}

export interface StaticCorrections {
  /** per-pixel normalization (float32); 0 where the pixel is statically invalid */
  norm: Float32Array;
  /** per-pixel static validity (1 = usable) */
  usable: Uint8Array;
  /** dark as float32 (null when none) */
  dark: Float32Array | null;
}

function checkSize(name: string, a: NumericArray | null | undefined, size: number): void {
  if (a && a.length !== size) throw new RangeError(`${name} has ${a.length} pixels, the image ${size}`);
}

export function staticCorrections(geometry: PyFAIGeometry, o: CorrectionOptions): StaticCorrections {
  const size = geometry.count;
  checkSize('mask', o.mask, size);
  checkSize('dark', o.dark, size);
  checkSize('flat', o.flat, size);
  const nf = o.normalizationFactor ?? 1;
  const sa = o.correctSolidAngle === false ? null : geometry.solidAngle();
  const pf = o.polarizationFactor;
  const pol = pf === null || pf === undefined ? null : geometry.polarization(pf, o.polarizationOffset ?? 0);
  // pyFAI compares the flat with the dummy, or with 0 ("empty") when no dummy is given
  const flatTest = o.dummy === null || o.dummy === undefined ? { dummy: 0, delta: 0 } : dummyTest(o.dummy, o.deltaDummy);
  const norm = new Float32Array(size);
  const usable = new Uint8Array(size);
  const dark = o.dark ? Float32Array.from(o.dark) : null;
  const { mask, flat } = o;
  for (let k = 0; k < size; k++) {
    if (mask && mask[k] !== 0) continue;
    if (dark && !Number.isFinite(dark[k])) continue;
    let n = nf;
    if (flat) {
      const f = flat[k];
      if (!Number.isFinite(f) || isDummy(f, flatTest)) continue;
      n *= f;
    }
    if (pol) n *= pol[k];
    if (sa) n *= sa[k];
    const n32 = Math.fround(n);
    if (!Number.isFinite(n32) || n32 === 0) continue;
    norm[k] = n32;
    usable[k] = 1;
  }
  return { norm, usable, dark };
}
