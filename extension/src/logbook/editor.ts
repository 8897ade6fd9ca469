/**
 * Writing an entry: Markdown text (bold, lists, links, code: the formatting the
 * server renders), category, tags, the proposal it belongs to, and images pasted
 * or dropped into the text (or chosen as files), or the picture of the LiveImage or
 * chart used last ("attach view"), sent as attachments. Editing an entry fills the
 * form with it; saving writes a new version (`logbook.edit`).
 */
import type { LogbookCategory, LogbookEntry } from '@daqlab/daq-server/protocol';
import { currentSnapshotSource } from '@daqlab/widgets';
import { el } from '../dom.js';

const CATEGORIES: LogbookCategory[] = ['comment', 'info', 'error', 'debug', 'commandline'];
/** What one WebSocket request (MAX_REQUEST_BYTES, 1 MiB) can carry as base64, with room for the rest. */
const MAX_BYTES = 700 * 1024;

/** A new version of an entry: what the form changes (the format and links are kept). */
export interface EditDraft {
  entry: number;
  content: string;
  category: LogbookCategory;
  tags: string[];
}

export interface Draft {
  content: string;
  format: 'markdown';
  category: LogbookCategory;
  tags: string[];
  proposal?: string;
  attachments: { name: string; mime: string; base64: string }[];
}


/**
 * A picture that fits in one request: as it is when small enough, else as a JPEG, scaled down until
 * it fits (a LiveImage of noise is a large PNG).
 */
async function fitPicture(png: Blob, name: string): Promise<File> {
  if (png.size <= MAX_BYTES) return new File([png], name, { type: png.type || 'image/png' });
  const bitmap = await createImageBitmap(png);
  const canvas = document.createElement('canvas');
  for (let scale = 1; scale > 0.05; scale *= 0.7) {
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff'; // JPEG has no transparency
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const jpeg = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
    if (jpeg && jpeg.size <= MAX_BYTES) return new File([jpeg], name.replace(/\.png$/i, '') + '.jpg', { type: 'image/jpeg' });
  }
  throw new Error(`${name}: the picture does not fit in ${MAX_BYTES} bytes`);
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
  readonly attachView = el('button', 'daqlab-logbook-attach-view', 'attach view');
  readonly message = el('div', 'daqlab-logbook-message');
  private pending: Draft['attachments'] = [];
  private thumbs = el('div', 'daqlab-logbook-pending');
  /** the entry being edited (null: the form writes a new one) */
  private editing: LogbookEntry | null = null;
  private editLine = el('div', 'daqlab-logbook-editing');
  private file = el('input', 'daqlab-logbook-file-input');

  constructor(
    private readonly send: (d: Draft) => Promise<void>,
    private readonly save: (d: EditDraft) => Promise<LogbookEntry>,
  ) {
    this.text.placeholder = 'write in the logbook (Markdown); paste or drop an image';
    this.text.rows = 4;
    for (const c of CATEGORIES) this.category.append(new Option(c, c));
    this.tags.placeholder = 'tags, comma separated';
    this.proposal.placeholder = 'proposal';
    const file = this.file;
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
    this.attachView.title = 'attach a picture of the LiveImage or chart used last (else the newest one shown)';
    this.attachView.onclick = () => void this.attachCurrentView();
    this.editLine.hidden = true;
    const row = el('div', 'daqlab-logbook-write-row');
    row.append(this.category, this.tags, this.proposal, file, this.attachView, this.post);
    this.node.append(this.editLine, this.text, this.thumbs, row, this.message);
  }

  /** The picture of the view used last, as an attachment of the next entry: one click. */
  async attachCurrentView(): Promise<void> {
    const source = currentSnapshotSource();
    if (!source) return this.say('no LiveImage or chart with a picture is shown on this page', true);
    try {
      const { name, png } = await source.take();
      await this.addFiles([await fitPicture(png, name)]);
      this.say(`attached ${name}`);
    } catch (e) {
      this.say(`could not take the view's picture: ${(e as Error).message}`, true);
    }
  }

  /** Fill the form with `entry`: saving writes its next version. */
  startEdit(entry: LogbookEntry): void {
    this.editing = entry;
    this.text.value = entry.content;
    this.category.value = entry.category;
    this.tags.value = entry.tags.join(', ');
    this.pending = [];
    this.thumbs.replaceChildren();
    const cancel = el('button', 'daqlab-logbook-cancel', 'cancel');
    cancel.onclick = () => this.stopEdit();
    this.editLine.replaceChildren(`editing #${entry.id} (v${entry.version}): saving makes v${entry.version + 1} `, cancel);
    this.editLine.hidden = false;
    this.post.textContent = 'save';
    // a version changes the text, category and tags; attachments and the proposal stay the entry's
    for (const x of [this.proposal, this.file, this.attachView]) x.disabled = true;
    this.text.focus();
  }

  private stopEdit(): void {
    this.editing = null;
    this.editLine.hidden = true;
    this.post.textContent = 'post';
    for (const x of [this.proposal, this.file, this.attachView]) x.disabled = false;
    this.text.value = '';
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
    if (this.editing) return this.submitEdit(this.editing);
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

  private async submitEdit(entry: LogbookEntry): Promise<void> {
    if (!this.text.value.trim()) return this.say('an entry cannot be emptied', true);
    this.post.disabled = true;
    try {
      const saved = await this.save({
        entry: entry.id,
        content: this.text.value,
        category: this.category.value as LogbookCategory,
        tags: this.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      });
      this.stopEdit();
      this.say(`saved #${saved.id} v${saved.version}`);
    } catch (e) {
      this.say((e as Error).message, true);
    } finally {
      this.post.disabled = false;
    }
  }
}
