/**
 * A built chain of steps: checks each step against the image it receives,
 * creates it, and runs a frame through all of them. Built once at prepare in
 * the main thread (to validate and to learn the result streams) and once in
 * every receiver worker (to process).
 */
import type { FieldError, TypedArray } from '../protocol/index.js';
import type { FrameContext, ImageSpec, Step, StepEnvironment, StreamDecl } from './types.js';
import type { StepRegistry } from './registry.js';
import type { StepSpec } from './pipelines.js';
import { DaqError } from '../protocol/errors.js';

export interface FrameResult {
  index: number;
  receiver: number;
  /** the processed image, unless vetoed */
  image: TypedArray | null;
  valid: boolean;
  veto: boolean;
  /** items emitted to per-frame streams, in emission order */
  items: { stream: string; item: TypedArray | Record<string, unknown> }[];
}

export class StepChain {
  private constructor(
    readonly steps: Step[],
    /** the image the first step hands on (the input when there is no step) */
    readonly headOutput: ImageSpec,
    readonly output: ImageSpec,
    readonly streams: StreamDecl[],
    readonly statics: Record<string, TypedArray | Record<string, unknown>>,
  ) {}

  /**
   * Check then create every step. Field errors name `processing.<field>`;
   * when any step fails its check, nothing is created and the errors return.
   */
  static build(
    specs: StepSpec[],
    input: ImageSpec,
    env: StepEnvironment,
    registry: StepRegistry,
  ): { chain: StepChain | null; errors: FieldError[] } {
    const errors: FieldError[] = [];
    const steps: Step[] = [];
    const streams: StreamDecl[] = [];
    const statics: Record<string, TypedArray | Record<string, unknown>> = {};
    let spec = input;
    let head: ImageSpec | null = null;
    for (const s of specs) {
      const factory = registry.get(s.name);
      const problems = factory.check?.(s.params, spec, env) ?? [];
      if (problems.length) {
        errors.push(...problems.map((p) => ({ field: `processing.${p.field}`, message: `${p.message} (step ${s.name})` })));
        break; // later steps would check against an image this one cannot produce
      }
      let built;
      try {
        built = factory.create(s.params, spec, env);
      } catch (err) {
        // a step that names the parameters it cannot honour (sizes beyond memory...) gets them named
        if (err instanceof DaqError && err.type === 'ParameterError' && err.fields?.length) {
          errors.push(...err.fields.map((f) => ({ field: `processing.${f.field}`, message: `${f.message} (step ${s.name})` })));
        } else errors.push({ field: `processing`, message: `step ${s.name} could not be set up: ${(err as Error).message}` });
        break;
      }
      for (const d of built.streams) {
        if (d.name === 'frame' || streams.some((x) => x.name === d.name)) {
          errors.push({ field: 'processing', message: `step ${s.name} declares stream ${JSON.stringify(d.name)} twice or over the frame stream` });
        }
      }
      steps.push(built.step);
      streams.push(...built.streams);
      Object.assign(statics, built.statics ?? {});
      spec = built.output;
      head ??= spec;
    }
    if (errors.length) return { chain: null, errors };
    return { chain: new StepChain(steps, head ?? input, spec, streams, statics), errors };
  }

  /** Run one frame through the steps from `from` on (`vars`: what earlier steps left, when they ran elsewhere). */
  run(index: number, receiver: number, image: TypedArray, valid: boolean, from = 0, vars?: Record<string, unknown>): FrameResult {
    const items: FrameResult['items'] = [];
    const declared = new Set(this.streams.filter((s) => s.cadence === 'frame').map((s) => s.name));
    const ctx: FrameContext = {
      index,
      receiver,
      valid,
      image,
      vars: new Map(Object.entries(vars ?? {})),
      veto: false,
      emit(stream, item) {
        if (!declared.has(stream)) throw new Error(`a step emitted to undeclared stream ${JSON.stringify(stream)}`);
        items.push({ stream, item });
      },
    };
    for (let k = from; k < this.steps.length; k++) this.steps[k].process(ctx);
    return { index, receiver, image: ctx.veto ? null : ctx.image, valid, veto: ctx.veto, items };
  }

  /** Run every step's `drain` in order; items go to `emit` (only `end` streams). */
  async drain(emit: (stream: string, item: TypedArray | Record<string, unknown>) => void): Promise<void> {
    const declared = new Set(this.streams.filter((s) => s.cadence === 'end').map((s) => s.name));
    const checked = (stream: string, item: TypedArray | Record<string, unknown>): void => {
      if (!declared.has(stream)) throw new Error(`a step emitted to undeclared end stream ${JSON.stringify(stream)}`);
      emit(stream, item);
    };
    for (const step of this.steps) await step.drain?.(checked);
  }

  /** Partial results of accumulated streams, from every step that has them; `final` flushes the steps first. */
  partials(final = false): Record<string, TypedArray> {
    if (final) for (const step of this.steps) step.finish?.();
    const out: Record<string, TypedArray> = {};
    for (const step of this.steps) Object.assign(out, step.partial?.() ?? {});
    return out;
  }
}
