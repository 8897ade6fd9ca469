/**
 * The viewer's state and what changes it, without DOM: open a file (tree root + the NeXus
 * default plot), expand groups lazily, select an entity, move sliders, switch modes. Every
 * load is tagged with a generation so a slow answer never overwrites a newer one. The view
 * (view.ts) only renders `state`; the tests drive this class with MockProvider.
 */
import type { DataProvider } from './provider.js';
import { MAX_IMAGE_PIXELS, MAX_LINE_POINTS, planFor, tableSelect, type Mode, type Plan } from './plan.js';
import { sliceSelect } from './selection.js';
import type { Attr, AxisInfo, Child, EntityMeta, NumArray, NxPlot, Slice, Values } from './types.js';

export interface TreeNode {
  path: string;
  name: string;
  child: Child | null; // null for the root
  /** loaded children (groups), undefined until expanded */
  children?: TreeNode[];
  expanded: boolean;
  loading?: boolean;
  error?: string;
}

export interface Display {
  /** the dataset shown */
  path: string;
  meta: EntityMeta;
  /** the NXdata it is shown through (axes, units), if any */
  plot: NxPlot | null;
  plan: Plan;
  /** slider positions, one per dimension (displayed ones ignored) */
  indices: number[];
  slice?: Slice;
  values?: Values;
  /** x values of a line plot (the NXdata axis of the displayed dimension) */
  axis?: { info: AxisInfo; values: NumArray };
  /** error bars of a line plot (the NXdata's `<signal>_errors`, same selection) */
  errors?: NumArray;
  loading: boolean;
  error?: string;
}

export interface ViewerState {
  tree: TreeNode;
  /** bumped whenever the tree or the selection changes (the view redraws the tree only then) */
  treeVersion: number;
  /** the entity selected in the tree (its attributes are listed) */
  selected: EntityMeta | null;
  attrs: Attr[];
  display: Display | null;
  error?: string;
}

const join = (parent: string, name: string) => (parent === '/' ? `/${name}` : `${parent}/${name}`);

export class ViewerController {
  readonly state: ViewerState;
  private generation = 0;
  private axisCache = new Map<string, NumArray>();
  private readonly listeners = new Set<(s: ViewerState) => void>();

  constructor(readonly provider: DataProvider) {
    this.state = { tree: { path: '/', name: provider.file, child: null, expanded: true }, treeVersion: 0, selected: null, attrs: [], display: null };
  }

  onChange(fn: (s: ViewerState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(treeChanged = false): void {
    if (treeChanged) this.state.treeVersion++;
    for (const fn of this.listeners) fn(this.state);
  }

  /** The root's children and the file's default plot (or the root's attributes if none). */
  async open(): Promise<void> {
    try {
      const root = await this.provider.meta('/');
      this.state.tree.children = this.nodes('/', root.children ?? []);
      this.state.selected = root;
      this.state.attrs = root.attrs;
      this.emit(true);
      const plot = await this.provider.nxDefault('/');
      if (plot.path && plot.signal) {
        // the NXdata is selected: the tree shows it, its attributes are listed
        await this.revealPath(plot.path);
        const group = await this.provider.meta(plot.path);
        this.state.selected = group;
        this.state.attrs = group.attrs;
        this.emit(true);
        await this.showPlot(plot);
      }
    } catch (e) {
      this.state.error = String((e as Error).message ?? e);
      this.emit();
    }
  }

  private nodes(parent: string, children: Child[]): TreeNode[] {
    return children.map((c) => ({ path: join(parent, c.name), name: c.name, child: c, expanded: false }));
  }

  findNode(path: string, node = this.state.tree): TreeNode | null {
    if (node.path === path) return node;
    for (const c of node.children ?? []) {
      if (path === c.path || path.startsWith(c.path + '/')) {
        const found = this.findNode(path, c);
        if (found) return found;
      }
    }
    return null;
  }

  /** Load a group's children on first expansion (one `meta` per group, never the whole file). */
  async toggle(path: string): Promise<void> {
    const node = this.findNode(path);
    if (!node || (node.child && node.child.kind !== 'group')) return;
    node.expanded = !node.expanded;
    if (node.expanded && !node.children) {
      node.loading = true;
      this.emit(true);
      try {
        const m = await this.provider.meta(path);
        node.children = this.nodes(path, m.children ?? []);
      } catch (e) {
        node.error = String((e as Error).message ?? e);
      }
      node.loading = false;
    }
    this.emit(true);
  }

  /** Expand the groups on the way to `path` so the tree shows it. */
  async revealPath(path: string): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    let p = '/';
    for (const name of parts.slice(0, -1)) {
      p = join(p, name);
      const node = this.findNode(p);
      if (node && !node.expanded) await this.toggle(p);
    }
  }

  /**
   * Select an entity: its attributes; a dataset is displayed; a group with a default
   * plot (an NXdata, or `@default`) shows that plot.
   */
  async select(path: string): Promise<void> {
    const gen = ++this.generation;
    try {
      const meta = await this.provider.meta(path);
      if (gen !== this.generation) return;
      this.state.selected = meta;
      this.state.attrs = meta.attrs;
      this.state.error = undefined;
      this.emit(true);
      if (meta.kind === 'dataset') {
        await this.showDataset(meta, null);
      } else if (meta.kind === 'group' && (meta.nx_class === 'NXdata' || meta.default)) {
        const plot = await this.provider.nxDefault(path);
        if (gen === this.generation && plot.path && plot.signal) await this.showPlot(plot);
      } else {
        this.state.display = null; // a plain group: its attributes, no picture of something else
        this.emit();
      }
    } catch (e) {
      if (gen !== this.generation) return;
      this.state.error = String((e as Error).message ?? e);
      this.emit();
    }
  }

  /** Replace the selected entity's summarised attributes (long arrays) by their full values. */
  async loadAllAttrs(): Promise<void> {
    const sel = this.state.selected;
    if (!sel) return;
    try {
      const attrs = await this.provider.attrs(sel.path);
      if (this.state.selected === sel) this.state.attrs = attrs;
    } catch (e) {
      this.state.error = String((e as Error).message ?? e);
    }
    this.emit();
  }

  /** Show an NXdata's signal with its axes and interpretation. */
  async showPlot(plot: NxPlot): Promise<void> {
    const meta = await this.provider.meta(plot.signal!.path);
    await this.showDataset(meta, plot);
  }

  async showDataset(meta: EntityMeta, plot: NxPlot | null, mode?: Mode): Promise<void> {
    const interpretation = plot?.interpretation ?? (meta.attrs.find((a) => a.name === 'interpretation')?.value as string | undefined);
    const plan = planFor(meta.shape, meta.dtype, interpretation, mode);
    const keep = this.state.display?.path === meta.path ? this.state.display.indices : null;
    this.state.display = {
      path: meta.path,
      meta,
      plot,
      plan,
      indices: keep ?? (meta.shape ?? []).map(() => 0),
      loading: true,
    };
    await this.load();
  }

  setMode(mode: Mode): Promise<void> {
    const d = this.state.display;
    if (!d) return Promise.resolve();
    return this.showDataset(d.meta, d.plot, mode);
  }

  /** Move the slider of dimension `dim` (clamped to the dimension). */
  setIndex(dim: number, index: number): Promise<void> {
    const d = this.state.display;
    if (!d || !d.meta.shape || dim >= d.meta.shape.length) return Promise.resolve();
    d.indices[dim] = Math.min(Math.max(Math.round(index), 0), d.meta.shape[dim] - 1);
    return this.load();
  }

  /** The selection the display asks for now. */
  currentSelect(): string {
    const d = this.state.display!;
    return sliceSelect(d.meta.shape ?? [], d.plan.displayed, d.indices);
  }

  private async load(): Promise<void> {
    const d = this.state.display;
    if (!d) return;
    const gen = ++this.generation;
    d.loading = true;
    this.emit();
    try {
      const shape = d.meta.shape ?? [];
      if (d.plan.mode === 'image' || d.plan.mode === 'line') {
        const max = d.plan.mode === 'image' ? MAX_IMAGE_PIXELS : MAX_LINE_POINTS;
        const errorsPath = d.plan.mode === 'line' ? d.plot?.errors : null;
        const [slice, axis, errors] = await Promise.all([
          this.provider.slice(d.path, this.currentSelect(), max),
          this.axisFor(d),
          errorsPath ? this.provider.slice(errorsPath, this.currentSelect(), max) : null,
        ]);
        if (gen !== this.generation) return;
        d.slice = slice;
        d.axis = axis ?? undefined;
        d.errors = errors?.data;
        d.values = undefined;
      } else {
        const values = await this.provider.values(d.path, d.plan.mode === 'scalar' ? undefined : tableSelect(shape, d.plan, d.indices));
        if (gen !== this.generation) return;
        d.values = values;
        d.slice = undefined;
      }
      d.error = undefined;
    } catch (e) {
      if (gen !== this.generation) return;
      d.error = String((e as Error).message ?? e);
    }
    d.loading = false;
    this.emit();
  }

  /** The x axis of a line plot: the NXdata axis of the displayed dimension, read once. */
  private async axisFor(d: Display): Promise<{ info: AxisInfo; values: NumArray } | null> {
    if (d.plan.mode !== 'line' || !d.plot?.axes) return null;
    const info = d.plot.axes[d.plan.displayed[0]];
    if (!info || info.shape.length !== 1) return null;
    let values = this.axisCache.get(info.path);
    if (!values) {
      values = (await this.provider.slice(info.path, '', MAX_LINE_POINTS)).data;
      this.axisCache.set(info.path, values);
    }
    return { info, values };
  }
}
