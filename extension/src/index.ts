/**
 * The daqlab JupyterLab extension: registers the @daqlab/widgets module with
 * the widget manager (so `daqlab.widgets.LiveImage`, `HitRate`, `Profile`, `RoiStats` and `Progress` render) and adds the
 * "DAQ" side panel. Settings (schema/plugin.json) can override the server address.
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
  frontendSettings,
} from '@daqlab/widgets';
import { DaqPanel, type LabApp } from './panel.js';
import { ICommandPalette } from '@jupyterlab/apputils';
import { addCommands } from './commands.js';

const PLUGIN_ID = '@daqlab/jupyterlab:plugin';

const plugin = {
  id: PLUGIN_ID,
  description: 'daqlab widgets and the DAQ side panel',
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  optional: [ISettingRegistry, ICommandPalette],
  activate(app: LabApp, registry: IJupyterWidgetRegistry, settingRegistry: ISettingRegistry | null, palette: ICommandPalette | null): void {
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
      },
    });
    const panel = new DaqPanel(app);
    app.shell.add(panel, 'left', { rank: 650 });
    addCommands(app, panel, palette);
    if (settingRegistry) {
      const apply = (s: ISettingRegistry.ISettings) => {
        frontendSettings.serverUrl = String(s.get('serverUrl').composite ?? '');
        frontendSettings.token = String(s.get('token').composite ?? '');
        frontendSettings.colormap = String(s.get('colormap').composite ?? '');
        panel.settingsChanged();
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
