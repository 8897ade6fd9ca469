/** LIMA2 compatibility: a daqlab detector served as a LIMA2 system (the conductor's HTTP API). */
export { listenLima2, parseLima2Spec, LIMA2_DEFAULT_PORT, type Lima2Options, type Lima2Running } from './server.js';
export { Lima2Conductor, CONDUCTOR_API_VERSION } from './conductor.js';
export { fromLima2, toLima2, lima2Field, acquisitionParamsSchema, processingSchema, defaultsOf } from './params.js';
export { CLASSES, classDef } from './classes.js';
export { LIMA2_CODES, Lima2Error, toLima2Body } from './errors.js';
