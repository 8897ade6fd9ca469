/**
 * The LIMA2 "legacy" steps: mask, background, flatfield, accumulation,
 * binning, flip, rotation, roi (statistics and profiles), output_dtype.
 *
 * Every step is a no-op at its defaults (no map, no ROI, 1 × 1 binning,
 * angle 0, no cast...), because the legacy pipeline chains all of them.
 * Parameter names are unique across steps (`background_clamp`,
 * `flat_normalize`, `flip_horizontal`...): a pipeline's parameters are one
 * flat namespace, the union of its steps' schemas.
 *
 * Buffer rules, pixel validity and `ctx.vars` conventions: see common.ts.
 *   ctx.vars.mask        Uint8Array of the current image, nonzero = invalid (PixelFlag codes)
 *   ctx.vars.background  Float32Array dark map subtracted by `background`
 */
import type { StepFactory } from '../types.js';
import { maskStep } from './mask.js';
import { backgroundStep } from './background.js';
import { flatfieldStep } from './flatfield.js';
import { accumulationStep } from './accumulation.js';
import { binningStep } from './binning.js';
import { flipStep, rotationStep } from './transform.js';
import { roiStep } from './roi.js';
import { outputDtypeStep } from './output-dtype.js';

export { maskStep, backgroundStep, flatfieldStep, accumulationStep, binningStep, flipStep, rotationStep, roiStep, outputDtypeStep };
export { flipPerm, rotationPerm } from './transform.js';
export { ROI_COLUMNS, type RoiDef } from './roi.js';
export { PixelFlag, OutputBuffer, withDefaults, findMap, type FieldProblem } from './common.js';
export { parseNpy, readNpy, encodeNpy, writeNpy, loadNpyCached, NpyError, type NpyArray } from './npy.js';

/** The legacy steps by name, in the order the legacy pipeline chains them (flip and rotation before roi). */
export const STEP_FACTORIES: Record<string, StepFactory> = Object.fromEntries(
  [maskStep, backgroundStep, flatfieldStep, accumulationStep, binningStep, flipStep, rotationStep, roiStep, outputDtypeStep].map(
    (f) => [f.name, f as unknown as StepFactory],
  ),
);

/** Register the legacy steps (e.g. `registerLegacySteps((f) => registry.register(f))`). */
export function registerLegacySteps(register: (factory: StepFactory) => void): void {
  for (const f of Object.values(STEP_FACTORIES)) register(f);
}
