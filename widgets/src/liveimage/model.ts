/**
 * LiveImage's widget model (the traits Python syncs, kernel-bridge/daqlab/widgets.py) and the
 * small types the LiveImage modules share.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { ArrayItem } from '../client.js';
import { COLORMAPS, type Colormap } from '../colormap.js';
import { frontendSettings } from '../settings.js';
import { widgetIdentity } from '../version.js';
import type { ViewRequest } from '../viewspec.js';

export class LiveImageModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('LiveImage'),
      server_url: 'proxy/8765/ws',
      token: '',
      scan: '',
      stream: 'frame',
      follow: false,
      colormap: '',
      reverse: false,
      scale: 'linear',
      auto_range: true,
      vmin: 0,
      vmax: 1,
      paused: false,
      renderer: 'auto',
      max_size: 1024,
      compression: 'bslz4',
      height: 480,
      fps: 0,
      latency: 0,
      rois: [],
      index: -1,
      length: 0,
      show_mask: true,
      show_peaks: true,
      peaks_stream: 'peaks',
      view: [],
      auto_percentiles: [1, 99.5],
      auto_scope: 'frame',
      show_axes: true,
      rings: 'q',
      profile: 'off',
      profile_line: [],
      profile_width: 1,
    };
  }
}

/** The model as the modules read it (Backbone's get/set/save_changes). */
export type Model = DOMWidgetModel;

/** A region of interest: [row0, col0, rows, cols] in detector pixels. */
export type Roi = [number, number, number, number];

/** Where the drawn texture sits on the detector: its top-left pixel, binning, and binned size. */
export interface Placement {
  r0: number;
  c0: number;
  binning: number;
  rows: number;
  cols: number;
}

export function placementOf(view: ViewRequest, item: ArrayItem): Placement {
  return {
    r0: view.roi ? view.roi[0] : 0,
    c0: view.roi ? view.roi[1] : 0,
    binning: view.binning,
    rows: item.shape[item.shape.length - 2],
    cols: item.shape[item.shape.length - 1],
  };
}

/** Colormap of a model: its own, else the JupyterLab setting, else viridis. */
export function colormapOf(model: { get(name: string): unknown }): Colormap {
  const own = model.get('colormap') as string;
  if ((COLORMAPS as readonly string[]).includes(own)) return own as Colormap;
  const setting = frontendSettings.colormap;
  return (COLORMAPS as readonly string[]).includes(setting) ? (setting as Colormap) : 'viridis';
}
