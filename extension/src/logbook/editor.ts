/**
 * Writing an entry: Markdown text (bold, lists, links, code: the formatting the
 * server renders), category, tags, the proposal it belongs to, and images pasted
 * or dropped into the text (or chosen as files), sent as attachments.
 */
import type { LogbookCategory } from '@daqlab/daq-server/protocol';
import { el } from '../dom.js';

const CATEGORIES: LogbookCategory[] = ['comment', 'info', 'error', 'debug', 'commandline'];
/** What one WebSocket request (MAX_REQUEST_BYTES, 1 MiB) can carry as base64, with room for the rest. */
const MAX_BYTES = 700 * 1024;

export interface Draft {
  content: string;
  format: 'markdown';
  category: LogbookCategory;
  tags: string[];
  proposal?: string;
  attachments: { name: string; mime: string; base64: string }[];
}


function readBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

export class Editor {
  readonly node = el('div', 'daqlab-logbook-editor');
  readonly text = el('textarea', 'daqlab-logbook-text');
  readonly category = el('select', 'daqlab-logbook-write-category');
  readonly tags = el('input', 'daqlab-logbook-write-tags');
  readonly proposal = el('input', 'daqlab-logbook-write-proposal');
  readonly post = el('button', 'daqlab-logbook-post', 'post');
  readonly message = el('div', 'daqlab-logbook-message');
  private pending: Draft['attachments'] = [];
  private thumbs = el('div', 'daqlab-logbook-pending');

  constructor(private readonly send: (d: Draft) => Promise<void>) {
    this.text.placeholder = 'write in the logbook (Markdown); paste or drop an image';
    this.text.rows = 4;
    for (const c of CATEGORIES) this.category.append(new Option(c, c));
    this.tags.placeholder = 'tags, comma separated';
    this.proposal.placeholder = 'proposal';
    const file = el('input', 'daqlab-logbook-file-input');
    file.type = 'file';
    file.multiple = true;
    file.onchange = () => void this.addFiles([...(file.files ?? [])]).then(() => (file.value = ''));
    this.text.addEventListener('paste', (ev) => {
      const files = [...(ev.clipboardData?.items ?? [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter((f): f is File => f !== null);
      if (files.length) {
        ev.preventDefault();
        void this.addFiles(files);
      }
    });
    this.text.addEventListener('dragover', (ev) => ev.preventDefault());
    this.text.addEventListener('drop', (ev) => {
      const files = [...(ev.dataTransfer?.files ?? [])];
      if (files.length) {
        ev.preventDefault();
        void this.addFiles(files);
      }
    });
    this.post.onclick = () => void this.submit();
    const row = el('div', 'daqlab-logbook-write-row');
    row.append(this.category, this.tags, this.proposal, file, this.post);
    this.node.append(this.text, this.thumbs, row, this.message);
  }

  /** Images (or any file) into the next entry; over the size limit: refused here, by name. */
  async addFiles(files: File[]): Promise<void> {
    for (const f of files) {
      if (f.size > MAX_BYTES) {
        this.say(`${f.name || 'image'}: ${f.size} bytes is over the ${MAX_BYTES} bytes an attachment may have here`, true);
        continue;
      }
      const base64 = await readBase64(f);
      const name = f.name || `pasted-${this.pending.length + 1}.${(f.type.split('/')[1] || 'bin').replace(/[^a-z0-9]/gi, '')}`;
      this.pending.push({ name, mime: f.type || 'application/octet-stream', base64 });
      const thumb = el('span', 'daqlab-logbook-thumb');
      if (f.type.startsWith('image/')) {
        const img = el('img');
        img.src = `data:${f.type};base64,${base64}`;
        thumb.append(img);
      } else thumb.textContent = name;
      this.thumbs.append(thumb);
    }
  }

  say(text: string, error = false): void {
    this.message.textContent = text;
    this.message.dataset.state = error ? 'error' : 'ok';
  }

  private async submit(): Promise<void> {
    const content = this.text.value;
    if (!content.trim() && !this.pending.length) return this.say('nothing to post', true);
    const draft: Draft = {
      content,
      format: 'markdown',
      category: this.category.value as LogbookCategory,
      tags: this.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      attachments: this.pending,
    };
    if (this.proposal.value.trim()) draft.proposal = this.proposal.value.trim();
    this.post.disabled = true;
    try {
      await this.send(draft);
      this.text.value = '';
      this.pending = [];
      this.thumbs.replaceChildren();
      this.say('posted');
    } catch (e) {
      this.say((e as Error).message, true);
    } finally {
      this.post.disabled = false;
    }
  }
}
