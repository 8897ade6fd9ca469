/** The step types daqlab ships (plugins add more through the registry). */
import type { StepFactory } from './types.js';
import { xpcsStep } from './xpcs/index.js';
import { smxSteps } from './smx/index.js';

export function builtinSteps(): StepFactory[] {
  return [...(smxSteps() as unknown as StepFactory[]), xpcsStep as unknown as StepFactory];
}
