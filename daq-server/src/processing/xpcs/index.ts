/** XPCS processing: q-ring ROIs, the live multi-tau correlator (dense and sparse) and the `xpcs` step. */
export {
  MultiTauCorrelator,
  multiTauLags,
  multiTauMemoryBytes,
  type MultiTauOptions,
  type XpcsSnapshot,
  type XpcsMode,
  type XpcsNormalization,
  type IngestResult,
} from './multitau.js';
export { buildQRings, labelRings, equalRings, resolveImageGeometry, validPixels, MAX_RINGS, type QRings, type QRingParams, type PoniInput } from './qrings.js';
export { xpcsStep, XpcsStep, xpcsParams, XPCS_DEFAULTS, XPCS_SCHEMA, type XpcsParams } from './step.js';
