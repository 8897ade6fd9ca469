/**
 * The "Logbook" side panel: the e-logbook's timeline with filters (text, category,
 * tag, proposal), a form to write (Markdown, pasted or dropped images), and live
 * updates (`logbook.entry` events) — on its own connection to the DAQ panel's
 * server, reconnecting with back-off.
 */
import { Widget } from '@lumino/widgets';
import { DaqClient, onServerUsed } from '@daqlab/widgets';
import type { EventMessage, LogbookEntry } from '@daqlab/daq-server/protocol';
import { panelServerAddress } from '../panel.js';
import { discoverServer } from '../discover.js';
import { Timeline } from './timeline.js';
import { Editor, type Draft } from './editor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CATEGORIES = ['', 'comment', 'info', 'error', 'debug', 'commandline'];

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

export class LogbookPanel extends Widget {
  private status = el('div', 'daqlab-panel-status');
  private text = el('input', 'daqlab-logbook-filter-text');
  private category = el('select', 'daqlab-logbook-filter-category');
  private tag = el('input', 'daqlab-logbook-filter-tag');
  private proposal = el('input', 'daqlab-logbook-filter-proposal');
  private timeline = new Timeline(() => this.client);
  private editor = new Editor((d) => this.write(d));
  private client: DaqClient | null = null;
  private generation = 0;
  private started = false;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    super();
    this.id = 'daqlab-logbook-panel';
    this.addClass('daqlab-panel');
    this.addClass('daqlab-logbook-panel');
    this.title.label = 'Logbook';
    this.title.caption = 'daqlab: the e-logbook';
    this.title.iconClass = 'daqlab-logbook-icon';
    this.text.placeholder = 'search text';
    this.tag.placeholder = 'tag';
    this.proposal.placeholder = 'proposal';
    for (const c of CATEGORIES) this.category.append(new Option(c || 'any category', c));
    for (const input of [this.text, this.tag, this.proposal]) input.oninput = () => this.scheduleSearch();
    this.category.onchange = () => this.scheduleSearch();
    const filters = el('div', 'daqlab-logbook-filters');
    filters.append(this.text, this.category, this.tag, this.proposal);
    this.node.append(el('h3', undefined, 'Logbook'), this.status, this.editor.node, filters, this.timeline.node);
    this.setStatus('not connected', 'idle');
    onServerUsed(() => {
      if (this.started) this.restart();
    });
  }

  protected override onAfterShow(): void {
    if (!this.started) this.restart();
  }

  settingsChanged(): void {
    if (this.started) this.restart();
  }

  private filters(): Record<string, unknown> {
    const f: Record<string, unknown> = { limit: 200 };
    if (this.text.value.trim()) f.text = this.text.value.trim();
    if (this.category.value) f.category = this.category.value;
    if (this.tag.value.trim()) f.tags = [this.tag.value.trim()];
    if (this.proposal.value.trim()) f.proposal = this.proposal.value.trim();
    return f;
  }

  /** Whether a live entry belongs in the timeline as filtered now (text is left to the server's search). */
  private matches(e: LogbookEntry): boolean {
    const f = this.filters();
    if (f.text !== undefined) return false;
    if (f.category !== undefined && e.category !== f.category) return false;
    if (f.tags !== undefined && !e.tags.includes((f.tags as string[])[0])) return false;
    if (f.proposal !== undefined && e.proposal !== f.proposal) return false;
    return true;
  }

  private scheduleSearch(): void {
    if (this.searchTimer) clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      this.searchTimer = null;
      void this.search();
    }, 250);
  }

  private async search(): Promise<void> {
    const c = this.client;
    if (!c) return;
    try {
      const { entries } = await c.request<{ entries: LogbookEntry[] }>('logbook.search', this.filters());
      this.timeline.show(entries);
    } catch (e) {
      this.setStatus(`search failed: ${(e as Error).message}`, 'error');
    }
  }

  private async write(d: Draft): Promise<void> {
    const c = this.client;
    if (!c) throw new Error('not connected to a daqlab server');
    await c.request('logbook.add', { ...d });
  }

  private setStatus(text: string, state: 'idle' | 'ok' | 'error'): void {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  private restart(): void {
    this.started = true;
    this.generation++;
    this.client?.close();
    this.client = null;
    void this.run(this.generation);
  }

  private async run(gen: number): Promise<void> {
    let delay = 1000;
    await discoverServer();
    while (gen === this.generation && !this.isDisposed) {
      const url = panelServerAddress();
      const shown = url.replace(/token=[^&]+/, 'token=…');
      const client = new DaqClient(url);
      try {
        this.setStatus(`connecting to ${shown}`, 'idle');
        await client.connect();
        if (gen !== this.generation) return client.close();
        const lost = new Promise<string>((resolve) => (client.onclose = resolve));
        this.client = client;
        client.on('logbook.entry', (ev: EventMessage) => {
          const entry = ev.entry as LogbookEntry;
          if (this.matches(entry)) this.timeline.upsert(entry);
        });
        this.setStatus(`connected to ${shown}`, 'ok');
        await this.search();
        delay = 1000;
        const reason = await lost;
        if (gen !== this.generation) return;
        this.client = null;
        this.setStatus(`lost ${shown} (${reason}); reconnecting…`, 'error');
      } catch (e) {
        client.close();
        if (gen !== this.generation) return;
        this.client = null;
        this.setStatus(`daqlab server unreachable at ${shown}: ${(e as Error).message}; retrying in ${delay / 1000} s`, 'error');
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  }
}
