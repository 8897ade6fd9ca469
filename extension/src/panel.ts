/**
 * The "DAQ" side panel: connection state, each detector's state and live
 * counters (from `acq.state` / `acq.counters` events), and the scans in the
 * store (`scans.search`), each with a button that inserts the code to open it
 * into the active notebook cell and, once saved, one that opens its master in the HDF5 viewer. Plain DOM on a Lumino widget: no framework.
 */
import { PageConfig } from '@jupyterlab/coreutils';
import { discoveredServer } from './discover.js';
import type { Widget } from '@lumino/widgets';
import { DaqClient, frontendSettings, lastServerUsed, resolveServerUrl } from '@daqlab/widgets';
import { ServerPanel } from './panel-base.js';
import { el, renderList } from './dom.js';
import { LiveMonitor, type MonitorChart } from './monitor.js';
import { OPEN_IN_VIEWER, underRoot } from './h5viewer/open.js';
import { StepScanPlot, stepScanLabel } from './scan-plot.js';
import { workflowLabel } from './workflow-label.js';
import type { AcqState, Counters, EventMessage, ScanSummary } from '@daqlab/daq-server/protocol';

/** What the panel uses of the JupyterLab application (keeps @jupyterlab/application out of the bundle's deps). */
export interface LabApp {
  shell: { add(widget: Widget, area: 'left' | 'right' | 'main', options?: { rank?: number }): void; activateById(id: string): void };
  commands: {
    hasCommand(id: string): boolean;
    execute(id: string, args?: Record<string, unknown>): Promise<unknown>;
    addCommand(
      id: string,
      options: { label: string | ((args: Record<string, unknown>) => string); execute: (args: Record<string, unknown>) => unknown },
    ): unknown;
  };
}

/** The panel's address when neither the settings nor a LiveImage gave one: `npm start`'s server. */
export const DEFAULT_SERVER = 'proxy/8765/ws';

interface DetectorRow {
  state: AcqState | string;
  counters?: Counters;
  fps?: number;
}

/** What the scans list reads of a derived scan's `info.derived` (docs/PROTOCOL.md). */
interface DerivedSummary {
  job_id: string;
  master: string;
  source: string;
  source_key: string | null;
}

/** Python code that opens a derived scan from its master file (its data lives in the files). */
export function derivedCode(master: string): string {
  return `import daqlab\nscan = daqlab.open_derived(${JSON.stringify(master)})\n`;
}

/** Python code that opens a scan (inserted by the scans list's button). */
export function scanCode(key: string): string {
  return `import daqlab\nscan = daqlab.connect().scans.get(${JSON.stringify(key)})\n`;
}

/**
 * The server the side panels and monitors talk to: the settings' address, else the last one a widget used,
 * else the one the Jupyter server names (discover.ts), else `npm start`'s default.
 */
export function panelServer(): { configured: string; token: string } {
  if (frontendSettings.serverUrl) return { configured: frontendSettings.serverUrl, token: frontendSettings.token };
  const used = lastServerUsed();
  if (used) return { configured: used.url, token: used.token || frontendSettings.token };
  const found = discoveredServer();
  if (found?.server_url) return { configured: found.server_url, token: found.token || frontendSettings.token };
  return { configured: DEFAULT_SERVER, token: frontendSettings.token };
}

/** `panelServer()` as the WebSocket URL to open from this page (through Jupyter's proxy when relative). */
export function panelServerAddress(): string {
  const { configured, token } = panelServer();
  return resolveServerUrl(configured, window.location.href, PageConfig.getBaseUrl(), token);
}

export class DaqPanel extends ServerPanel {
  private detectorsBox = el('div', 'daqlab-panel-detectors');
  private scansBox = el('div', 'daqlab-panel-scans');
  private detectors = new Map<string, DetectorRow>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly app: LabApp) {
    super({ id: 'daqlab-panel', label: 'DAQ', caption: 'daqlab: detectors, counters and scans', iconClass: 'daqlab-panel-icon' }, panelServerAddress);
    const refresh = el('button', 'daqlab-panel-refresh', 'refresh');
    refresh.onclick = () => void this.refreshScans();
    const monitor = el('button', 'daqlab-panel-monitor', 'live monitor');
    monitor.title = 'open a live image and chart of the newest scan in the main area';
    monitor.onclick = () => this.openMonitor('');
    this.node.append(
      el('h3', '', 'daqlab'),
      this.status,
      monitor,
      el('h4', '', 'Detectors'),
      this.detectorsBox,
      el('h4', '', 'Scans'),
      refresh,
      this.scansBox,
    );
  }

  /** A live monitor of `scan` ('' : the newest) in the main area, on the panel's server, showing `charts` at first. */
  openMonitor(scan: string, charts: MonitorChart | readonly MonitorChart[] = 'hitrate'): LiveMonitor {
    const { configured, token } = panelServer();
    const monitor = new LiveMonitor(configured, token, scan, charts);
    this.app.shell.add(monitor, 'main');
    this.app.shell.activateById(monitor.id);
    return monitor;
  }

  /** A step scan's ScanPlot (and Map2D for a mesh) in the main area. */
  openScanPlot(s: ScanSummary): StepScanPlot {
    const { configured, token } = panelServer();
    const info = s.info as { title?: string; grid?: unknown };
    const plot = new StepScanPlot(configured, token, s.key, `#${s.identity.number} ${info.title ?? s.identity.name}`, Boolean(info.grid));
    this.app.shell.add(plot, 'main');
    this.app.shell.activateById(plot.id);
    return plot;
  }

  protected async attach(client: DaqClient): Promise<void> {
    client.on('acq.state', (ev) => this.onAcq(ev));
    client.on('acq.counters', (ev) => this.onAcq(ev));
    client.on('scan.new', () => this.scheduleRefresh());
    client.on('scan.state', () => this.scheduleRefresh());
    client.on('workflow.state', () => this.scheduleRefresh());
    const hello = await client.request<{ version: string; detectors: string[] }>('hello');
    this.setStatus(`connected to ${this.shown} (server ${hello.version})`, 'ok');
    this.detectors.clear();
    for (const name of hello.detectors) {
      const st = await client.request<{ state: string; uuid: string | null }>('detector.state', { detector: name });
      const row: DetectorRow = { state: st.state };
      if (st.uuid) {
        // counters of the current acquisition now, before its next acq.counters event
        const status = await client.request<{ counters: Counters; fps: number }>('acq.status', { uuid: st.uuid }).catch(() => null);
        if (status) Object.assign(row, { counters: status.counters, fps: status.fps });
      }
      this.detectors.set(name, row);
    }
    this.renderDetectors();
    await this.refreshScans();
  }

  private onAcq(ev: EventMessage): void {
    const name = String(ev.detector);
    const row = this.detectors.get(name) ?? { state: '?' };
    if (typeof ev.state === 'string') row.state = ev.state;
    if (ev.counters) row.counters = ev.counters as Counters;
    if (typeof ev.fps === 'number') row.fps = ev.fps;
    this.detectors.set(name, row);
    this.renderDetectors();
  }

  private renderDetectors(): void {
    // one block per detector: name and state, then the counters (the sidebar is narrow)
    const blocks = [...this.detectors].map(([name, row]) => {
      const box = el('div', 'daqlab-panel-detector');
      box.dataset.detector = name;
      const c = row.counters;
      const field = (key: string, label: string, value: string) => {
        const span = el('span', 'daqlab-panel-field', value);
        span.dataset.field = key;
        return [el('span', 'daqlab-panel-label', label), span];
      };
      const head = el('div', 'daqlab-panel-dethead');
      const state = el('span', 'daqlab-panel-state', row.state);
      state.dataset.field = 'state';
      state.dataset.state = row.state;
      head.append(el('b', '', name), state);
      const counters = el('div', 'daqlab-panel-counters');
      counters.append(
        ...field('acquired', 'acquired', c ? String(c.nb_frames_acquired) : '–'),
        ...field('processed', 'processed', c ? String(c.nb_frames_processed) : '–'),
        ...field('saved', 'saved', c ? String(c.nb_frames_saved) : '–'),
        // a rate belongs to a running acquisition: a stopped detector's last fps would read as current
        ...field('fps', 'fps', row.fps !== undefined && row.state === 'RUNNING' ? row.fps.toFixed(0) : '–'),
      );
      box.append(head, counters);
      // dropped frames are lost data: said loudly, in the detector's block, for as long as it shows that run
      const dropped = c?.nb_frames_dropped ?? 0;
      if (dropped > 0) {
        const acquired = c?.nb_frames_acquired ?? 0;
        const share = acquired > 0 ? ` (${((100 * dropped) / acquired).toFixed(1)} %)` : '';
        const warn = el('div', 'daqlab-panel-warn', `⚠ ${dropped} frames dropped${share}: the receivers did not keep up`);
        warn.dataset.field = 'dropped';
        warn.title = 'frames the receivers could not take are lost; add receivers (processing.nb_receivers) or lower the frame rate';
        box.append(warn);
      }
      return box;
    });
    this.detectorsBox.replaceChildren(...blocks);
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshScans();
    }, 300);
  }

  private async refreshScans(): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    const { scans } = await client.request<{ scans: ScanSummary[] }>('scans.search', {});
    const list = el('ul', 'daqlab-panel-scanlist');
    renderList(list, [...scans].sort((a, b) => b.seq - a.seq).slice(0, 50), (s) => this.scanRow(s, scans), 'no scans yet');
    this.scansBox.replaceChildren(list);
  }

  /** One scan of the list (`all`: the scans listed, where a derived scan finds its source). */
  private scanRow(s: ScanSummary, all: readonly ScanSummary[]): HTMLLIElement {
    const li = el('li');
    li.dataset.key = s.key;
    // a derived scan (a template job's result, jobs/derived.ts): named with its source and job
    const derived = (s.info as { derived?: DerivedSummary }).derived;
    const source = derived?.source_key ? all.find((x) => x.key === derived.source_key) : undefined;
    const from = derived ? ` · derived from ${source ? `${source.identity.name} #${source.identity.number}` : derived.source} by job ${derived.job_id}` : '';
    // a step scan is known by its title (`ascan samy 0 1 10 0.1`), its time and points, and opens its plot
    const engine = (s.info as { scan_engine?: string }).scan_engine;
    const step = engine === 'step' || engine === 'fly'; // fly scans list and plot alike
    const points = s.streams.find((x) => x.name === 'elapsed_time')?.length ?? 0;
    const text = step ? `#${s.identity.number} ${stepScanLabel(s.info, points, s.created)} · ${s.state}` : `${s.identity.name} #${s.identity.number} · ${s.state}${from}`;
    const label = el('span', 'daqlab-panel-scanlabel', text);
    if (step) {
      li.classList.add('daqlab-panel-stepscan');
      label.onclick = () => this.openScanPlot(s);
      label.style.cursor = 'pointer';
    }
    label.title = `${s.key}\n${s.identity.proposal} ${s.identity.sample}\ncreated ${s.created}${derived ? `\n${derived.master}\nsource ${derived.source}` : ''}`;
    if (derived) li.classList.add('daqlab-panel-derived');
    const insert = el('button', 'daqlab-panel-insert', 'insert');
    insert.title = 'insert the code that opens this scan into the active notebook cell';
    insert.onclick = () => void this.insertCode(derived ? derivedCode(derived.master) : scanCode(s.key));
    li.append(label, insert);
    // a workflow run on the scan's files (its state; a failure's error, the scan left as it was)
    const wf = workflowLabel(s.info);
    if (wf) {
      const line = el('span', 'daqlab-panel-workflow', ` · ${wf}`);
      if ((s.info as { workflow?: { state?: string } }).workflow?.state === 'FAILED') line.classList.add('daqlab-panel-workflow-failed');
      label.after(line);
    }
    const viewer = this.viewerButton(derived ? derived.master : (s.info as { saving?: { master?: string } }).saving?.master);
    if (viewer) li.append(viewer);
    if (step) {
      const plot = el('button', 'daqlab-panel-plot', 'plot');
      plot.title = 'open the plot of this step scan (a map too for a mesh)';
      plot.onclick = () => this.openScanPlot(s);
      li.append(plot);
    } else if (!derived) {
      // a derived scan's data are in its files (no streams to monitor)
      const watch = el('button', 'daqlab-panel-watch', 'monitor');
      watch.title = 'open a live monitor of this scan';
      watch.onclick = () => this.openMonitor(s.key);
      li.append(watch);
    }
    return li;
  }

  /** A "view" button opening a saved master in the HDF5 viewer (h5web), disabled when the file is outside Jupyter's root. */
  private viewerButton(master: string | undefined): HTMLButtonElement | null {
    if (!master) return null;
    const button = el('button', 'daqlab-panel-view', 'view');
    const rel = underRoot(master, PageConfig.getOption('serverRoot'));
    button.disabled = rel === null;
    button.title = rel === null ? `${master} is outside Jupyter's root directory: the viewer cannot open it` : `open ${rel} in the HDF5 viewer`;
    if (rel !== null) button.onclick = () => void this.app.commands.execute(OPEN_IN_VIEWER, { path: rel });
    return button;
  }

  /** Insert `text` at the cursor of the active cell (JupyterLab's own command), or copy it when no notebook is active. */
  async insertCode(text: string): Promise<void> {
    const command = 'notebook:replace-selection';
    if (this.app.commands.hasCommand(command)) {
      await this.app.commands.execute(command, { text });
    } else {
      await navigator.clipboard?.writeText(text);
      this.setStatus('no active notebook: the code was copied to the clipboard', 'idle');
    }
  }
}
