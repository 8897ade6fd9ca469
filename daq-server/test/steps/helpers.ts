/** Running steps outside the receivers: validate params (defaults), check, create, process frames. */
import { validate } from '../../src/control/validate.js';
import type { TypedArray } from '../../src/protocol/index.js';
import type { FrameContext, ImageSpec, StepBuild, StepEnvironment, StepFactory } from '../../src/processing/types.js';

export const emptyEnv = (maps: StepEnvironment['maps'] = {}, detector: Record<string, unknown> = {}): StepEnvironment => ({ detector, maps });

export function map2d(data: TypedArray, shape: number[]): StepEnvironment['maps'][string] {
  const dtype = data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64' : data instanceof Uint8Array ? 'uint8' : data instanceof Uint16Array ? 'uint16' : data instanceof Int32Array ? 'int32' : 'uint32';
  return { dtype, shape, data };
}

/** Params validated against the factory's schema with Ajv (defaults filled), as the server does. */
export function params<P>(factory: StepFactory<P>, p: Record<string, unknown> = {}): P {
  return validate<P>(factory.schema, structuredClone(p), factory.name);
}

export interface Emitted {
  stream: string;
  item: TypedArray | Record<string, unknown>;
  index: number;
}

export class Harness {
  readonly emitted: Emitted[] = [];
  constructor(readonly build: StepBuild) {}

  /** Run one frame; returns the context after the step (image, vars, veto). */
  run(image: TypedArray, index = 0, opts: { valid?: boolean; receiver?: number; vars?: Map<string, unknown> } = {}): FrameContext {
    const declared = new Set(this.build.streams.filter((s) => s.cadence === 'frame').map((s) => s.name));
    const emitted = this.emitted;
    const ctx: FrameContext = {
      index,
      receiver: opts.receiver ?? 0,
      valid: opts.valid ?? true,
      image,
      vars: opts.vars ?? new Map(),
      veto: false,
      emit(stream, item) {
        if (!declared.has(stream)) throw new Error(`undeclared stream ${stream}`);
        emitted.push({ stream, item, index });
      },
    };
    this.build.step.process(ctx);
    return ctx;
  }

  items(stream: string): (TypedArray | Record<string, unknown>)[] {
    return this.emitted.filter((e) => e.stream === stream).map((e) => e.item);
  }
}

/** validate → check (must pass) → create. */
export function make<P>(factory: StepFactory<P>, p: Record<string, unknown>, input: ImageSpec, env: StepEnvironment = emptyEnv()): Harness {
  const v = params(factory, p);
  const problems = factory.check?.(v, input, env) ?? [];
  if (problems.length) throw new Error(`check failed: ${JSON.stringify(problems)}`);
  return new Harness(factory.create(v, input, env));
}

/** The check() problems for params. */
export function problems<P>(factory: StepFactory<P>, p: Record<string, unknown>, input: ImageSpec, env: StepEnvironment = emptyEnv()) {
  return factory.check?.(params(factory, p), input, env) ?? [];
}

export const spec = (shape: number[], dtype: ImageSpec['dtype'] = 'float32', extra: Partial<ImageSpec> = {}): ImageSpec => ({ dtype, shape, ...extra });

export function ramp(n: number, f: (k: number) => number = (k) => k): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = f(k);
  return a;
}

/** Element-wise equality that treats NaN as equal. */
export function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k], y = b[k];
    if (!(x === y || (Number.isNaN(x) && Number.isNaN(y)))) return false;
  }
  return true;
}
