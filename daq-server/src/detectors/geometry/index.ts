/** Detector geometry shared by the simulators and the processing pipelines. */
export * from './poni.js';
export * from './pyfai-geometry.js';
export * from './jungfrau-layout.js';
