/**
 * Steps `jungfrau_correction` and `jungfrau_pedestal`.
 *
 * jungfrau_correction: raw [M, 512, 1024] uint16 → float32 energy (keV) or
 * photons, assembled [rows, cols] (2164 × 2068 for the 4M; gaps NaN or
 * `gap_value`; double pixels split) or not ([M, 512, 1024]). It leaves the
 * per-pixel flags (Uint8Array of the output grid: 0 ok, 1 invalid gain,
 * 2 saturated, 3 gap, 4 uncalibrated) in ctx.vars `mask` (nonzero =
 * invalid, for later steps) and `jungfrau_flags` (the same buffer).
 * With `modules`, the input holds only those modules (partial-frame
 * topology) and they are corrected into their place in a full-size output;
 * the other pixels are gap_value / flagged GAP.
 *
 * jungfrau_pedestal: accumulates dark frames (see pedestal.ts) and publishes
 * `pedestal_sum` (float64) and `pedestal_count` (uint32), both
 * [3, M, 512, 1024], as accumulated streams combined by sum across
 * receivers: pedestal = pedestal_sum / pedestal_count (`pedestalFromSums`),
 * exact whatever the number of receivers. The raw frame passes on unchanged.
 */
import { OutputBuffer, PixelFlag, paramsSchema, withDefaults, fileParam, type FieldProblem } from '../steps/common.js';
import type { ImageSpec, StepBuild, StepEnvironment, StepFactory } from '../types.js';
import { checkModules, checkRawInput, loadCalibration, resolveLayout } from './calibration.js';
import { JungfrauCorrector } from './correction.js';
import { PedestalAccumulator } from './pedestal.js';
import type { GainMode } from './decode.js';

export type CorrectionParams = {
  output: 'keV' | 'photons';
  photon_energy_kev: number | null;
  assemble: boolean;
  gain_mode: GainMode;
  invalid_value: number | null;
  gap_value: number | null;
  pedestal_file: string | null;
  gain_file: string | null;
  gain_hg_file: string | null;
  modules: number[] | null;
};

const modulesSchema = {
  type: ['array', 'null'],
  items: { type: 'integer', minimum: 0 },
  minItems: 1,
  default: null,
  description: 'Modules held by each raw frame, in order (partial-frame topology); null: all modules of the detector.',
};

const gainModeSchema = {
  enum: ['normal', 'high'],
  default: 'normal',
  description: 'normal: gains G0..G2, 0xC000 is saturated; high: high-gain mode, gains HG0..HG2.',
};

const correctionSchema = paramsSchema('jungfrau_correction', {
  output: { enum: ['keV', 'photons'], default: 'keV', description: 'Output unit: deposited energy in keV, or photons (energy / photon energy).' },
  photon_energy_kev: {
    type: ['number', 'null'],
    exclusiveMinimum: 0,
    default: null,
    description: 'Photon energy in keV for output = photons (default: the energy of the detector configuration).',
  },
  assemble: { type: 'boolean', default: true, description: 'Assemble the modules into the detector image (double pixels split, gaps); false: [modules, 512, 1024].' },
  gain_mode: gainModeSchema,
  invalid_value: {
    type: ['number', 'null'],
    default: null,
    description: 'Value of invalid (bad gain code), saturated and uncalibrated pixels; null: NaN.',
  },
  gap_value: { type: ['number', 'null'], default: null, description: 'Value of the gaps between modules in the assembled image; null: NaN.' },
  pedestal_file: fileParam('Pedestal .npy [3, modules, 512, 1024] ADU (G0, G1, G2); default: the pedestal map of the detector.'),
  gain_file: fileParam('Gain .npy [3 or 6, modules, 512, 1024] ADU/keV (G0, G1, G2[, HG0, HG1, HG2]); default: the gain map of the detector.'),
  gain_hg_file: fileParam('High-gain-mode gains .npy [3, modules, 512, 1024] ADU/keV (HG0, HG1, HG2), when the gain map has 3 stages.'),
  modules: modulesSchema,
});

function energyOf(p: CorrectionParams, env: StepEnvironment): number | null {
  if (p.photon_energy_kev !== null) return p.photon_energy_kev;
  const e = env.detector?.energy_kev;
  return typeof e === 'number' && e > 0 ? e : null;
}

function checkCorrection(p: CorrectionParams, input: ImageSpec, env: StepEnvironment): FieldProblem[] {
  const raw = checkRawInput(input, 'jungfrau_correction');
  if (raw.length) return raw;
  const layout = resolveLayout(env, input.shape[0]);
  const errors = checkModules(p.modules, layout, input.shape[0]);
  if (p.invalid_value !== null && p.gap_value !== null && p.invalid_value !== p.gap_value) {
    errors.push({ field: 'gap_value', message: `the image has one dummy value: give gap_value = invalid_value (${p.invalid_value}) or leave one of them null (NaN)` });
  }
  if (p.output === 'photons' && energyOf(p, env) === null) {
    errors.push({ field: 'photon_energy_kev', message: 'output "photons" needs the photon energy: give photon_energy_kev (the detector configuration has none)' });
  }
  errors.push(...loadCalibration(p, env, layout).errors);
  return errors;
}

export const jungfrauCorrectionStep: StepFactory<CorrectionParams> = {
  name: 'jungfrau_correction',
  description: 'Jungfrau raw words → energy (keV) or photons with per-pixel pedestals and gains of each gain stage, fused with module assembly; flags invalid and saturated pixels.',
  schema: correctionSchema,
  check(raw, input, env) {
    return checkCorrection(withDefaults<CorrectionParams>(correctionSchema, raw), input, env);
  },
  create(raw, input, env): StepBuild {
    const p = withDefaults<CorrectionParams>(correctionSchema, raw);
    const problems = checkCorrection(p, input, env);
    if (problems.length) throw new Error(problems.map((e) => `${e.field}: ${e.message}`).join('; '));
    const layout = resolveLayout(env, input.shape[0]);
    const { cal } = loadCalibration(p, env, layout);
    const corr = new JungfrauCorrector({
      layout,
      pedestal: cal!.pedestal,
      gain: cal!.gain,
      output: p.output,
      photonEnergyKeV: energyOf(p, env) ?? undefined,
      gainMode: p.gain_mode,
      invalidValue: p.invalid_value ?? NaN,
      gapValue: p.gap_value ?? NaN,
    });
    const modules = p.modules;
    const assembled = p.assemble;
    const n = assembled ? corr.imageSize : corr.rawSize;
    const gapValue = corr.gapValue;
    // with `modules`, pixels outside them are never written: start them as gaps
    const out = new OutputBuffer(
      () => new Float32Array(n),
      modules ? (b) => b.fill(gapValue) : undefined,
    );
    // a standalone buffer (not a view of the corrector's WebAssembly memory: a later step that
    // emitted or cloned it would copy that whole memory); with `modules`, other modules stay GAP
    const flags = new Uint8Array(n);
    if (modules) flags.fill(PixelFlag.GAP);
    const shape = assembled ? [...layout.imageShape] : [...layout.rawShape];
    const info = (env.detector?.info ?? {}) as Record<string, unknown>;
    const px = input.pixelSize ?? (Array.isArray(info.pixel_size) ? (info.pixel_size as [number, number]) : undefined);
    return {
      step: {
        process(ctx) {
          const rawFrame = ctx.image as Uint16Array;
          const o = out.get();
          if (modules) corr.correctModules(rawFrame, o, modules, flags);
          else if (assembled) corr.correct(rawFrame, o, flags);
          else corr.correctRaw(rawFrame, o, flags);
          ctx.vars.set('mask', flags);
          ctx.vars.set('jungfrau_flags', flags);
          ctx.image = o;
        },
        // partial-frame topology: receiver `part` of `parts` corrects modules m ≡ part (mod parts)
        // into the shared image; receiver 0 also writes the gaps
        processPart: assembled && !modules
          ? (input, shared, sharedFlags, part, parts) => {
              const mine = [...Array(layout.nModules).keys()].filter((m) => m % parts === part);
              if (mine.length) corr.correctModules(input as Uint16Array, shared as Float32Array, mine, sharedFlags);
              if (part === 0) corr.fillGaps(shared as Float32Array, sharedFlags);
            }
          : undefined,
      },
      output: {
        dtype: 'float32',
        shape,
        ...(px ? { pixelSize: [px[0], px[1]] as [number, number] } : {}),
        // NaN marks invalid pixels by itself; a numeric invalid/gap value is the image's dummy
        dummy: p.invalid_value ?? p.gap_value,
      },
      streams: [],
    };
  },
};

export type PedestalParams = { gain_mode: GainMode; modules: number[] | null };

const pedestalSchema = paramsSchema('jungfrau_pedestal', {
  gain_mode: gainModeSchema,
  modules: modulesSchema,
});

function checkPedestal(p: PedestalParams, input: ImageSpec, env: StepEnvironment): FieldProblem[] {
  const raw = checkRawInput(input, 'jungfrau_pedestal');
  if (raw.length) return raw;
  return checkModules(p.modules, resolveLayout(env, input.shape[0]), input.shape[0]);
}

export const jungfrauPedestalStep: StepFactory<PedestalParams> = {
  name: 'jungfrau_pedestal',
  description: 'Jungfrau pedestal mode: accumulate dark frames per pixel and gain stage; publishes pedestal_sum and pedestal_count (pedestal = sum / count).',
  schema: pedestalSchema,
  check(raw, input, env) {
    return checkPedestal(withDefaults<PedestalParams>(pedestalSchema, raw), input, env);
  },
  create(raw, input, env): StepBuild {
    const p = withDefaults<PedestalParams>(pedestalSchema, raw);
    const problems = checkPedestal(p, input, env);
    if (problems.length) throw new Error(problems.map((e) => `${e.field}: ${e.message}`).join('; '));
    const layout = resolveLayout(env, input.shape[0]);
    const acc = new PedestalAccumulator(layout.nModules * 512 * 1024, p.gain_mode);
    const shape = [3, ...layout.rawShape];
    const modules = p.modules ?? undefined;
    return {
      step: {
        process(ctx) {
          if (!ctx.valid) return; // incomplete frames (lost packets: zeros) would bias the pedestal
          acc.add(ctx.image as Uint16Array, modules);
        },
        partial() {
          return { pedestal_sum: acc.sum.slice(), pedestal_count: acc.count.slice() };
        },
      },
      output: input,
      streams: [
        {
          name: 'pedestal_sum',
          kind: 'array',
          dtype: 'float64',
          shape,
          cadence: 'accumulated',
          combine: 'sum',
          info: {
            units: 'ADU',
            axes: ['gain_stage', 'module', 'row', 'col'],
            description: 'sum of the ADC values of dark frames per gain stage (G0, G1, G2) and raw pixel; pedestal = pedestal_sum / pedestal_count',
          },
        },
        {
          name: 'pedestal_count',
          kind: 'array',
          dtype: 'uint32',
          shape,
          cadence: 'accumulated',
          combine: 'sum',
          info: {
            axes: ['gain_stage', 'module', 'row', 'col'],
            description: 'dark frames counted per gain stage and raw pixel (invalid and saturated words skipped)',
          },
        },
      ],
    };
  },
};
