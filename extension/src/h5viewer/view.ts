/**
 * The viewer's DOM: a tree (lazy), a header with the selected entity's shape/type/links,
 * controls (mode, one slider + number box per non-displayed dimension, colour map and
 * scale), the display (plotly line, canvas image with a colour bar and the value under the
 * cursor, value table, scalar) and the attribute table. It renders ViewerController's state
 * and rebuilds only what changed, so a slider being dragged is never replaced.
 */
import { Widget } from '@lumino/widgets';
import { COLORMAPS, SCALES, formatValue, lutBytes, loadPlotly, PLOT_CONFIG, type Colormap, type Scale } from '@daqlab/widgets';
import { ViewerController, type Display, type TreeNode } from './controller.js';
import { axisLabel, colorize, gapThreshold, type Mode } from './plan.js';
import type { JupyterH5Provider } from './jupyter-provider.js';
import type { DataProvider } from './provider.js';
import type { Attr, EntityMeta } from './types.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

const shapeText = (shape: number[] | null | undefined) => (shape == null ? 'null' : shape.length ? shape.join(' × ') : 'scalar');

function attrValueText(a: Attr): string {
  if (a.error) return `⚠ ${a.error}`;
  if (a.truncated) return `[${shapeText(a.shape ?? [])} ${a.dtype ?? ''} values]`;
  return typeof a.value === 'string' ? a.value : JSON.stringify(a.value);
}

export class H5ViewerWidget extends Widget {
  readonly controller: ViewerController;
  private treeBox = el('div', 'daqlab-h5-tree');
  private header = el('div', 'daqlab-h5-header');
  private controls = el('div', 'daqlab-h5-controls');
  private displayBox = el('div', 'daqlab-h5-display');
  private attrsBox = el('div', 'daqlab-h5-attrs');
  private errorBox = el('div', 'daqlab-h5-error');
  private controlsKey = '';
  private renderedData: unknown = null;
  private renderedSelected: EntityMeta | null = null;
  private renderedTree = -1;
  private renderedAttrs: Attr[] | null = null;
  private colormap: Colormap = 'viridis';
  private scale: Scale = 'linear';
  private started = false;

  constructor(readonly provider: DataProvider) {
    super();
    this.addClass('daqlab-h5');
    this.title.label = provider.file.split('/').pop() ?? provider.file;
    const main = el('div', 'daqlab-h5-main');
    main.append(this.header, this.errorBox, this.controls, this.displayBox, el('h4', '', 'Attributes'), this.attrsBox);
    this.node.append(this.treeBox, main);
    this.controller = new ViewerController(provider);
    this.controller.onChange(() => this.render());
  }

  protected override onAfterAttach(): void {
    if (this.started) return;
    this.started = true;
    void this.controller.open();
  }

  private render(): void {
    const s = this.controller.state;
    if (s.treeVersion !== this.renderedTree) {
      this.renderedTree = s.treeVersion;
      this.treeBox.replaceChildren(this.treeRow(s.tree, 0));
    }
    this.errorBox.textContent = s.error ?? '';
    if (s.selected !== this.renderedSelected) {
      this.renderedSelected = s.selected;
      this.renderHeader(s.selected);
    }
    if (s.attrs !== this.renderedAttrs) {
      this.renderedAttrs = s.attrs;
      this.renderAttrs(s.attrs);
    }
    this.renderDisplay(s.display);
    const bytes = (this.provider as Partial<JupyterH5Provider>).bytesReceived;
    if (bytes !== undefined) this.node.dataset.bytesReceived = String(bytes);
  }

  // ---- tree -------------------------------------------------------------------------

  private treeRow(node: TreeNode, depth: number): HTMLElement {
    const box = el('div', 'daqlab-h5-treeitem');
    const row = el('div', 'daqlab-h5-node');
    row.dataset.path = node.path;
    row.style.paddingLeft = `${depth * 12 + 4}px`;
    const c = node.child;
    const isGroup = !c || c.kind === 'group';
    const caret = el('span', 'daqlab-h5-caret', isGroup ? (node.expanded ? '▾' : '▸') : ' ');
    caret.onclick = (ev) => {
      ev.stopPropagation();
      void this.controller.toggle(node.path);
    };
    const name = el('span', 'daqlab-h5-name', node.name);
    let info = '';
    if (c) {
      if (c.kind === 'dataset') info = `${shapeText(c.shape)} ${c.dtype ?? ''}${c.virtual ? ' VDS' : ''}`;
      else if (c.kind === 'group') info = c.nx_class ?? '';
      else if (c.kind === 'missing' || c.kind === 'forbidden') info = c.kind;
      if (c.link === 'soft') info += ` → ${c.target}`;
      if (c.link === 'external') info += ` → ${c.file}:${c.target}`;
      row.dataset.kind = c.kind;
      row.dataset.link = c.link;
      if (c.error) row.title = c.error;
    }
    row.append(caret, name, el('span', 'daqlab-h5-info', info));
    if (this.controller.state.selected?.path === node.path) row.classList.add('daqlab-h5-selected');
    row.onclick = () => {
      if (isGroup && !node.expanded) void this.controller.toggle(node.path);
      void this.controller.select(node.path);
    };
    box.append(row);
    if (node.loading) box.append(el('div', 'daqlab-h5-loading', 'loading…'));
    if (node.error) box.append(el('div', 'daqlab-h5-error', node.error));
    if (node.expanded) for (const child of node.children ?? []) box.append(this.treeRow(child, depth + 1));
    return box;
  }

  // ---- header and attributes --------------------------------------------------------

  private renderHeader(m: EntityMeta | null): void {
    this.header.replaceChildren();
    if (!m) return;
    const title = el('div', 'daqlab-h5-path', m.path);
    const facts: string[] = [m.kind];
    if (m.nx_class) facts.push(m.nx_class);
    if (m.kind === 'dataset') facts.push(shapeText(m.shape), m.dtype ?? '');
    if (m.chunks) facts.push(`chunks ${m.chunks.join('×')}`);
    if (m.filters?.length) facts.push(m.filters.join(', '));
    if (m.link === 'soft') facts.push(`soft link → ${m.target}`);
    if (m.link === 'external') facts.push(`external link → ${m.file}:${m.target}`);
    if (m.vds) facts.push(`virtual dataset over ${m.vds.count} mapping(s): ${[...new Set(m.vds.sources.map((s) => s.file))].slice(0, 4).join(', ')}`);
    this.header.append(title, el('div', 'daqlab-h5-facts', facts.filter(Boolean).join(' · ')));
  }

  private renderAttrs(attrs: Attr[]): void {
    const table = el('table', 'daqlab-h5-attrtable');
    for (const a of attrs) {
      const tr = el('tr');
      tr.append(el('td', 'daqlab-h5-attrname', a.name), el('td', 'daqlab-h5-attrvalue', attrValueText(a)));
      table.append(tr);
    }
    this.attrsBox.replaceChildren(attrs.length ? table : el('div', 'daqlab-h5-empty', 'no attributes'));
    if (attrs.some((a) => a.truncated)) {
      const more = el('button', 'daqlab-h5-allattrs', 'show all values');
      more.onclick = () => void this.controller.loadAllAttrs();
      this.attrsBox.append(more);
    }
  }

  // ---- controls ---------------------------------------------------------------------

  private renderControls(d: Display): void {
    const key = `${d.path}|${d.plan.mode}|${d.meta.shape?.join(',')}`;
    if (key === this.controlsKey) {
      // keep the DOM (a slider may be under the mouse): just sync the numbers
      for (const dim of d.plan.sliders) {
        for (const input of this.controls.querySelectorAll<HTMLInputElement>(`input[data-dim="${dim}"]`)) {
          if (document.activeElement !== input) input.value = String(d.indices[dim]);
        }
      }
      return;
    }
    this.controlsKey = key;
    this.controls.replaceChildren();
    if (d.plan.modes.length > 1) {
      const modes = el('div', 'daqlab-h5-modes');
      for (const m of d.plan.modes) {
        const b = el('button', 'daqlab-h5-mode', m);
        b.dataset.mode = m;
        if (m === d.plan.mode) b.classList.add('daqlab-h5-active');
        b.onclick = () => void this.controller.setMode(m as Mode);
        modes.append(b);
      }
      this.controls.append(modes);
    }
    const shape = d.meta.shape ?? [];
    for (const dim of d.plan.sliders) {
      const row = el('label', 'daqlab-h5-slider');
      const axis = d.plot?.axes?.[dim];
      row.append(el('span', 'daqlab-h5-dimname', `${axis?.name ?? `dim ${dim}`} [0…${shape[dim] - 1}]`));
      const range = el('input');
      range.type = 'range';
      const num = el('input');
      num.type = 'number';
      for (const i of [range, num]) {
        i.min = '0';
        i.max = String(shape[dim] - 1);
        i.step = '1';
        i.value = String(d.indices[dim]);
        i.dataset.dim = String(dim);
        i.oninput = () => void this.controller.setIndex(dim, Number(i.value));
      }
      row.append(range, num);
      this.controls.append(row);
    }
    if (d.plan.mode === 'image') {
      const cm = el('select', 'daqlab-h5-colormap');
      for (const c of COLORMAPS) cm.append(new Option(c, c, false, c === this.colormap));
      cm.onchange = () => {
        this.colormap = cm.value as Colormap;
        this.renderedData = null;
        this.render();
      };
      const sc = el('select', 'daqlab-h5-scale');
      for (const c of SCALES) sc.append(new Option(c, c, false, c === this.scale));
      sc.onchange = () => {
        this.scale = sc.value as Scale;
        this.renderedData = null;
        this.render();
      };
      this.controls.append(cm, sc);
    }
  }

  // ---- display ----------------------------------------------------------------------

  private renderDisplay(d: Display | null): void {
    if (!d) {
      this.controls.replaceChildren();
      this.controlsKey = '';
      this.displayBox.dataset.state = 'empty';
      return;
    }
    this.renderControls(d);
    this.displayBox.dataset.path = d.path;
    this.displayBox.dataset.mode = d.plan.mode;
    if (d.error) {
      this.displayBox.dataset.state = 'error';
      this.displayBox.replaceChildren(el('div', 'daqlab-h5-error', d.error));
      this.renderedData = null;
      return;
    }
    if (d.loading) {
      this.displayBox.dataset.state = 'loading';
      return; // keep the previous picture until the next arrives
    }
    const data = d.slice ?? d.values;
    if (data === this.renderedData) return;
    this.renderedData = data;
    this.displayBox.dataset.select = d.slice?.header.select ?? '';
    if (d.plan.mode === 'image' && d.slice) this.drawImage(d);
    else if (d.plan.mode === 'line' && d.slice) void this.drawLine(d);
    else this.drawValues(d);
    this.displayBox.dataset.state = 'ready';
  }

  private drawImage(d: Display): void {
    const { header, data } = d.slice!;
    const [rows, cols] = header.shape;
    let stage = this.displayBox.querySelector<HTMLDivElement>('.daqlab-h5-imagestage');
    if (!stage) {
      stage = el('div', 'daqlab-h5-imagestage');
      const canvas = el('canvas', 'daqlab-h5-image');
      const bar = el('div', 'daqlab-h5-colorbar');
      bar.append(el('canvas'), el('div', 'daqlab-h5-barlabels'));
      const footer = el('div', 'daqlab-h5-footer');
      stage.append(canvas, bar);
      this.displayBox.replaceChildren(stage, footer);
    }
    const canvas = stage.querySelector<HTMLCanvasElement>('canvas.daqlab-h5-image')!;
    const footer = this.displayBox.querySelector<HTMLDivElement>('.daqlab-h5-footer')!;
    canvas.width = cols;
    canvas.height = rows;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(cols, rows);
    const [vmin, vmax] = colorize(data, img.data, { colormap: this.colormap, scale: this.scale }, gapThreshold(header.source_dtype));
    ctx.putImageData(img, 0, 0);
    // colour bar: the table, top = vmax
    const barCanvas = stage.querySelector<HTMLCanvasElement>('.daqlab-h5-colorbar canvas')!;
    barCanvas.width = 1;
    barCanvas.height = 256;
    const lut = lutBytes(this.colormap);
    const bar = barCanvas.getContext('2d')!.createImageData(1, 256);
    for (let i = 0; i < 256; i++) bar.data.set(lut.subarray((255 - i) * 4, (255 - i) * 4 + 4), i * 4);
    barCanvas.getContext('2d')!.putImageData(bar, 0, 0);
    const labels = stage.querySelector<HTMLDivElement>('.daqlab-h5-barlabels')!;
    labels.replaceChildren(el('span', '', formatValue(vmax)), el('span', '', this.scale), el('span', '', formatValue(vmin)));
    const binned = header.binning > 1 ? ` · binned ${header.binning}× (${header.method}) from ${header.selected_shape.join('×')}` : '';
    const summary = `[${header.select}] ${rows}×${cols}${binned}`;
    footer.textContent = summary;
    canvas.onmousemove = (ev) => {
      const r = canvas.getBoundingClientRect();
      const col = Math.floor(((ev.clientX - r.left) / r.width) * cols);
      const row = Math.floor(((ev.clientY - r.top) / r.height) * rows);
      if (row < 0 || col < 0 || row >= rows || col >= cols) return;
      const b = header.binning;
      footer.textContent = `${summary} · (${row * b}, ${col * b}) = ${formatValue(data[row * cols + col])}`;
    };
  }

  private async drawLine(d: Display): Promise<void> {
    const { header, data } = d.slice!;
    let div = this.displayBox.querySelector<HTMLDivElement>('.daqlab-h5-plot');
    if (!div) {
      div = el('div', 'daqlab-h5-plot');
      this.displayBox.replaceChildren(div, el('div', 'daqlab-h5-footer'));
    }
    const footer = this.displayBox.querySelector<HTMLDivElement>('.daqlab-h5-footer')!;
    const dim = d.plan.displayed[0];
    const axis = d.axis && d.axis.values.length === data.length ? d.axis : null;
    const x = axis ? Array.from(axis.values) : Array.from({ length: data.length }, (_, i) => i * header.binning);
    const sig = d.plot?.signal;
    const plotly = await loadPlotly();
    if (!this.node.contains(div)) return; // replaced meanwhile
    await plotly.react(
      div,
      [
        {
          type: 'scatter',
          mode: 'lines',
          x,
          y: Array.from(data),
          name: sig?.name ?? d.meta.name,
          line: { width: 1.5 },
          ...(d.errors?.length === data.length ? { error_y: { type: 'data', array: Array.from(d.errors), visible: true, thickness: 0.8, width: 0 } } : {}),
        },
      ],
      {
        height: 360,
        margin: { l: 64, r: 16, t: 10, b: 44 },
        paper_bgcolor: 'rgba(0,0,0,0)',
        plot_bgcolor: 'rgba(0,0,0,0)',
        font: { size: 11 },
        xaxis: { title: { text: axisLabel(axis?.info.long_name ?? axis?.info.name, axis?.info.units, `dim ${dim}`) } },
        yaxis: { title: { text: axisLabel(sig?.long_name ?? sig?.name ?? d.meta.name, sig?.units, 'value') } },
      },
      PLOT_CONFIG,
    );
    footer.textContent = `[${header.select}] ${data.length} points${header.binning > 1 ? ` · binned ${header.binning}×` : ''}`;
  }

  private drawValues(d: Display): void {
    const v = d.values;
    if (!v) return;
    if (d.plan.mode === 'scalar' || !Array.isArray(v.value)) {
      const box = el('pre', 'daqlab-h5-scalar', typeof v.value === 'string' ? v.value : JSON.stringify(v.value, null, 1));
      this.displayBox.replaceChildren(box);
      return;
    }
    const table = el('table', 'daqlab-h5-valuetable');
    const rows = v.value as unknown[];
    const cell = (x: unknown) => el('td', '', typeof x === 'number' ? formatValue(x) : typeof x === 'string' ? x : JSON.stringify(x));
    rows.forEach((r, i) => {
      const tr = el('tr');
      tr.append(el('th', '', String(i)));
      if (Array.isArray(r)) r.forEach((x) => tr.append(cell(x)));
      else tr.append(cell(r));
      table.append(tr);
    });
    const shown = v.shape?.join('×') ?? '';
    this.displayBox.replaceChildren(table, el('div', 'daqlab-h5-footer', `${shown} of ${shapeText(d.meta.shape)}`));
  }
}
