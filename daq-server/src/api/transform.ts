/**
 * Per-view reduction of array items before they are sent: a region of
 * interest and sum-binning on the last two axes. Viewers ask for these so a
 * 4 Mpx frame can be watched at the resolution of the screen.
 */
import { DaqError, FRAME_STATS_SAMPLES, TYPED_ARRAY, dummyAbove, frameStats, product, type DType, type FrameStats, type TypedArray } from '../protocol/index.js';

export interface ViewSpec {
  /** [row0, col0, rows, cols] on the last two axes */
  roi: [number, number, number, number] | null;
  binning: number;
}

export interface ItemTransform {
  readonly identity: boolean;
  readonly dtype: DType;
  readonly shape: number[];
  apply(item: TypedArray): TypedArray;
}

const INT_LIMITS: Partial<Record<DType, [number, number]>> = { uint32: [0, 2 ** 32 - 1], int32: [-(2 ** 31), 2 ** 31 - 1] };

/** Integers are summed into 32 bits so binning cannot overflow; floats keep their type. */
export function binnedDType(dtype: DType): DType {
  switch (dtype) {
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return 'uint32';
    case 'int8':
    case 'int16':
    case 'int32':
      return 'int32';
    default:
      return dtype;
  }
}

/** Validate a view against a stream's item shape; ParameterError names the field. */
export function makeTransform(dtype: DType, shape: number[], view: ViewSpec): ItemTransform {
  const { roi, binning } = view;
  if (!Number.isInteger(binning) || binning < 1) {
    throw new DaqError('ParameterError', `binning: must be an integer ≥ 1, got ${JSON.stringify(binning)}`, [
      { field: 'binning', message: `must be an integer ≥ 1, got ${JSON.stringify(binning)}` },
    ]);
  }
  if (roi === null && binning === 1) {
    return { identity: true, dtype, shape, apply: (x) => x };
  }
  if (shape.length < 2) {
    throw new DaqError('ParameterError', 'roi/binning need items with at least 2 dimensions', [
      { field: roi ? 'roi' : 'binning', message: `items have shape ${JSON.stringify(shape)}; need ≥ 2 dimensions` },
    ]);
  }
  const rows = shape[shape.length - 2];
  const cols = shape[shape.length - 1];
  const planes = product(shape.slice(0, -2));
  const [r0, c0, nr, nc] = roi ?? [0, 0, rows, cols];
  const bad =
    roi !== null &&
    (roi.length !== 4 ||
      !roi.every((v) => Number.isInteger(v)) ||
      r0 < 0 ||
      c0 < 0 ||
      nr < 1 ||
      nc < 1 ||
      r0 + nr > rows ||
      c0 + nc > cols);
  if (bad) {
    const message = `must be [row0, col0, rows, cols] of integers inside the ${rows}×${cols} item, got ${JSON.stringify(roi)}`;
    throw new DaqError('ParameterError', `roi: ${message}`, [{ field: 'roi', message }]);
  }
  const outRows = Math.floor(nr / binning);
  const outCols = Math.floor(nc / binning);
  if (outRows < 1 || outCols < 1) {
    const message = `binning ${binning} is larger than the ${nr}×${nc} region`;
    throw new DaqError('ParameterError', `binning: ${message}`, [{ field: 'binning', message }]);
  }
  const outDType = binning === 1 ? dtype : binnedDType(dtype);
  const outShape = [...shape.slice(0, -2), outRows, outCols];
  const Out = TYPED_ARRAY[outDType];
  // Integer sums saturate at the type's limits instead of wrapping: a bin holding a gap pixel
  // (the dummy 2^32 − 1) stays the dummy, so viewers still see it as masked.
  const limits = binning > 1 ? INT_LIMITS[outDType] : undefined;
  let scratch: Float64Array | null = null;
  return {
    identity: false,
    dtype: outDType,
    shape: outShape,
    apply(item: TypedArray): TypedArray {
      const out = new Out(planes * outRows * outCols);
      if (binning === 1) {
        // a plain region: whole rows at a time (memcpy), not pixel by pixel
        for (let p = 0; p < planes; p++) {
          for (let r = 0; r < nr; r++) {
            const from = p * rows * cols + (r0 + r) * cols + c0;
            out.set(item.subarray(from, from + nc), (p * nr + r) * nc);
          }
        }
        return out;
      }
      const acc: TypedArray = limits ? (scratch ??= new Float64Array(out.length)).fill(0) : out;
      for (let p = 0; p < planes; p++) {
        const inBase = p * rows * cols;
        const outBase = p * outRows * outCols;
        for (let r = 0; r < outRows * binning; r++) {
          const inRow = inBase + (r0 + r) * cols + c0;
          const outRow = outBase + Math.floor(r / binning) * outCols;
          for (let c = 0; c < outCols * binning; c++) {
            acc[outRow + Math.floor(c / binning)] += item[inRow + c];
          }
        }
      }
      if (limits) {
        const [lo, hi] = limits;
        for (let i = 0; i < out.length; i++) out[i] = Math.min(hi, Math.max(lo, acc[i]));
      }
      return out;
    },
  };
}

/**
 * The whole items' statistics for the `frame_stats` header field, computed on the items as stored (before
 * the region and binning): the view of a region autoscales on the whole frame. Null when not asked.
 */
export function itemsFrameStats(items: readonly TypedArray[], dtype: DType, percentiles: [number, number] | null): (FrameStats | null)[] | null {
  if (!percentiles) return null;
  const scratch = new Float64Array(FRAME_STATS_SAMPLES);
  return items.map((x) => frameStats(x, percentiles, dummyAbove(dtype), scratch));
}
