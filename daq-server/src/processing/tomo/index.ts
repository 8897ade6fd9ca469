/** Tomography: FFT filters, centre of rotation, filtered back-projection and the `tomo` step. */
export { FFT, RowFilter, nextPow2 } from './fft.js';
export { FILTERS, filterResponse, windowAt, type FilterName } from './filters.js';
export { anglesOf, angleWeights, backprojectSlice, type Angles } from './backproject.js';
export { estimateCenter, type CorEstimate } from './cor.js';
export { SliceReconstructor, type ReconGeometry } from './recon.js';
export { reconstructVolume } from './reconstruct.js';
export { tomoStep, tomoMemory, TOMO_SCHEMA, type TomoParams } from './step.js';
export { TomoFrames, IMAGE_KEY, resolveTomoFrames, detectorTable, checkTomoFrames, type TomoScanTable, type TomoLayoutParams } from './scan.js';
