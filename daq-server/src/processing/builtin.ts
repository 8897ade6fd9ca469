/** The step types daqlab ships (plugins add more through the registry). */
import type { StepFactory } from './types.js';
import { xpcsStep } from './xpcs/index.js';

export function builtinSteps(): StepFactory[] {
  return [xpcsStep as unknown as StepFactory];
}
