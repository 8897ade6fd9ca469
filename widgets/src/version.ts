/** The widget module name and version the Python side asks for (kernel-bridge/daqlab/widgets.py). */
export const MODULE_NAME = '@daqlab/widgets';
export const MODULE_VERSION = '0.1.0';
