/**
 * The logbook's timeline: entries newest first, each with its header (number,
 * time, author, type/category, tags, links) and its body. The body is the
 * server's sanitised HTML (logbook/content.ts): scripts, handlers and
 * javascript: URLs never reach the page. Images attached are fetched on demand.
 */
import type { DaqClient } from '@daqlab/widgets';
import type { LogbookEntry } from '@daqlab/daq-server/protocol';
import { el, renderList } from '../dom.js';


function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export class Timeline {
  readonly node = el('div', 'daqlab-logbook-timeline');
  private rows = new Map<number, HTMLElement>();

  constructor(
    private readonly client: () => DaqClient | null,
    /** "edit" on an entry: the editor takes it */
    private readonly edit: (e: LogbookEntry) => void,
  ) {}

  show(entries: LogbookEntry[]): void {
    this.rows.clear();
    renderList(this.node, entries, (e) => this.row(e), 'no entries', 'daqlab-logbook-empty');
  }

  /** A new or edited entry: replace its row, or put it on top. */
  upsert(e: LogbookEntry): void {
    const old = this.rows.get(e.id); // before row() records the new one
    const row = this.row(e);
    if (old) old.replaceWith(row);
    else {
      this.node.querySelector('.daqlab-logbook-empty')?.remove();
      this.node.prepend(row);
    }
  }

  private row(e: LogbookEntry): HTMLElement {
    const row = el('div', 'daqlab-logbook-entry');
    row.dataset.entry = String(e.id);
    row.dataset.type = e.type;
    row.dataset.category = e.category;
    const head = el('div', 'daqlab-logbook-head');
    const links = (['proposal', 'sample', 'dataset', 'beamline'] as const).filter((k) => e[k]).map((k) => `${k} ${e[k]}`);
    head.append(
      el('span', 'daqlab-logbook-id', `#${e.id}${e.version > 1 ? ` v${e.version}` : ''}`),
      el('span', 'daqlab-logbook-time', when(e.created)),
      el('span', 'daqlab-logbook-author', e.software && e.type === 'notification' ? e.software : e.author),
      el('span', `daqlab-logbook-category daqlab-logbook-${e.category}`, e.category),
    );
    for (const t of e.tags) head.append(el('span', 'daqlab-logbook-tag', t));
    if (links.length) head.append(el('span', 'daqlab-logbook-links', links.join(' · ')));
    const edit = el('button', 'daqlab-logbook-edit', 'edit');
    edit.title = 'edit this entry: saving writes a new version (the earlier ones are kept)';
    edit.onclick = () => this.edit(e);
    head.append(edit);
    const body = el('div', 'daqlab-logbook-body');
    body.innerHTML = e.html; // sanitised by the server
    row.append(head, body);
    for (const a of e.attachments) row.append(this.attachment(a));
    this.rows.set(e.id, row);
    return row;
  }

  private attachment(a: LogbookEntry['attachments'][number]): HTMLElement {
    const box = el('div', 'daqlab-logbook-attachment');
    box.dataset.attachment = String(a.id);
    const load = async (): Promise<string> => {
      const c = this.client();
      if (!c) throw new Error('not connected');
      const r = await c.request<{ base64: string; mime: string }>('logbook.attachment', { attachment: a.id });
      return `data:${r.mime};base64,${r.base64}`;
    };
    if (a.mime.startsWith('image/')) {
      const img = el('img', 'daqlab-logbook-image');
      img.alt = a.name;
      img.title = `${a.name} (${a.size} bytes)`;
      box.append(img);
      load().then((url) => (img.src = url), () => box.append(el('span', 'daqlab-logbook-error', `${a.name}: could not be loaded`)));
    } else {
      const link = el('a', 'daqlab-logbook-file', `${a.name} (${a.size} bytes)`);
      link.href = '#';
      link.onclick = (ev) => {
        ev.preventDefault();
        void load().then((url) => {
          link.href = url;
          link.download = a.name;
          link.onclick = null;
          link.click();
        });
      };
      box.append(link);
    }
    return box;
  }
}
