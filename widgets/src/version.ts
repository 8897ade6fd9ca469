/** The widget module name and version the Python side asks for (kernel-bridge/daqlab/widgets.py). */
export const MODULE_NAME = '@daqlab/widgets';
export const MODULE_VERSION = '0.1.0';

/** The model/view names and module of widget `name` (`<name>Model`, `<name>View`), as every model's defaults start. */
export function widgetIdentity(name: string) {
  return {
    _model_name: `${name}Model`,
    _view_name: `${name}View`,
    _model_module: MODULE_NAME,
    _view_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION,
    _view_module_version: MODULE_VERSION,
  };
}
