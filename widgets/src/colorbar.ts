/**
 * A vertical colour bar: the colormap (high values at the top) and labelled values beside it, shared by
 * LiveImage and Volume3D so that every picture says what its colours mean.
 */
import { el } from './daqview.js';
import { formatValue } from './colormap.js';

export class ColorBar {
  readonly el = el('div', 'daqlab-li-colorbar');
  private readonly canvas = el('canvas');
  private readonly labels = el('div', 'daqlab-li-barlabels');

  constructor() {
    this.canvas.width = 1;
    this.canvas.height = 256;
    this.el.append(this.canvas, this.labels);
  }

  /** The 256-entry RGBA table of the colormap (index 0: lowest value). */
  setLut(rgba: Uint8Array): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(1, 256);
    for (let i = 0; i < 256; i++) img.data.set(rgba.subarray((255 - i) * 4, (255 - i) * 4 + 4), i * 4);
    ctx.putImageData(img, 0, 0);
  }

  /** Values from the top of the bar down, spread evenly along it. */
  setLabels(values: number[], unit = ''): void {
    this.labels.replaceChildren(...values.map((v) => el('span', '', `${formatValue(v)}${unit ? ` ${unit}` : ''}`)));
  }
}
