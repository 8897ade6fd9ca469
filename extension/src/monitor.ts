/**
 * The live monitor: a main-area panel with a LiveImage and a HitRate or
 * Profile chart of the newest scan (or a given one), no kernel needed. The
 * widget views run on models that live only in the browser (no comm): the
 * same views as in a notebook, their state simply never leaves the page.
 */
import { Widget } from '@lumino/widgets';
import type { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';
import { HitRateModel, HitRateView, LiveImageModel, LiveImageView, ProfileModel, ProfileView } from '@daqlab/widgets';

type ModelClass = new (attributes: Record<string, unknown>, options: Record<string, unknown>) => DOMWidgetModel;
type ViewClass = new (options: { model: DOMWidgetModel }) => DOMWidgetView;

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

function mount(View: ViewClass, model: DOMWidgetModel, host: HTMLElement): DOMWidgetView {
  const view = new View({ model });
  view.render();
  host.replaceChildren(view.el);
  view.trigger('displayed');
  return view;
}

export type MonitorChart = 'hitrate' | 'profile';

const CHARTS: Record<MonitorChart, { model: ModelClass; view: ViewClass; label: string }> = {
  hitrate: { model: HitRateModel as unknown as ModelClass, view: HitRateView as unknown as ViewClass, label: 'hit rate (smx)' },
  profile: { model: ProfileModel as unknown as ModelClass, view: ProfileView as unknown as ViewClass, label: 'profile (azint)' },
};

export class LiveMonitor extends Widget {
  private image: DOMWidgetView | null = null;
  private chart: DOMWidgetView | null = null;
  private chartBox = document.createElement('div');

  /** `scan` '' follows the newest scan; `serverUrl`/`token`: the address the views use (settings still win). */
  constructor(
    private readonly serverUrl: string,
    private readonly token: string,
    private readonly scan = '',
    chart: MonitorChart = 'hitrate',
  ) {
    super();
    this.id = `daqlab-monitor-${++counter}`;
    this.addClass('daqlab-monitor');
    this.title.label = scan ? `Live: ${scan.split(':').slice(0, 2).join(':')}` : 'Live monitor';
    this.title.caption = scan ? `daqlab live monitor of ${scan}` : 'daqlab live monitor: the newest scan';
    this.title.closable = true;
    const bar = document.createElement('div');
    bar.className = 'daqlab-monitor-bar';
    const select = document.createElement('select');
    select.className = 'daqlab-monitor-chart';
    for (const [value, { label }] of Object.entries(CHARTS)) select.append(new Option(label, value));
    select.value = chart;
    select.onchange = () => this.showChart(select.value as MonitorChart);
    const what = document.createElement('span');
    what.textContent = scan ? `scan ${scan}` : 'following the newest scan';
    bar.append(what, select);
    const imageBox = document.createElement('div');
    imageBox.className = 'daqlab-monitor-image';
    this.chartBox.className = 'daqlab-monitor-chartbox';
    this.node.append(bar, imageBox, this.chartBox);
    const common = { server_url: serverUrl, token, scan, follow: !scan };
    this.image = mount(LiveImageView as unknown as ViewClass, localModel(LiveImageModel as unknown as ModelClass, { ...common, height: 420 }), imageBox);
    this.showChart(chart);
  }

  private showChart(kind: MonitorChart): void {
    this.chart?.remove();
    const c = CHARTS[kind];
    const model = localModel(c.model, { server_url: this.serverUrl, token: this.token, scan: this.scan, follow: !this.scan, height: 260 });
    this.chart = mount(c.view, model, this.chartBox);
    this.chartBox.dataset.chart = kind;
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.image?.remove();
    this.chart?.remove();
    super.dispose();
  }
}
