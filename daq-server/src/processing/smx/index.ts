/** Serial-crystallography reduction (ESRF LIMA2 smx / pyFAI sparsify and peakfinder): kernels, steps, vars contract. */
export * from './vars.js';
export { interpolateBackground, densify, type DensifyOptions, type NumArray } from './background.js';
export { Sparsifier, sparsify, type PixelInputs, type SparsifyParams, type SparseFrame } from './sparsify.js';
export { PeakFinder, findPeaks, isHit, type PeakParams, type PeakList } from './peaks.js';
export { SumImage, combineSum } from './accumulate.js';
export { sparsifyStep, peakfinderStep, accumulateCorrectedStep, smxSteps, f32 } from './steps.js';
