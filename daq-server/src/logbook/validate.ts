/** Checking what a client writes into or asks of the logbook: every wrong field is named. */
import {
  DaqError,
  LOGBOOK_CATEGORIES,
  LOGBOOK_FORMATS,
  LOGBOOK_LINKS,
  LOGBOOK_MAX_ATTACHMENT_BYTES,
  LOGBOOK_MAX_ATTACHMENTS,
  LOGBOOK_MAX_CONTENT_CHARS,
  LOGBOOK_MAX_NAME_CHARS,
  LOGBOOK_MAX_SEARCH,
  LOGBOOK_MAX_TAGS,
  LOGBOOK_TYPES,
  type LogbookCategory,
  type LogbookLink,
  type LogbookType,
} from '../protocol/index.js';
import type { NewAttachment, SearchQuery } from './types.js';

type Fields = Record<string, unknown>;

export function bad(field: string, message: string): DaqError {
  return new DaqError('ParameterError', `${field}: ${message}`, [{ field, message }]);
}

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.slice(0, 60)) : typeof v);

export function oneOf<T extends string>(r: Fields, field: string, allowed: readonly T[], fallback: T): T {
  const v = r[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw bad(field, `unknown ${field} ${shown(v)}; one of ${allowed.join(', ')}`);
  return v as T;
}

/** A short name (tag, proposal, sample ...): printable, no longer than LOGBOOK_MAX_NAME_CHARS. */
export function name(field: string, v: unknown): string {
  if (typeof v !== 'string' || !v.trim()) throw bad(field, `must be a non-empty string, got ${shown(v)}`);
  if (v.length > LOGBOOK_MAX_NAME_CHARS) throw bad(field, `longer than ${LOGBOOK_MAX_NAME_CHARS} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw bad(field, 'control characters are not allowed');
  return v.trim();
}

export function optName(r: Fields, field: string): string | null {
  const v = r[field];
  return v === undefined || v === null ? null : name(field, v);
}

export function content(r: Fields, field = 'content'): string {
  const v = r[field];
  if (typeof v !== 'string') throw bad(field, `must be a string, got ${shown(v)}`);
  if (v.length > LOGBOOK_MAX_CONTENT_CHARS) throw bad(field, `longer than the limit of ${LOGBOOK_MAX_CONTENT_CHARS} characters`);
  return v;
}

export function tags(r: Fields, field = 'tags'): string[] {
  const v = r[field];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw bad(field, `must be a list of strings, got ${shown(v)}`);
  if (list.length > LOGBOOK_MAX_TAGS) throw bad(field, `more than ${LOGBOOK_MAX_TAGS} tags`);
  return [...new Set(list.map((t, i) => name(`${field}[${i}]`, t)))];
}

export function links(r: Fields): Partial<Record<LogbookLink, string>> {
  const out: Partial<Record<LogbookLink, string>> = {};
  for (const k of LOGBOOK_LINKS) {
    const v = optName(r, k);
    if (v !== null) out[k] = v;
  }
  return out;
}

const MIME_RE = /^[a-z]+\/[a-z0-9.+-]+$/i;

/** An attachment from base64 (a bare string or a `data:MIME;base64,` URL), checked against the size limit first. */
export function attachment(field: string, v: unknown): NewAttachment {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, 'must be {name, mime, base64}');
  const a = v as Fields;
  let b64 = a.base64;
  if (typeof b64 !== 'string') throw bad(`${field}.base64`, 'must be a base64 string');
  let mime = typeof a.mime === 'string' ? a.mime : null;
  const m = /^data:([^;,]*)(;base64)?,/.exec(b64);
  if (m) {
    if (!m[2]) throw bad(`${field}.base64`, 'a data: URL must be base64-encoded (data:MIME;base64,...)');
    mime = mime ?? (m[1] || 'application/octet-stream');
    b64 = b64.slice(m[0].length);
  }
  const s = b64 as string;
  // the decoded size, known before decoding: nothing over the limit is decoded
  const size = Math.floor((s.length * 3) / 4) - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0);
  if (size > LOGBOOK_MAX_ATTACHMENT_BYTES) {
    throw bad(field, `attachment of ${size} bytes is over the limit of ${LOGBOOK_MAX_ATTACHMENT_BYTES} bytes (LOGBOOK_MAX_ATTACHMENT_BYTES)`);
  }
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s)) throw bad(`${field}.base64`, 'is not base64');
  mime = mime ?? 'application/octet-stream';
  if (!MIME_RE.test(mime)) throw bad(`${field}.mime`, `not a MIME type: ${shown(mime)}`);
  const ext = mime.split('/')[1].replace(/[^a-z0-9]/gi, '').slice(0, 8) || 'bin';
  return { name: a.name === undefined ? `attachment.${ext}` : name(`${field}.name`, a.name), mime: mime.toLowerCase(), data: Buffer.from(s, 'base64') };
}

export function attachments(r: Fields, field = 'attachments'): NewAttachment[] {
  const v = r[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(field, 'must be a list of {name, mime, base64}');
  if (v.length > LOGBOOK_MAX_ATTACHMENTS) throw bad(field, `more than ${LOGBOOK_MAX_ATTACHMENTS} attachments`);
  return v.map((a, i) => attachment(`${field}[${i}]`, a));
}

/** A time: ISO 8601 text or seconds since the epoch; returned as ms since the epoch. */
export function time(r: Fields, field: string): number | undefined {
  const v = r[field];
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw bad(field, `expected an ISO 8601 time or seconds since the epoch, got ${shown(v)}`);
  return ms;
}

function listOf<T extends string>(r: Fields, field: string, allowed: readonly T[]): T[] | undefined {
  const v = r[field];
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.some((x) => x === null)) throw bad(field, `one of ${allowed.join(', ')}, or a list of them`);
  return [...new Set(list.map((x) => oneOf({ [field]: x }, field, allowed, allowed[0])))];
}

export const SEARCH_FIELDS = ['text', 'tags', 'category', 'type', 'since', 'until', 'before', 'limit', ...LOGBOOK_LINKS];

export function searchQuery(r: Fields): SearchQuery {
  const text = r.text === undefined || r.text === null ? undefined : content(r, 'text');
  const limit = r.limit === undefined ? 100 : r.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > LOGBOOK_MAX_SEARCH) {
    throw bad('limit', `must be an integer from 1 to ${LOGBOOK_MAX_SEARCH}`);
  }
  const before = r.before;
  if (before !== undefined && before !== null && (typeof before !== 'number' || !Number.isInteger(before))) throw bad('before', 'must be an entry id');
  return {
    text: text?.slice(0, 1000),
    tags: tags(r),
    categories: listOf<LogbookCategory>(r, 'category', LOGBOOK_CATEGORIES),
    types: listOf<LogbookType>(r, 'type', LOGBOOK_TYPES),
    since: time(r, 'since'),
    until: time(r, 'until'),
    before: typeof before === 'number' ? before : undefined,
    links: links(r),
    limit,
  };
}

export { LOGBOOK_CATEGORIES, LOGBOOK_FORMATS, LOGBOOK_TYPES };
