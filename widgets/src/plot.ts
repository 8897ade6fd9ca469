/**
 * plotly.js for the chart widgets, loaded once on first use: the dynamic import
 * makes one chunk of the extension's bundle that every chart view shares (and a
 * notebook without charts never loads it).
 */
export interface PlotlyLike {
  react(el: HTMLElement, data: unknown[], layout: Record<string, unknown>, config?: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
  /** the chart as a `data:` URL */
  toImage(el: HTMLElement, options: { format: 'png'; width?: number; height?: number }): Promise<string>;
}

let loading: Promise<PlotlyLike> | null = null;

export function loadPlotly(): Promise<PlotlyLike> {
  loading ??= import('plotly.js-dist-min').then((m: { default?: PlotlyLike } & PlotlyLike) => m.default ?? m);
  return loading;
}

let revision = 0;

/**
 * Layout defaults shared by the charts (compact, transparent, theme-neutral). A new
 * `datarevision` each call: the views grow their arrays in place, which Plotly.react
 * would otherwise take for unchanged data.
 */
export function baseLayout(height: number): Record<string, unknown> {
  return {
    height,
    datarevision: ++revision,
    margin: { l: 56, r: 56, t: 10, b: 40 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { size: 11 },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
    uirevision: 'keep', // user zoom survives live updates
  };
}

export const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d'] };
