/**
 * The live monitor: a main-area panel with a LiveImage and, stacked under it,
 * any of the HitRate, Profile and RoiStats charts (one checkbox each) of the
 * newest scan (or a given one), no kernel needed. The
 * widget views run on models that live only in the browser (no comm): the
 * same views as in a notebook, their state simply never leaves the page.
 */
import { Widget } from '@lumino/widgets';
import type { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';
import {
  HitRateModel,
  HitRateView,
  LiveImageModel,
  LiveImageView,
  ProfileModel,
  ProfileView,
  RoiStatsModel,
  RoiStatsView,
} from '@daqlab/widgets';

export type ModelClass = new (attributes: Record<string, unknown>, options: Record<string, unknown>) => DOMWidgetModel;
export type ViewClass = new (options: { model: DOMWidgetModel }) => DOMWidgetView;

let counter = 0;

/** A model of `Base` that keeps its state in the page: no comm, so save_changes() sends nothing. */
export function localModel(Base: ModelClass, attributes: Record<string, unknown>): DOMWidgetModel {
  const Local = class extends (Base as unknown as new (a: Record<string, unknown>, o: Record<string, unknown>) => DOMWidgetModel) {
    override sync(): boolean {
      return false;
    }
  };
  const model = new Local({}, { model_id: `daqlab-monitor-${++counter}`, widget_manager: undefined });
  model.set(attributes);
  return model;
}

export function mount(View: ViewClass, model: DOMWidgetModel, host: HTMLElement): DOMWidgetView {
  const view = new View({ model });
  // ipywidgets marks a view whose model has no live comm as "disconnected" (a red icon); a page-only model
  // never had one, and is not broken: drop the mark and stop following the comm state
  view.stopListening(model, 'comm_live_update');
  view.luminoWidget.removeClass('jupyter-widgets-disconnected');
  view.render();
  host.replaceChildren(view.el);
  view.trigger('displayed');
  return view;
}

export type MonitorChart = 'hitrate' | 'profile' | 'roistats';

interface ChartKind {
  model: ModelClass;
  view: ViewClass;
  label: string;
  title: string;
  /** attributes beyond the address and scan: what the chart plots */
  attributes: Record<string, unknown>;
}

/** The charts, in the order they are stacked under the image. */
const CHARTS: Record<MonitorChart, ChartKind> = {
  hitrate: {
    model: HitRateModel as unknown as ModelClass,
    view: HitRateView as unknown as ViewClass,
    label: 'hit rate',
    title: 'peaks per frame and hit rate (smx pipeline)',
    attributes: {},
  },
  profile: {
    model: ProfileModel as unknown as ModelClass,
    view: ProfileView as unknown as ViewClass,
    label: 'profile',
    title: 'azimuthally integrated profile (azint pipeline)',
    attributes: {},
  },
  roistats: {
    model: RoiStatsModel as unknown as ModelClass,
    view: RoiStatsView as unknown as ViewClass,
    label: 'ROI stats',
    title: 'sum over the first ROI per frame (legacy pipeline with rois; the chart lets you pick the ROI and statistic)',
    attributes: { stream: 'roi_stats', roi: 0, statistic: 'sum' },
  },
};

export const MONITOR_CHARTS = Object.keys(CHARTS) as MonitorChart[];

export class LiveMonitor extends Widget {
  private image: DOMWidgetView | null = null;
  private charts = new Map<MonitorChart, { box: HTMLDivElement; view: DOMWidgetView }>();
  private chartsBox = document.createElement('div');

  /**
   * `scan` '' follows the newest scan; `serverUrl`/`token`: the address the views use (settings still win);
   * `charts`: the chart kind(s) shown at first (the checkboxes change them).
   */
  constructor(
    private readonly serverUrl: string,
    private readonly token: string,
    private readonly scan = '',
    charts: MonitorChart | readonly MonitorChart[] = 'hitrate',
  ) {
    super();
    this.id = `daqlab-monitor-${++counter}`;
    this.addClass('daqlab-monitor');
    this.title.label = scan ? `Live: ${scan.split(':').slice(0, 2).join(':')}` : 'Live monitor';
    this.title.caption = scan ? `daqlab live monitor of ${scan}` : 'daqlab live monitor: the newest scan';
    this.title.closable = true;
    // one kind or a list (the command's `charts` argument comes from JSON: checked here)
    const shown = new Set<MonitorChart>(Array.isArray(charts) ? charts : [charts as MonitorChart]);
    for (const kind of shown) {
      if (!MONITOR_CHARTS.includes(kind)) throw new Error(`charts: unknown monitor chart ${JSON.stringify(kind)}, expected one of ${MONITOR_CHARTS.join(', ')}`);
    }
    const bar = document.createElement('div');
    bar.className = 'daqlab-monitor-bar';
    const what = document.createElement('span');
    what.textContent = scan ? `scan ${scan}` : 'following the newest scan';
    const toggles = document.createElement('span');
    toggles.className = 'daqlab-monitor-toggles';
    for (const kind of MONITOR_CHARTS) {
      const label = document.createElement('label');
      label.className = 'daqlab-monitor-toggle';
      label.title = CHARTS[kind].title;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.dataset.chart = kind;
      box.checked = shown.has(kind);
      box.onchange = () => this.setChart(kind, box.checked);
      label.append(box, CHARTS[kind].label);
      toggles.append(label);
    }
    bar.append(what, toggles);
    const imageBox = document.createElement('div');
    imageBox.className = 'daqlab-monitor-image';
    this.chartsBox.className = 'daqlab-monitor-charts';
    this.node.append(bar, imageBox, this.chartsBox);
    const common = { server_url: serverUrl, token, scan, follow: !scan };
    this.image = mount(LiveImageView as unknown as ViewClass, localModel(LiveImageModel as unknown as ModelClass, { ...common, height: 420 }), imageBox);
    for (const kind of MONITOR_CHARTS) if (shown.has(kind)) this.setChart(kind, true);
  }

  /** The chart kinds shown, in stacking order. */
  get shownCharts(): MonitorChart[] {
    return MONITOR_CHARTS.filter((k) => this.charts.has(k));
  }

  /** Show or hide one chart; each has its own local model and connection. */
  setChart(kind: MonitorChart, show: boolean): void {
    const current = this.charts.get(kind);
    if (!show) {
      current?.view.remove();
      current?.box.remove();
      this.charts.delete(kind);
    } else if (!current) {
      const c = CHARTS[kind];
      const model = localModel(c.model, { server_url: this.serverUrl, token: this.token, scan: this.scan, follow: !this.scan, height: 260, ...c.attributes });
      const box = document.createElement('div');
      box.className = 'daqlab-monitor-chartbox';
      box.dataset.chart = kind;
      // keep the stacking order whatever order the boxes are ticked in
      const after = MONITOR_CHARTS.slice(MONITOR_CHARTS.indexOf(kind) + 1).find((k) => this.charts.has(k));
      this.chartsBox.insertBefore(box, after ? this.charts.get(after)!.box : null);
      this.charts.set(kind, { box, view: mount(c.view, model, box) });
    }
    const toggle = this.node.querySelector<HTMLInputElement>(`.daqlab-monitor-toggle input[data-chart="${kind}"]`);
    if (toggle) toggle.checked = this.charts.has(kind);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.image?.remove();
    for (const { view } of this.charts.values()) view.remove();
    this.charts.clear();
    super.dispose();
  }
}
