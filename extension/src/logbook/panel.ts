/**
 * The "Logbook" side panel: the e-logbook's timeline with filters (text, category,
 * tag, proposal), a form to write (Markdown, pasted or dropped images), and live
 * updates (`logbook.entry` events) — on its own connection to the DAQ panel's
 * server, reconnecting with back-off.
 */
import { DaqClient } from '@daqlab/widgets';
import type { EventMessage, LogbookEntry } from '@daqlab/daq-server/protocol';
import { panelServerAddress } from '../panel.js';
import { ServerPanel } from '../panel-base.js';
import { el } from '../dom.js';
import { Timeline } from './timeline.js';
import { Editor, type Draft, type EditDraft } from './editor.js';

const CATEGORIES = ['', 'comment', 'info', 'error', 'debug', 'commandline'];

export class LogbookPanel extends ServerPanel {
  private text = el('input', 'daqlab-logbook-filter-text');
  private category = el('select', 'daqlab-logbook-filter-category');
  private tag = el('input', 'daqlab-logbook-filter-tag');
  private proposal = el('input', 'daqlab-logbook-filter-proposal');
  private timeline = new Timeline(
    () => this.client,
    (e) => this.editor.startEdit(e),
  );
  private editor = new Editor(
    (d) => this.write(d),
    (d) => this.saveVersion(d),
  );
  private searchTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    super(
      { id: 'daqlab-logbook-panel', className: 'daqlab-logbook-panel', label: 'Logbook', caption: 'daqlab: the e-logbook', iconClass: 'daqlab-logbook-icon' },
      panelServerAddress,
    );
    this.text.placeholder = 'search text';
    this.tag.placeholder = 'tag';
    this.proposal.placeholder = 'proposal';
    for (const c of CATEGORIES) this.category.append(new Option(c || 'any category', c));
    for (const input of [this.text, this.tag, this.proposal]) input.oninput = () => this.scheduleSearch();
    this.category.onchange = () => this.scheduleSearch();
    const filters = el('div', 'daqlab-logbook-filters');
    filters.append(this.text, this.category, this.tag, this.proposal);
    this.node.append(el('h3', '', 'Logbook'), this.status, this.editor.node, filters, this.timeline.node);
  }

  protected async attach(client: DaqClient): Promise<void> {
    client.on('logbook.entry', (ev: EventMessage) => {
      const entry = ev.entry as LogbookEntry;
      if (this.matches(entry)) this.timeline.upsert(entry);
    });
    await this.search();
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

  /** A new version of an entry (the timeline shows it from the `logbook.entry` event). */
  private async saveVersion(d: EditDraft): Promise<LogbookEntry> {
    const c = this.client;
    if (!c) throw new Error('not connected to a daqlab server');
    const { entry } = await c.request<{ entry: LogbookEntry }>('logbook.edit', { ...d });
    return entry;
  }
}
