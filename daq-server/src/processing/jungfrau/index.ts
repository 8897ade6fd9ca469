/**
 * PSI Jungfrau processing: decoding raw gain-switching words, correction
 * to energy/photons fused with module assembly, pedestal accumulation, and
 * the two steps built on them (jungfrau_correction, jungfrau_pedestal).
 *
 * ctx.vars left by jungfrau_correction:
 *   mask            Uint8Array of the output grid, nonzero = invalid
 *                   (1 invalid gain code, 2 saturated, 3 gap, 4 uncalibrated)
 *   jungfrau_flags  the same buffer (meaningful codes, straight from the correction)
 */
import type { StepFactory } from '../types.js';
import { jungfrauCorrectionStep, jungfrauPedestalStep } from './steps.js';

export { JF_ADC_MASK, JF_ADC_MAX, JF_SATURATED_WORD, JF_STAGE_OF_CODE, decodeRaw, wordFlag, type GainMode } from './decode.js';
export { JungfrauCorrector, correctionTables, type CorrectorOptions } from './correction.js';
export { PedestalAccumulator, pedestalFromSums } from './pedestal.js';
export { loadCalibration, resolveLayout, checkRawInput, type Calibration, type CalibrationParams } from './calibration.js';
export { jungfrauCorrectionStep, jungfrauPedestalStep, type CorrectionParams, type PedestalParams } from './steps.js';

/** The Jungfrau steps by name. */
export const STEP_FACTORIES: Record<string, StepFactory> = {
  [jungfrauCorrectionStep.name]: jungfrauCorrectionStep as unknown as StepFactory,
  [jungfrauPedestalStep.name]: jungfrauPedestalStep as unknown as StepFactory,
};

/** Register the Jungfrau steps (e.g. `registerJungfrauSteps((f) => registry.register(f))`). */
export function registerJungfrauSteps(register: (factory: StepFactory) => void): void {
  for (const f of Object.values(STEP_FACTORIES)) register(f);
}
