/**
 * A step scan's plot in the main area, opened from the DAQ panel's scan list: a ScanPlot of its
 * plotselect (counters against the scanned motor), and for a mesh a Map2D under it. The same
 * views as in a notebook, on page-only models (monitor.ts `localModel`), no kernel needed.
 */
import { Widget } from '@lumino/widgets';
import type { DOMWidgetView } from '@jupyter-widgets/base';
import { Map2DModel, Map2DView, ScanPlotModel, ScanPlotView } from '@daqlab/widgets';
import { localModel, mount as mountView, type ModelClass, type ViewClass } from './monitor.js';

/** What the scan list shows of a step scan: `ascan samy 0 1 10 0.1 · 12:03:04 · 11/11 points`. */
export function stepScanLabel(info: Record<string, unknown>, points: number, created: string): string {
  const start = typeof info.start_time === 'string' ? info.start_time : created;
  const time = new Date(start);
  const when = Number.isNaN(time.getTime()) ? '' : time.toLocaleTimeString();
  const n = typeof info.npoints === 'number' ? `${points}/${info.npoints}` : String(points);
  return `${String(info.title ?? info.type ?? 'step scan')} · ${when} · ${n} points`;
}

let counter = 0;

export class StepScanPlot extends Widget {
  private views: DOMWidgetView[] = [];

  constructor(serverUrl: string, token: string, scan: string, title: string, mesh: boolean) {
    super();
    this.id = `daqlab-scanplot-${++counter}`;
    this.addClass('daqlab-monitor');
    this.addClass('daqlab-scanplot-panel');
    this.title.label = title;
    this.title.caption = `${title} (${scan})`;
    this.title.closable = true;
    this.node.style.overflow = 'auto';
    const common = { server_url: serverUrl, token, scan, follow: false };
    const add = (Model: unknown, View: unknown) => {
      const box = document.createElement('div');
      this.node.append(box);
      this.views.push(mountView(View as ViewClass, localModel(Model as ModelClass, common), box));
    };
    add(ScanPlotModel, ScanPlotView);
    if (mesh) add(Map2DModel, Map2DView);
  }

  override dispose(): void {
    for (const v of this.views) v.remove();
    this.views = [];
    super.dispose();
  }
}
