/**
 * Processing steps of the integration engine.
 *
 * `azimuthal_integration` — pyFAI integrate1d_ng (and integrate2d_ng for a
 * cake) of every valid frame. Streams:
 *   - `intensity` float32 [npt] per frame;
 *   - `sigma` float32 [npt] per frame (standard error of the mean), when
 *     `error_model` is not null;
 *   - `cake` float32 [npt_azim, npt] per frame, when npt_azim > 0;
 *   - static `radial` float32 [npt] (bin centres, info.unit) and, with a
 *     cake, static `azimuthal` float32 [npt_azim] (χ bin centres, degrees).
 * The image passes through unchanged.
 *
 * `sigma_clip` — pyFAI sigma_clip_ng per frame (the background of Bragg
 * frames for sparsify / peak finding). Stream `background` float32
 * [2, npt] per frame (row 0: average, row 1: std, normalised units) and
 * static `background_radial` float32 [npt] (bin centres, info.unit), and
 * static `background_pixel_radius` / `background_normalization` float32
 * [rows, cols] (`radius_pixel` and `norm` below: the sparse file's `mask`
 * and `normalization`, pyFAI's densify inputs). It
 * leaves in `ctx.vars` (names of processing/smx/vars.ts; arrays valid for
 * this frame only, read-only for later steps):
 *   - `background_avg`, `background_std`: Float32Array [npt], per radial bin;
 *   - `radial`: Float32Array [npt], bin centres in `unit` (same every frame);
 *   - `radius_pixel`: Float32Array [rows·cols], each pixel's radial position
 *     in `unit`, NaN where never integrated (masked / unusable) — with the
 *     three above, `interpolateBackground` (or smx's) gives the background
 *     at every pixel;
 *   - `norm`: Float32Array [rows·cols], pyFAI's normalization of each pixel
 *     (normalization_factor · flat · polarization · solid angle; 0 where unusable);
 *   - `valid`: Uint8Array [rows·cols], 1 where the pixel was usable in this
 *     frame (not masked, finite, not the dummy, not in ctx.vars.mask);
 *   - `background_count`: Float64Array [npt], pixels kept per bin;
 *   - `azint`: the Integrator (for `interpolateBackground(integrator, …)`);
 *   - `background_on_demand`: true — the smx steps may evaluate the
 *     interpolated background at the pixels they test only (smx/ondemand.ts)
 *     instead of building the per-pixel arrays.
 * Normalised units are pyFAI's: (raw − dark) / norm. When a `dark` map is
 * present it is subtracted here; a later step comparing raw pixels with the
 * background must subtract it too.
 *
 * Both honour `ctx.vars.mask` (non-zero = invalid in this frame) and skip
 * incomplete frames (`ctx.valid` false: nothing emitted, no vars set).
 * Emitted arrays are fresh per frame (the receiver transfers them); all
 * per-pixel work buffers are allocated once.
 */
import type { JsonSchema } from '../../detectors/plugin.js';
import type { FrameContext, ImageSpec, StepBuild, StepEnvironment, StepFactory, StreamDecl } from '../types.js';
import { binProblems, boundedIntegrator } from './limits.js';
import { SigmaClipper } from './sigma-clip.js';
import { integrationProperties, integratorSetup, problemsOf, withDefaults, type IntegrationParams } from './params.js';

const schemaOf = (title: string, properties: Record<string, JsonSchema>): JsonSchema => ({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title,
  type: 'object',
  additionalProperties: false,
  properties,
});

/** `ctx.vars.mask` when it is a per-pixel Uint8Array of this image, else null. */
function frameMask(ctx: FrameContext, size: number): Uint8Array | null {
  const m = ctx.vars.get('mask');
  return m instanceof Uint8Array && m.length === size ? m : null;
}

// ------------------------------------------------------------------ azimuthal_integration

export interface AzimuthalIntegrationParams extends IntegrationParams {
  npt_azim: number;
}

const AZINT_SCHEMA = schemaOf('azimuthal_integration', {
  ...integrationProperties({ npt: 1000, unit: 'q_nm^-1', method: 'bbox', error_model: 'poisson' }),
  npt_azim: { type: 'integer', minimum: 0, maximum: 1 << 16, default: 0, description: 'Azimuthal bins of a 2D cake (stream `cake`); 0: no cake.' },
});

export const azimuthalIntegrationStep: StepFactory<AzimuthalIntegrationParams> = {
  name: 'azimuthal_integration',
  description: 'pyFAI azimuthal integration (integrate1d_ng, CSR semantics): I(q) or I(2θ) per frame with its error, optional 2D cake.',
  schema: AZINT_SCHEMA,
  check(raw, input: ImageSpec, env: StepEnvironment) {
    const p = withDefaults<AzimuthalIntegrationParams>(AZINT_SCHEMA, raw as unknown as Record<string, unknown>);
    const out = problemsOf(p, input, env);
    if (!(Number.isInteger(p.npt_azim) && p.npt_azim >= 0)) out.push({ field: 'npt_azim', message: `npt_azim must be an integer ≥ 0 (got ${p.npt_azim})` });
    else out.push(...binProblems(p.npt, p.npt_azim));
    return out;
  },
  create(raw, input: ImageSpec, env: StepEnvironment): StepBuild {
    const p = withDefaults<AzimuthalIntegrationParams>(AZINT_SCHEMA, raw as unknown as Record<string, unknown>);
    const { geometry, options } = integratorSetup(p, input, env);
    const one = boundedIntegrator(geometry, options);
    const cake = p.npt_azim > 0 ? boundedIntegrator(geometry, { ...options, nptAzim: p.npt_azim }) : null;
    const npt = p.npt;
    const withSigma = p.error_model !== null;
    const common = { unit: p.unit, method: p.method, error_model: p.error_model, pyfai: 'integrate1d_ng' };
    const streams: StreamDecl[] = [
      { name: 'radial', kind: 'array', dtype: 'float32', shape: [npt], cadence: 'static', info: { unit: p.unit, description: 'radial bin centres' } },
      { name: 'intensity', kind: 'array', dtype: 'float32', shape: [npt], cadence: 'frame', info: { ...common, axis: 'radial', description: 'azimuthally averaged intensity (normalised units), 0 in empty bins' } },
    ];
    if (withSigma) {
      streams.push({ name: 'sigma', kind: 'array', dtype: 'float32', shape: [npt], cadence: 'frame', info: { ...common, axis: 'radial', description: 'standard error of the mean of intensity (pyFAI sigma)' } });
    }
    const statics: StepBuild['statics'] = { radial: Float32Array.from(one.radial) };
    if (cake) {
      streams.push(
        { name: 'azimuthal', kind: 'array', dtype: 'float32', shape: [p.npt_azim], cadence: 'static', info: { unit: 'chi_deg', description: 'azimuthal (χ) bin centres of the cake' } },
        { name: 'cake', kind: 'array', dtype: 'float32', shape: [p.npt_azim, npt], cadence: 'frame', info: { ...common, pyfai: 'integrate2d_ng', axes: ['azimuthal', 'radial'], description: 'regrouped intensity I(χ, radial)' } },
      );
      statics.azimuthal = Float32Array.from(cake.azimuthal!);
    }
    const size = one.size;
    return {
      step: {
        process(ctx: FrameContext): void {
          if (!ctx.valid) return;
          const mask = frameMask(ctx, size);
          const r = one.integrate1d(ctx.image, { mask });
          ctx.emit('intensity', r.intensity.slice());
          if (withSigma) ctx.emit('sigma', r.sigma!.slice());
          if (cake) ctx.emit('cake', cake.integrate2d(ctx.image, { mask, errorModel: null }).intensity.slice());
        },
      },
      output: input,
      streams,
      statics,
    };
  },
};

// ------------------------------------------------------------------ sigma_clip

export interface SigmaClipParams extends IntegrationParams {
  cycle: number;
  cutoff_clip: number;
}

const CLIP_SCHEMA = schemaOf('sigma_clip', {
  ...integrationProperties({ npt: 1000, unit: 'q_nm^-1', method: 'no', error_model: 'poisson' }),
  cycle: { type: 'integer', minimum: 0, maximum: 100, default: 5, description: 'Clipping iterations (pyFAI max_iter / sparsify cycle).' },
  cutoff_clip: {
    type: 'number',
    minimum: 0,
    default: 0,
    description: 'Minimum cut in std units; the cut is max(cutoff_clip, Chauvenet √(2·ln(n/√(2π)))). 0: Chauvenet alone (ESRF default).',
  },
});

export const sigmaClipStep: StepFactory<SigmaClipParams> = {
  name: 'sigma_clip',
  description: 'pyFAI sigma_clip_ng: background average and std per radial bin of each frame (for sparsify / peak finding).',
  schema: CLIP_SCHEMA,
  check(raw, input: ImageSpec, env: StepEnvironment) {
    const p = withDefaults<SigmaClipParams>(CLIP_SCHEMA, raw as unknown as Record<string, unknown>);
    const out = problemsOf(p, input, env);
    if (p.error_model === null) out.push({ field: 'error_model', message: 'sigma clipping needs an error model: poisson or azimuthal' });
    if (!(Number.isInteger(p.cycle) && p.cycle >= 0)) out.push({ field: 'cycle', message: `cycle must be an integer ≥ 0 (got ${p.cycle})` });
    if (!(Number.isFinite(p.cutoff_clip) && p.cutoff_clip >= 0)) out.push({ field: 'cutoff_clip', message: `cutoff_clip must be ≥ 0 (got ${p.cutoff_clip})` });
    out.push(...binProblems(p.npt, 0));
    return out;
  },
  create(raw, input: ImageSpec, env: StepEnvironment): StepBuild {
    const p = withDefaults<SigmaClipParams>(CLIP_SCHEMA, raw as unknown as Record<string, unknown>);
    if (p.error_model === null) throw new Error('error_model: sigma clipping needs poisson or azimuthal');
    const { geometry, options } = integratorSetup(p, input, env);
    const integ = boundedIntegrator(geometry, options);
    const clipper = new SigmaClipper(integ, { cycle: p.cycle, cutoff: p.cutoff_clip, errorModel: p.error_model });
    const npt = p.npt;
    const size = integ.size;
    const radial = Float32Array.from(integ.radial);
    const radius = integ.pixelRadial();
    const norm = integ.corrections.norm;
    const valid = new Uint8Array(size);
    const avg = new Float32Array(npt);
    const std = new Float32Array(npt);
    const streams: StreamDecl[] = [
      { name: 'background_radial', kind: 'array', dtype: 'float32', shape: [npt], cadence: 'static', info: { unit: p.unit, description: 'radial bin centres of the background' } },
      // the per-pixel maps pyFAI's sparse format needs to densify (its `mask` and `normalization`)
      { name: 'background_pixel_radius', kind: 'array', dtype: 'float32', shape: [...input.shape], cadence: 'static', info: { unit: p.unit, description: 'radial position of each pixel, NaN where never integrated (masked)' } },
      { name: 'background_normalization', kind: 'array', dtype: 'float32', shape: [...input.shape], cadence: 'static', info: { description: 'normalization of each pixel (flat · polarization · solid angle …; 0 where unusable): raw = normalised · this' } },
      {
        name: 'background',
        kind: 'array',
        dtype: 'float32',
        shape: [2, npt],
        cadence: 'frame',
        info: {
          unit: p.unit,
          rows: ['background_avg', 'background_std'],
          error_model: p.error_model,
          cycle: p.cycle,
          cutoff_clip: p.cutoff_clip,
          pyfai: 'sigma_clip_ng',
          description: 'sigma-clipped background per radial bin (normalised units): average and standard deviation',
        },
      },
    ];
    return {
      step: {
        process(ctx: FrameContext): void {
          if (!ctx.valid) return;
          const mask = frameMask(ctx, size);
          const r = clipper.clipWith(ctx.image, mask, valid, false);
          avg.set(r.average);
          std.set(r.std);
          const item = new Float32Array(2 * npt);
          item.set(avg, 0);
          item.set(std, npt);
          ctx.emit('background', item);
          ctx.vars.set('background_avg', avg);
          ctx.vars.set('background_std', std);
          ctx.vars.set('background_count', r.count);
          ctx.vars.set('radial', radial);
          ctx.vars.set('radius_pixel', radius);
          ctx.vars.set('norm', norm);
          ctx.vars.set('valid', valid);
          ctx.vars.set('azint', integ);
          ctx.vars.set('background_on_demand', true);
        },
      },
      output: input,
      streams,
      // copies: `norm` may be a view of the engine's WebAssembly memory (a message would clone all of it)
      statics: { background_radial: radial, background_pixel_radius: radius.slice(), background_normalization: Float32Array.from(norm) },
    };
  },
};

/** The steps of this engine, for the registry. */
export const azintSteps = (): StepFactory[] => [azimuthalIntegrationStep as unknown as StepFactory, sigmaClipStep as unknown as StepFactory];
