/** @daqlab/widgets: widget views, the browser protocol client, colour mapping. */
export * from './version.js';
export * from './client.js';
export * from './colormap.js';
export * from './settings.js';
export { LiveImageModel, LiveImageView } from './liveimage.js';
