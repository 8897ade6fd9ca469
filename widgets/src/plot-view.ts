/**
 * The scaffolding of a view drawing one Plotly chart (ScanPlot, MCA): a summary in the toolbar, the plot in the
 * stage at the model's height, and redraws at most every `redrawMs`, never two at once, whenever data marked it dirty.
 */
import { DaqView, el } from './daqview.js';


export abstract class PlotView extends DaqView {
  protected plot!: HTMLDivElement;
  protected summary!: HTMLSpanElement;
  /** set when something changed that the next redraw shows */
  protected dirty = false;
  private drawing = false;
  /** the model's attributes whose change redraws (`change:height` is always one) */
  protected abstract readonly redrawAttributes: string;
  /** the shortest time between two redraws, ms */
  protected readonly redrawMs: number = 250;

  protected build(): void {
    this.summary = el('span', 'daqlab-chart-summary', '');
    this.plot = el('div', 'daqlab-chart-plot');
    this.toolbar.append(this.summary);
    this.stage.append(this.plot);
    this.stage.style.height = `${this.model.get('height')}px`;
    this.listenTo(this.model, [this.redrawAttributes, 'change:height'].filter(Boolean).join(' '), () => {
      this.stage.style.height = `${this.model.get('height')}px`;
      this.dirty = true;
    });
    this.timers.push(setInterval(() => this.tick(), this.redrawMs));
  }

  private tick(): void {
    this.onTick();
    if (!this.dirty || this.drawing) return;
    this.dirty = false;
    this.drawing = true;
    void this.draw().finally(() => (this.drawing = false));
  }

  /** Called every `redrawMs`, redraw or not (e.g. to report a value to Python at that pace). */
  protected onTick(): void {}

  /** Draws the chart from what the view holds now. */
  protected abstract draw(): Promise<void>;
}
