/** The logbook's storage interface: SQLite today (sqlite.ts); PostgreSQL can sit behind the same one. */
import type { LogbookAttachmentInfo, LogbookCategory, LogbookEntry, LogbookLink, LogbookStats, LogbookType } from '../protocol/index.js';

/** What an edit may change: a new version of these (`author`: who wrote this version). */
export type VersionFields = Pick<LogbookEntry, 'category' | 'tags' | 'format' | 'content' | 'html' | 'text' | 'author'>;

export interface NewAttachment {
  name: string;
  mime: string;
  data: Buffer;
}

export interface NewEntry extends VersionFields {
  type: LogbookType;
  software: string | null;
  machine: string | null;
  links: Partial<Record<LogbookLink, string>>;
  attachments: NewAttachment[];
  /** when it happened (ICAT+'s creationDate); default now */
  created?: Date;
}

/** The entries a reader may see: those of these proposals, and those of no proposal on these beamlines. */
export interface LogbookScope {
  proposals: string[];
  beamlines: string[];
}

export interface SearchQuery {
  text?: string;
  /** every tag must be there */
  tags?: string[];
  categories?: LogbookCategory[];
  types?: LogbookType[];
  /** first written at or after / before (ms since the epoch) */
  since?: number;
  until?: number;
  links?: Partial<Record<LogbookLink, string>>;
  /** entries with an id below this one (paging backwards through the timeline) */
  before?: number;
  /** newest first, at most this many */
  limit: number;
  /** only what this reader may see (logbook/access.ts); absent: every entry */
  scope?: LogbookScope | null;
}

export interface LogbookRepository {
  add(entry: NewEntry): LogbookEntry;
  /** a new version of entry `id` (NotFoundError when there is none) */
  edit(id: number, fields: VersionFields): LogbookEntry;
  get(id: number): LogbookEntry | null;
  /** every version of entry `id`, oldest first */
  versions(id: number): LogbookEntry[];
  search(query: SearchQuery): LogbookEntry[];
  attachment(id: number): { info: LogbookAttachmentInfo; entry: number; data: Buffer } | null;
  /** per investigation (`proposal`), or over what `scope` lets a reader see (null: every entry) */
  stats(proposal: string | null, scope?: LogbookScope | null): LogbookStats;
  close(): void;
}
