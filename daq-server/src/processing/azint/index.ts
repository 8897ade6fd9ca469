/**
 * daqlab's azimuthal-integration engine (pyFAI "ng" semantics, CSR
 * engine): integrator, sigma clipping, background interpolation, and the
 * processing steps `azimuthal_integration` and `sigma_clip`.
 */
export * from './units.js';
export { centreArray, deltaArray, type RadialBase } from './positions.js';
export { makeAxis, linspace, type Axis } from './axis.js';
export { PixelTable, buildTable1d, buildTable2d, type Csr, type EntryList, type TableInput } from './table.js';
export { staticCorrections, dummyTest, isDummy, type CorrectionOptions, type DummyTest, type FrameValidity, type StaticCorrections } from './corrections.js';
export { Integrator, type IntegratorOptions, type IntegrateOptions, type IntegrationResult, type SplitMethod, type ErrorModel } from './integrator.js';
export { SigmaClipper, PixelState, type SigmaClipOptions, type SigmaClipResult } from './sigma-clip.js';
export { interpolateBackground } from './interpolate.js';
export { azimuthalIntegrationStep, sigmaClipStep, azintSteps, type AzimuthalIntegrationParams, type SigmaClipParams } from './steps.js';
export { integrationProperties, resolveSetup, checkParams, envMaps, integratorSetup, type IntegrationParams, type IntegrationSetup, type PoniObject } from './params.js';
