/** The step types daqlab ships (plugins add more through the registry). */
import type { StepFactory } from './types.js';

export function builtinSteps(): StepFactory[] {
  return [];
}
