/** Rows of either backend to entities, and the SQL both backends share, where both store the same columns. */
import { MAX_LIMIT, type Dataset, type DatasetQuery, type PublishedData } from './types.js';

export function publishedOf(r: Record<string, string | number | null>): PublishedData {
  return {
    doi: String(r.doi), title: String(r.title), abstract: String(r.abstract), creators: JSON.parse(String(r.creators)) as string[],
    publisher: String(r.publisher), year: Number(r.year), datasets: JSON.parse(String(r.datasets)) as string[],
    status: r.status as PublishedData['status'], created: String(r.created),
    proposal: String(r.proposal ?? ''), kind: r.kind === 'session' ? 'session' : 'dataset', updated: String(r.updated || r.created),
  };
}

/** A `datasets` row; `size` is a string where the driver reads BIGINT as text (PostgreSQL). */
export interface DatasetRow {
  pid: string; name: string; type: 'raw' | 'derived'; proposal: string; sample: string; beamline: string; collection: string;
  title: string; description: string; created: string; end_time: string | null; scan_key: string | null; folder: string; metadata: string;
  size: number | string;
}

export type FileRow = Dataset['files'][number] & { dataset: string };
export interface SourceRow { dataset: string; source: string }

/** A page size a client asked for, bounded to [0, MAX_LIMIT]. */
export const limitOf = (n: number): number => Math.max(0, Math.min(MAX_LIMIT, Math.floor(n)));

/** Dataset rows to datasets, given the files and sources of all of them (read in one query each, not one per dataset). */
export function datasetsOf(rows: DatasetRow[], fileRows: FileRow[], sourceRows: SourceRow[]): Dataset[] {
  const files = groupBy(fileRows, ({ dataset, ...file }) => [dataset, file]);
  const sources = groupBy(sourceRows, (s) => [s.dataset, s.source]);
  return rows.map((r) => ({
    pid: r.pid, name: r.name, type: r.type, proposal: r.proposal, sample: r.sample, beamline: r.beamline, collection: r.collection,
    title: r.title, description: r.description, created: r.created, end: r.end_time, scanKey: r.scan_key, folder: r.folder,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>, sources: sources.get(r.pid) ?? [], files: files.get(r.pid) ?? [], size: Number(r.size),
  }));
}

function groupBy<T, V>(items: T[], entry: (item: T) => [string, V]): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const item of items) {
    const [key, value] = entry(item);
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(value);
  }
  return out;
}

/**
 * The WHERE condition (on `d` datasets joined with `p` proposals) of a dataset query, given the backend's condition of
 * what the caller may read; `like` is the backend's case-insensitive LIKE (SQLite's LIKE, PostgreSQL's ILIKE).
 */
export function datasetWhere(q: DatasetQuery, visible: { sql: string; params: unknown[] }, like: 'LIKE' | 'ILIKE'): { sql: string; params: unknown[] } {
  const parts = [visible.sql];
  const params = [...visible.params];
  const eq = (col: string, val: string | undefined): void => {
    if (val === undefined) return;
    parts.push(`${col} = ?`);
    params.push(val);
  };
  eq('d.proposal', q.proposal);
  eq('d.sample', q.sample);
  eq('d.type', q.type);
  eq('d.pid', q.pid);
  eq('d.collection', q.collection);
  for (const word of (q.text ?? '').split(/\s+/).filter(Boolean).slice(0, 8)) {
    parts.push(`(d.name || ' ' || d.title || ' ' || d.description || ' ' || d.sample || ' ' || COALESCE(d.scan_key, '')) ${like} ? ESCAPE '\\'`);
    params.push(`%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  return { sql: parts.join(' AND '), params };
}
