/** @daqlab/widgets: widget views, the browser protocol client, colour mapping. */
export * from './version.js';
export * from './client.js';
export * from './colormap.js';
export * from './settings.js';
export * from './series.js';
export { LiveImageModel, LiveImageView } from './liveimage/view.js';
export { HitRateModel, HitRateView } from './hitrate.js';
export { ProgressModel, ProgressView } from './progress.js';
export { ProfileModel, ProfileView } from './profile.js';
export { RoiStatsModel, RoiStatsView } from './roistats.js';
export { loadPlotly, PLOT_CONFIG, type PlotlyLike } from './plot.js';
export { JobsBoard } from './jobsboard.js';
export { SlurmJobsModel, SlurmJobsView } from './slurmjobs.js';
export { Volume3DModel, Volume3DView } from './volume3d.js';
export { ScanPlotModel, ScanPlotView } from './scanplot.js';
export { Map2DModel, Map2DView } from './map2d.js';
export { McaModel, McaView } from './mca.js';
export * from './scan-data.js';
