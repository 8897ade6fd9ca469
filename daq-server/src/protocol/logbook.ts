/**
 * The e-logbook (`logbook.*` operations, `logbook.entry` event): what a client
 * sends and sees. docs/PROTOCOL.md, "E-logbook". The ICAT+ adapter
 * (api/icatplus/) maps ICAT+'s names onto these.
 */

/** annotation: written by a person; notification: written by software (daqlab itself, BLISS through ICAT+). */
export const LOGBOOK_TYPES = ['annotation', 'notification'] as const;
export type LogbookType = (typeof LOGBOOK_TYPES)[number];

export const LOGBOOK_CATEGORIES = ['info', 'error', 'debug', 'commandline', 'comment'] as const;
export type LogbookCategory = (typeof LOGBOOK_CATEGORIES)[number];

/** How `content` is written: it is always stored and served as sanitised HTML too (`html`). */
export const LOGBOOK_FORMATS = ['plainText', 'html', 'markdown'] as const;
export type LogbookFormat = (typeof LOGBOOK_FORMATS)[number];

/** What an entry may be attached to (each optional; a scan key is a dataset). */
export const LOGBOOK_LINKS = ['beamline', 'proposal', 'session', 'sample', 'dataset'] as const;
export type LogbookLink = (typeof LOGBOOK_LINKS)[number];

/** Largest attachment (decoded bytes). Over the WebSocket the request itself is also capped at MAX_REQUEST_BYTES. */
export const LOGBOOK_MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024;
/** Attachments per entry. */
export const LOGBOOK_MAX_ATTACHMENTS = 16;
/** Content of one entry (characters, as sent). */
export const LOGBOOK_MAX_CONTENT_CHARS = 256 * 1024;
/** Tags per entry, and characters per tag / per link value. */
export const LOGBOOK_MAX_TAGS = 32;
export const LOGBOOK_MAX_NAME_CHARS = 128;
/** Most entries one search returns. */
export const LOGBOOK_MAX_SEARCH = 500;

export interface LogbookAttachmentInfo {
  id: number;
  name: string;
  mime: string;
  size: number;
}

/** One entry as clients see it: its current version. */
export interface LogbookEntry {
  /** sequential: the order entries were written in */
  id: number;
  /** when the entry was first written (ISO 8601, UTC) and when this version was */
  created: string;
  updated: string;
  /** 1 for the first version; each edit adds one (logbook.get with versions: true lists them all) */
  version: number;
  type: LogbookType;
  category: LogbookCategory;
  tags: string[];
  format: LogbookFormat;
  /** as written (HTML: already sanitised) */
  content: string;
  /** safe to insert into a page: sanitised HTML (Markdown rendered, plain text escaped) */
  html: string;
  /** the words, for display in lists and for search */
  text: string;
  author: string;
  software: string | null;
  machine: string | null;
  beamline: string | null;
  proposal: string | null;
  session: string | null;
  sample: string | null;
  dataset: string | null;
  attachments: LogbookAttachmentInfo[];
}

export interface LogbookStats {
  proposal: string | null;
  entries: number;
  by_type: Record<string, number>;
  by_category: Record<string, number>;
  tags: Record<string, number>;
  attachments: number;
  attachment_bytes: number;
  first: string | null;
  last: string | null;
}
