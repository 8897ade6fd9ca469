/** The step types daqlab ships (plugins add more through the registry). */
import type { StepFactory } from './types.js';
import { STEP_FACTORIES as LEGACY_STEPS } from './steps/index.js';
import { STEP_FACTORIES as JUNGFRAU_STEPS } from './jungfrau/index.js';
import { smxSteps } from './smx/index.js';
import { xpcsStep } from './xpcs/index.js';
import { azintSteps } from './azint/index.js';
import { tomoStep } from './tomo/index.js';

export function builtinSteps(): StepFactory[] {
  return [
    ...(Object.values(JUNGFRAU_STEPS) as unknown as StepFactory[]),
    ...(Object.values(LEGACY_STEPS) as unknown as StepFactory[]),
    ...(azintSteps() as unknown as StepFactory[]),
    ...(smxSteps() as unknown as StepFactory[]),
    xpcsStep as unknown as StepFactory,
    tomoStep as unknown as StepFactory,
  ];
}
