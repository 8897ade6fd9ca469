/**
 * SciCat's query parameters (LoopBack `filter`, fullquery's `fields` and `limits`) mapped onto our
 * dataset query. A subset: equality on the fields below, `like` on names, `and`; anything else is
 * refused with the field named, never ignored (an ignored condition would widen what is returned).
 */
import { DaqError } from '../../protocol/index.js';
import { MAX_LIMIT, type DatasetQuery } from '../../catalogue/types.js';

const MAX_FILTER_CHARS = 8192;

/** SciCat field → our query field */
const EQUAL: Record<string, 'pid' | 'proposal' | 'sample' | 'type' | 'collection'> = {
  pid: 'pid',
  proposalId: 'proposal',
  ownerGroup: 'proposal',
  sampleId: 'sample',
  type: 'type',
  keywords: 'collection',
};
const LIKE = ['datasetName', 'description', 'text'];

function bad(field: string, message: string): DaqError {
  return new DaqError('ParameterError', `${field}: ${message}`, [{ field, message }]);
}

export function parseJsonParam(raw: string | null, field: string): Record<string, unknown> {
  if (raw === null || raw === '') return {};
  if (raw.length > MAX_FILTER_CHARS) throw bad(field, `longer than ${MAX_FILTER_CHARS} characters`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw bad(field, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, 'expected a JSON object');
  return v as Record<string, unknown>;
}

function scalar(v: unknown, field: string): string {
  if (typeof v === 'string' && v.length <= 200) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw bad(field, 'expected a string (at most 200 characters)');
}

/** Apply one `where` object's conditions to `q`. */
function applyWhere(where: Record<string, unknown>, q: Partial<DatasetQuery>, field: string): void {
  for (const [k, v] of Object.entries(where)) {
    const f = `${field}.${k}`;
    if (k === 'and') {
      if (!Array.isArray(v) || v.length > 20) throw bad(f, 'expected a list of conditions (at most 20)');
      v.forEach((c, i) => {
        if (typeof c !== 'object' || c === null || Array.isArray(c)) throw bad(`${f}[${i}]`, 'expected an object');
        applyWhere(c as Record<string, unknown>, q, `${f}[${i}]`);
      });
      continue;
    }
    if (k in EQUAL) {
      const value = typeof v === 'object' && v !== null && !Array.isArray(v) && 'eq' in v ? (v as { eq: unknown }).eq : v;
      const s = scalar(value, f);
      const key = EQUAL[k];
      if (key === 'type' && s !== 'raw' && s !== 'derived') throw bad(f, 'expected raw or derived');
      if (q[key] !== undefined && q[key] !== s) throw bad(f, `conflicts with another condition on ${key}`);
      (q as Record<string, unknown>)[key] = s;
      continue;
    }
    if (LIKE.includes(k)) {
      const value = typeof v === 'object' && v !== null && !Array.isArray(v) ? ((v as Record<string, unknown>).like ?? (v as Record<string, unknown>).regexp) : v;
      const s = scalar(value, f).replace(/[\^$.*+?()[\]{}|\\/]/g, ' ').trim();
      q.text = [q.text, s].filter(Boolean).join(' ');
      continue;
    }
    throw bad(f, `not a field daqlab can filter on; supported: ${[...Object.keys(EQUAL), ...LIKE, 'and'].join(', ')}`);
  }
}

function limits(src: Record<string, unknown>, field: string, q: Partial<DatasetQuery>): void {
  if (src.limit !== undefined) {
    if (!Number.isInteger(src.limit) || (src.limit as number) < 0) throw bad(`${field}.limit`, 'expected a non-negative integer');
    q.limit = Math.min(src.limit as number, MAX_LIMIT);
  }
  if (src.skip !== undefined) {
    if (!Number.isInteger(src.skip) || (src.skip as number) < 0 || (src.skip as number) > 10_000_000) throw bad(`${field}.skip`, 'expected a non-negative integer');
    q.skip = src.skip as number;
  }
  if (src.order !== undefined) {
    const o = String(src.order);
    if (!/^creationTime(:|\s)(asc|desc)$/i.test(o)) throw bad(`${field}.order`, 'only creationTime:asc or creationTime:desc');
    q.order = /asc$/i.test(o) ? 'created' : '-created';
  }
}

/** `GET Datasets?filter={"where": {...}, "limit": n, "skip": m, "order": "..."}` */
export function datasetFilter(raw: string | null): Partial<DatasetQuery> {
  const f = parseJsonParam(raw, 'filter');
  const q: Partial<DatasetQuery> = {};
  for (const k of Object.keys(f)) if (!['where', 'limit', 'skip', 'order', 'fields', 'include'].includes(k)) throw bad(`filter.${k}`, 'unknown; known: where, limit, skip, order');
  if (f.where !== undefined) {
    if (typeof f.where !== 'object' || f.where === null || Array.isArray(f.where)) throw bad('filter.where', 'expected an object');
    applyWhere(f.where as Record<string, unknown>, q, 'filter.where');
  }
  limits(f, 'filter', q);
  return q;
}

/** `GET Datasets/fullquery?fields={...}&limits={...}` */
export function fullquery(fieldsRaw: string | null, limitsRaw: string | null): Partial<DatasetQuery> {
  const q: Partial<DatasetQuery> = {};
  applyWhere(parseJsonParam(fieldsRaw, 'fields'), q, 'fields');
  limits(parseJsonParam(limitsRaw, 'limits'), 'limits', q);
  return q;
}
