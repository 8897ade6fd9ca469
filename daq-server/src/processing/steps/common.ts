/**
 * Shared helpers of the processing steps: parameter defaults, the pixel
 * validity rule, maps from `env.maps` or `.npy` files, and output buffers.
 *
 * Buffer rules (every step here follows them):
 *  - A step never writes into the image it receives (it may be a receiver's
 *    pool frame or another step's buffer); it writes into its own buffer.
 *  - The image a step leaves in `ctx.image` stays valid until that step's
 *    next `process()`. The step reuses it from frame to frame, unless it has
 *    been transferred away (the receiver worker transfers the final image of
 *    the chain to the main thread, which detaches it): then the step
 *    allocates a new one (`OutputBuffer`). So intermediate images cost no
 *    allocation, and a consumer that keeps an image past the frame must copy
 *    or transfer it.
 *  - Items given to `ctx.emit` are always fresh arrays/objects the step never
 *    touches again (the store keeps them by reference).
 *  - Values in `ctx.vars` belong to the step that set them and are read-only
 *    for the others (valid for the current frame only); a step that changes
 *    the mask sets its own merged buffer.
 *
 * Pixel validity: a pixel is invalid when it is NaN (float images), equals
 * the image's `dummy` (when it has one), or is nonzero in `ctx.vars.mask`
 * (a Uint8Array of the image's size). Steps that change the image grid
 * (binning, flip, rotation) transform the mask with the image.
 */
import { TYPED_ARRAY, dtypeOf, type DType, type TypedArray } from '../../protocol/index.js';
import type { JsonSchema } from '../../detectors/plugin.js';
import type { FrameContext, ImageSpec, StepEnvironment } from '../types.js';
import { loadNpyCached, parseNpyCached } from './npy.js';

export interface FieldProblem {
  field: string;
  message: string;
}

/** Values of `ctx.vars.mask` (nonzero = invalid); the codes tell why. */
export const PixelFlag = {
  OK: 0,
  /** Jungfrau gain code 10 */
  INVALID_GAIN: 1,
  /** Jungfrau saturated (0xC000, or ADC at maximum in G2) */
  SATURATED: 2,
  /** gap between modules (assembled image) */
  GAP: 3,
  /** no pedestal/gain for the pixel's gain stage */
  UNCALIBRATED: 4,
  /** masked by the mask step's map */
  MASKED: 5,
  /** a derived pixel (bin) without any valid input pixel */
  NO_DATA: 6,
} as const;

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

/** Fill missing top-level parameters from the schema's defaults (the server validates with Ajv, which does the same). */
export function withDefaults<P>(schema: JsonSchema, params: Record<string, unknown> | undefined): P {
  const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = { ...(params ?? {}) };
  for (const [k, s] of Object.entries(props)) {
    if (out[k] === undefined && s.default !== undefined) out[k] = structuredClone(s.default);
  }
  return out as P;
}

/** A schema for a step's parameters: object, no extra keys. */
export function paramsSchema(title: string, properties: Record<string, JsonSchema>): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title,
    type: 'object',
    additionalProperties: false,
    properties,
  };
}

/** A `*_file` parameter: an absolute path under a data root, read by the server at prepare (files/). */
export const fileParam = (description: string): JsonSchema => ({
  type: ['string', 'null'],
  default: null,
  description: `${description} (absolute path under one of the server's data roots)`,
});

/** Problems of an image that must be 2D. */
export function need2D(input: ImageSpec, step: string): FieldProblem[] {
  if (input.shape.length !== 2) {
    return [{ field: 'input', message: `${step} works on 2D images, got shape [${input.shape.join(', ')}] ${input.dtype}` }];
  }
  return [];
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `ctx.vars.mask` when it is a Uint8Array of `n` pixels, else null. */
export function currentMask(ctx: FrameContext, n: number): Uint8Array | null {
  const m = ctx.vars.get('mask');
  return m instanceof Uint8Array && m.length === n ? m : null;
}

/** The typed array constructor of a dtype. */
export const ctor = (d: DType) => TYPED_ARRAY[d];

/**
 * An output image buffer reused from frame to frame, replaced when it has
 * been transferred to another thread (detached: length 0).
 */
export class OutputBuffer<T extends TypedArray> {
  private buf: T | null = null;
  constructor(
    private readonly make: () => T,
    private readonly init?: (b: T) => void,
  ) {}

  get(): T {
    let b = this.buf;
    if (b === null || b.buffer.byteLength === 0) {
      b = this.make();
      this.init?.(b);
      this.buf = b;
    }
    return b;
  }
}

export function outputBuffer(dtype: DType, n: number, init?: (b: TypedArray) => void): OutputBuffer<TypedArray> {
  const C = TYPED_ARRAY[dtype];
  return new OutputBuffer<TypedArray>(() => new C(n), init);
}

/** A loaded map: where it came from, its shape and data. */
export interface LoadedMap {
  data: TypedArray;
  shape: number[];
  dtype: DType;
  /** `file x.npy` or `map "mask"` (for messages) */
  origin: string;
}

/**
 * A map from the file parameter (when given) or else from `env.maps[name]`.
 * Returns null when neither is there; throws an Error naming the file on a bad file.
 * In the server the file's bytes come from `env.files` (read at prepare, confined to the data roots).
 */
export function findMap(env: StepEnvironment, name: string, file: string | null | undefined): LoadedMap | null {
  if (file) {
    let npy;
    if (env.files) {
      const bytes = env.files[file];
      if (!bytes) throw new Error(`${file}: was not read by the server`);
      npy = parseNpyCached(bytes, file);
    } else npy = loadNpyCached(file);
    return { data: npy.data, shape: npy.shape, dtype: npy.dtype, origin: `file ${file}` };
  }
  const m = env.maps?.[name];
  if (!m) return null;
  return { data: m.data, shape: [...m.shape], dtype: m.dtype ?? dtypeOf(m.data), origin: `map ${JSON.stringify(name)}` };
}

/**
 * Check a map for a 2D image: loadable, same shape as the image. `required`:
 * a missing map is an error (else the step is a no-op without it).
 */
export function checkImageMap(
  env: StepEnvironment,
  input: ImageSpec,
  name: string,
  fileField: string,
  file: string | null | undefined,
  required: boolean,
): FieldProblem[] {
  let map: LoadedMap | null;
  try {
    map = findMap(env, name, file);
  } catch (err) {
    return [{ field: fileField, message: (err as Error).message }];
  }
  if (!map) return required ? [{ field: fileField, message: `no ${name} map: give ${fileField} (a .npy file) or a ${JSON.stringify(name)} map` }] : [];
  if (map.shape.length !== input.shape.length || map.shape.some((v, k) => v !== input.shape[k])) {
    return [{ field: fileField, message: `${map.origin} has shape [${map.shape.join(', ')}], the image is [${input.shape.join(', ')}]` }];
  }
  if (map.data.length !== size(input.shape)) {
    return [{ field: fileField, message: `${map.origin} has ${map.data.length} values for shape [${map.shape.join(', ')}]` }];
  }
  return [];
}

/** Float output dtype for an input: float64 stays float64, anything else becomes float32. */
export const floatOut = (d: DType): 'float32' | 'float64' => (d === 'float64' ? 'float64' : 'float32');

/** Value range of integer dtypes (for clamping casts). */
export const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
};
