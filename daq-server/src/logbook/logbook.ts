/**
 * The e-logbook: entries written by people (annotations) and software
 * (notifications), edited as new versions, searched, counted per investigation.
 * Inputs are checked here (validate.ts), content rendered and sanitised
 * (content.ts), who may read and write what is logbook/access.ts (every method
 * takes the principal it acts for; the operator by default, as daqlab's own
 * notifications), storage is a LogbookRepository. Listeners hear of every entry
 * written or edited (the service turns that into `logbook.entry` events).
 */
import { DaqError, LOGBOOK_MAX_ATTACHMENTS, type LogbookEntry, type LogbookStats } from '../protocol/index.js';
import { render } from './content.js';
import type { LogbookAuthors } from './identity.js';
import { OPERATOR, type Principal } from '../access/index.js';
import { LogbookAccess } from './access.js';
import type { LogbookRepository, NewAttachment, NewEntry } from './types.js';
import * as v from './validate.js';

type Fields = Record<string, unknown>;

export const ADD_FIELDS = ['content', 'format', 'type', 'category', 'tags', 'attachments', 'software', 'machine', 'created', ...v.SEARCH_FIELDS.filter((f) => ['beamline', 'proposal', 'session', 'sample', 'dataset'].includes(f))];
export const EDIT_FIELDS = ['entry', 'content', 'format', 'category', 'tags'];

export function unknownFields(op: string, r: Fields, known: string[]): void {
  const unknown = Object.keys(r).filter((k) => k !== 'id' && k !== 'op' && !known.includes(k));
  if (unknown.length) {
    throw new DaqError('ParameterError', `${op}: unknown field(s) ${unknown.join(', ')}`, unknown.map((f) => ({ field: f, message: `unknown; known: ${known.join(', ')}` })));
  }
}

export class Logbook {
  private readonly listeners = new Set<(e: LogbookEntry) => void>();
  /** who may read and write what (open until the service gives it the catalogue's proposals) */
  access = new LogbookAccess(null);
  /** the beamline an entry is attached to when it names none (the catalogue's) */
  beamline: string | null = null;
  /** the proposal an entry that names neither proposal nor beamline belongs to (the data policy's current one) */
  currentProposal: () => string | null = () => null;

  constructor(
    readonly repo: LogbookRepository,
    /** who a connection's token writes as */
    readonly authors: LogbookAuthors,
  ) {}

  onEntry(fn: (e: LogbookEntry) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private announce(e: LogbookEntry): LogbookEntry {
    for (const fn of this.listeners) fn(e);
    return e;
  }

  /** A new entry from a client's fields (`logbook.add`, or the ICAT+ adapter's mapping). */
  add(r: Fields, author: string, extra: NewAttachment[] = [], who: Principal = OPERATOR): LogbookEntry {
    const format = v.oneOf(r, 'format', v.LOGBOOK_FORMATS, 'plainText');
    const type = v.oneOf(r, 'type', v.LOGBOOK_TYPES, 'annotation');
    const category = v.oneOf(r, 'category', v.LOGBOOK_CATEGORIES, type === 'annotation' ? 'comment' : 'info');
    const attachments = [...v.attachments(r), ...extra];
    if (attachments.length > LOGBOOK_MAX_ATTACHMENTS) throw v.bad('attachments', `more than ${LOGBOOK_MAX_ATTACHMENTS} attachments`);
    const text = r.content === undefined && attachments.length ? '' : v.content(r);
    const created = v.time(r, 'created');
    const links = v.links(r);
    if (!links.proposal && !links.beamline) {
      const current = this.currentProposal();
      if (current) links.proposal = current;
    }
    if (!links.beamline && this.beamline) links.beamline = this.beamline;
    this.access.requireWrite(who, links);
    const entry: NewEntry = {
      type,
      category,
      tags: v.tags(r),
      format,
      ...render(format, text),
      author,
      software: v.optName(r, 'software'),
      machine: v.optName(r, 'machine'),
      links,
      attachments,
      created: created === undefined ? undefined : new Date(created),
    };
    return this.announce(this.repo.add(entry));
  }

  /** A new version of an entry: what is not given is kept. */
  edit(r: Fields, author: string, who: Principal = OPERATOR): LogbookEntry {
    const id = this.entryId(r);
    const cur = this.get(id, who);
    this.access.requireWrite(who, cur);
    const format = v.oneOf(r, 'format', v.LOGBOOK_FORMATS, cur.format);
    const text = r.content === undefined ? (format === cur.format ? cur.content : cur.text) : v.content(r);
    return this.announce(
      this.repo.edit(id, {
        category: v.oneOf(r, 'category', v.LOGBOOK_CATEGORIES, cur.category),
        tags: r.tags === undefined ? cur.tags : v.tags(r),
        format,
        ...render(format, text),
        author,
      }),
    );
  }

  entryId(r: Fields): number {
    const id = r.entry;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw v.bad('entry', 'must be an entry id (a positive integer)');
    return id;
  }

  /** An entry `who` may read; one it may not is refused as a missing one is. */
  get(id: number, who: Principal = OPERATOR): LogbookEntry {
    const e = this.repo.get(id);
    if (!e || !this.access.canRead(who, e)) throw new DaqError('NotFoundError', `no logbook entry ${id}`);
    return e;
  }

  versions(id: number, who: Principal = OPERATOR): LogbookEntry[] {
    this.get(id, who);
    return this.repo.versions(id);
  }

  async search(r: Fields, who: Principal = OPERATOR): Promise<LogbookEntry[]> {
    const q = v.searchQuery(r);
    return this.repo.search({ ...q, scope: await this.access.scope(who) });
  }

  async stats(proposal: string | null, who: Principal = OPERATOR): Promise<LogbookStats> {
    if (proposal !== null) {
      await this.access.know(who, [{ proposal }]);
      this.access.requireReadProposal(who, proposal);
    }
    return this.repo.stats(proposal, await this.access.scope(who));
  }

  /**
   * The facts of the proposals a call on these fields decides on, read beforehand (add, edit, get, versions,
   * attachment decide synchronously from them): the proposal named, the current one, those of the entry or
   * attachment named.
   */
  async know(r: Fields, who: Principal = OPERATOR): Promise<void> {
    const places: { proposal?: string | null }[] = [];
    if (typeof r.proposal === 'string') places.push({ proposal: r.proposal });
    else places.push({ proposal: this.currentProposal() });
    if (typeof r.entry === 'number' && Number.isInteger(r.entry)) places.push(this.repo.get(r.entry) ?? {});
    if (typeof r.attachment === 'number' && Number.isInteger(r.attachment)) {
      const a = this.repo.attachment(r.attachment);
      if (a) places.push(this.repo.get(a.entry) ?? {});
    }
    await this.access.know(who, places);
  }

  attachment(id: number, who: Principal = OPERATOR): { name: string; mime: string; size: number; entry: number; data: Buffer } {
    const a = this.repo.attachment(id);
    const e = a ? this.repo.get(a.entry) : null;
    if (!a || !e || !this.access.canRead(who, e)) throw new DaqError('NotFoundError', `no logbook attachment ${id}`);
    return { ...a.info, entry: a.entry, data: a.data };
  }

  close(): void {
    this.repo.close();
  }
}
