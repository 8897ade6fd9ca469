/**
 * The daqlab JupyterLab extension: registers the @daqlab/widgets module with
 * the widget manager (so `daqlab.widgets.LiveImage`, `HitRate`, `Profile`, `RoiStats`, `Progress`, `SlurmJobs` and `Volume3D`
 * render) and adds the "DAQ" and "Jobs" side panels and the HDF5/NeXus viewer. Settings (schema/plugin.json) can
 * override the server address.
 */
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  HitRateModel,
  HitRateView,
  LiveImageModel,
  LiveImageView,
  MODULE_NAME,
  MODULE_VERSION,
  ProfileModel,
  ProfileView,
  ProgressModel,
  ProgressView,
  RoiStatsModel,
  RoiStatsView,
  SlurmJobsModel,
  SlurmJobsView,
  Volume3DModel,
  Volume3DView,
  ScanPlotModel,
  ScanPlotView,
  Map2DModel,
  Map2DView,
  McaModel,
  McaView,
  updateFrontendSettings,
} from '@daqlab/widgets';
import { DaqPanel, type LabApp } from './panel.js';
import { ICommandPalette } from '@jupyterlab/apputils';
import { registerH5Viewer, type H5LabApp } from './h5viewer/plugin.js';
import { addOpenInViewer } from './h5viewer/open.js';
import { JobsPanel } from './jobs-panel.js';
import { LogbookPanel } from './logbook/panel.js';
import { addCommands } from './commands.js';
import { discoverServer } from './discover.js';

const PLUGIN_ID = '@daqlab/jupyterlab:plugin';

const plugin = {
  id: PLUGIN_ID,
  description: 'daqlab widgets and the DAQ side panel',
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  optional: [ISettingRegistry, ICommandPalette],
  activate(app: LabApp & H5LabApp, registry: IJupyterWidgetRegistry, settingRegistry: ISettingRegistry | null, palette: ICommandPalette | null): void {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: {
        LiveImageModel,
        LiveImageView,
        HitRateModel,
        HitRateView,
        ProgressModel,
        ProgressView,
        ProfileModel,
        ProfileView,
        RoiStatsModel,
        RoiStatsView,
        SlurmJobsModel,
        SlurmJobsView,
        Volume3DModel,
        Volume3DView,
        ScanPlotModel,
        ScanPlotView,
        Map2DModel,
        Map2DView,
        McaModel,
        McaView,
      },
    });
    void discoverServer(); // where the daqlab server is, as the Jupyter server knows it ($DAQLAB_URL)
    registerH5Viewer(app); // the HDF5/NeXus viewer (h5viewer/)
    addOpenInViewer(app.commands); // the DAQ panel's "view" button
    const panel = new DaqPanel(app);
    app.shell.add(panel, 'left', { rank: 650 });
    const jobsPanel = new JobsPanel();
    app.shell.add(jobsPanel, 'left', { rank: 651 });
    const logbookPanel = new LogbookPanel();
    app.shell.add(logbookPanel, 'left', { rank: 652 });
    addCommands(app, panel, palette);
    if (settingRegistry) {
      const apply = (s: ISettingRegistry.ISettings) => {
        // open LiveImages redraw when the default colormap changes
        updateFrontendSettings({
          serverUrl: String(s.get('serverUrl').composite ?? ''),
          token: String(s.get('token').composite ?? ''),
          colormap: String(s.get('colormap').composite ?? ''),
        });
        panel.settingsChanged();
        jobsPanel.settingsChanged();
        logbookPanel.settingsChanged();
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then((s) => {
          apply(s);
          s.changed.connect(apply);
        })
        .catch((e: unknown) => console.warn('daqlab: could not load settings', e));
    }
  },
};

export default plugin;
