/**
 * The logbook in one SQLite file (npm better-sqlite3; `:memory:` when the server keeps no state).
 * `entries` holds each entry's current version, `versions` every version ever written (an edit
 * adds one; nothing is deleted), `entry_tags` indexes the current tags, `attachments` the files
 * (as BLOBs, bounded by LOGBOOK_MAX_ATTACHMENT_BYTES), and `entries_fts` (FTS5, kept by triggers)
 * the text, so that a text search over one investigation is an index lookup.
 */
import Database from 'better-sqlite3';
import { DaqError, LOGBOOK_LINKS, type LogbookAttachmentInfo, type LogbookEntry, type LogbookStats } from '../protocol/index.js';
import type { LogbookRepository, LogbookScope, NewEntry, SearchQuery, VersionFields } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created TEXT NOT NULL, created_ms INTEGER NOT NULL, updated TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, category TEXT NOT NULL, tags TEXT NOT NULL, format TEXT NOT NULL,
  content TEXT NOT NULL, html TEXT NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL,
  software TEXT, machine TEXT, beamline TEXT, proposal TEXT, session TEXT, sample TEXT, dataset TEXT
);
CREATE INDEX IF NOT EXISTS entries_proposal ON entries (proposal, id);
CREATE INDEX IF NOT EXISTS entries_created ON entries (created_ms);
CREATE INDEX IF NOT EXISTS entries_dataset ON entries (dataset);
CREATE TABLE IF NOT EXISTS versions (
  entry INTEGER NOT NULL REFERENCES entries (id), version INTEGER NOT NULL, updated TEXT NOT NULL,
  category TEXT NOT NULL, tags TEXT NOT NULL, format TEXT NOT NULL, content TEXT NOT NULL,
  html TEXT NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL,
  PRIMARY KEY (entry, version)
);
CREATE TABLE IF NOT EXISTS entry_tags (entry INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (tag, entry));
CREATE TABLE IF NOT EXISTS attachments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, entry INTEGER NOT NULL REFERENCES entries (id),
  name TEXT NOT NULL, mime TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_entry ON attachments (entry);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5 (text, content='entries', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS entries_fts_add AFTER INSERT ON entries BEGIN
  INSERT INTO entries_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS entries_fts_edit AFTER UPDATE OF text ON entries BEGIN
  INSERT INTO entries_fts (entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO entries_fts (rowid, text) VALUES (new.id, new.text);
END;
`;

/** An `entries` row: the entry's columns, its enums and tags (JSON) as stored text, its attachments in their own table. */
type Row = Omit<LogbookEntry, 'type' | 'category' | 'tags' | 'format' | 'attachments'> & { type: string; category: string; tags: string; format: string };

/** FTS5 query of the words of `text`, each quoted (so no user text is FTS syntax), all required. */
function ftsQuery(text: string): string | null {
  const words = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (!words.length) return null;
  return words.slice(0, 32).map((w) => `"${w}"`).join(' ');
}

/** The SQL condition (on `e` entries) of what a scope lets a reader see (logbook/access.ts), and its parameters. */
function scoped(scope: LogbookScope | null | undefined): { sql: string; args: unknown[] } | null {
  if (!scope) return null;
  return {
    sql: '(e.proposal IN (SELECT value FROM json_each(?)) OR (e.proposal IS NULL AND e.beamline IN (SELECT value FROM json_each(?))))',
    args: [JSON.stringify(scope.proposals), JSON.stringify(scope.beamlines)],
  };
}

export class SqliteLogbook implements LogbookRepository {
  private readonly db: Database.Database;
  private readonly attachmentsOf: Database.Statement<[number], LogbookAttachmentInfo>;

  /** `path`: a file (created with its tables when new) or `:memory:` */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.attachmentsOf = this.db.prepare('SELECT id, name, mime, size FROM attachments WHERE entry = ? ORDER BY id');
  }

  private toEntry(r: Row): LogbookEntry {
    return {
      ...(r as Omit<Row, 'tags'>),
      type: r.type as LogbookEntry['type'],
      category: r.category as LogbookEntry['category'],
      format: r.format as LogbookEntry['format'],
      tags: JSON.parse(r.tags) as string[],
      attachments: this.attachmentsOf.all(r.id),
    };
  }

  add(e: NewEntry): LogbookEntry {
    const when = e.created ?? new Date();
    const iso = when.toISOString();
    const tags = JSON.stringify(e.tags);
    const write = this.db.transaction((): number => {
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO entries (created, created_ms, updated, version, type, category, tags, format, content, html, text, author,
             software, machine, beamline, proposal, session, sample, dataset)
           VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(iso, when.getTime(), new Date().toISOString(), e.type, e.category, tags, e.format, e.content, e.html, e.text, e.author,
          e.software, e.machine, ...LOGBOOK_LINKS.map((k) => e.links[k] ?? null));
      const id = Number(lastInsertRowid);
      this.addVersion(id, 1, iso, e);
      for (const a of e.attachments) {
        this.db.prepare('INSERT INTO attachments (entry, name, mime, size, data) VALUES (?, ?, ?, ?, ?)').run(id, a.name, a.mime, a.data.length, a.data);
      }
      return id;
    });
    return this.get(write())!;
  }

  private addVersion(id: number, version: number, updated: string, v: VersionFields): void {
    this.db
      .prepare('INSERT INTO versions (entry, version, updated, category, tags, format, content, html, text, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, version, updated, v.category, JSON.stringify(v.tags), v.format, v.content, v.html, v.text, v.author);
    const setTags = this.db.prepare('INSERT OR IGNORE INTO entry_tags (entry, tag) VALUES (?, ?)');
    this.db.prepare('DELETE FROM entry_tags WHERE entry = ?').run(id); // an index of the current tags; versions keep every one
    for (const t of v.tags) setTags.run(id, t);
  }

  edit(id: number, v: VersionFields): LogbookEntry {
    this.db.transaction(() => {
      const cur = this.db.prepare('SELECT version FROM entries WHERE id = ?').get(id) as { version: number } | undefined;
      if (!cur) throw new DaqError('NotFoundError', `no logbook entry ${id}`);
      const updated = new Date().toISOString();
      const version = cur.version + 1;
      this.db
        .prepare('UPDATE entries SET version = ?, updated = ?, category = ?, tags = ?, format = ?, content = ?, html = ?, text = ?, author = ? WHERE id = ?')
        .run(version, updated, v.category, JSON.stringify(v.tags), v.format, v.content, v.html, v.text, v.author, id);
      this.addVersion(id, version, updated, v);
    })();
    return this.get(id)!;
  }

  get(id: number): LogbookEntry | null {
    const r = this.db.prepare('SELECT * FROM entries WHERE id = ?').get(id) as Row | undefined;
    return r ? this.toEntry(r) : null;
  }

  versions(id: number): LogbookEntry[] {
    const base = this.db.prepare('SELECT * FROM entries WHERE id = ?').get(id) as Row | undefined;
    if (!base) return [];
    const rows = this.db.prepare('SELECT * FROM versions WHERE entry = ? ORDER BY version').all(id) as (Omit<Row, 'id'> & { entry: number })[];
    return rows.map(({ entry: _entry, ...v }) => this.toEntry({ ...base, ...v }));
  }

  search(q: SearchQuery): LogbookEntry[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.text) {
      const fts = ftsQuery(q.text);
      if (fts === null) return [];
      where.push('e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)');
      args.push(fts);
    }
    for (const t of q.tags ?? []) {
      where.push('e.id IN (SELECT entry FROM entry_tags WHERE tag = ?)');
      args.push(t);
    }
    if (q.categories?.length) {
      where.push(`e.category IN (${q.categories.map(() => '?').join(', ')})`);
      args.push(...q.categories);
    }
    if (q.types?.length) {
      where.push(`e.type IN (${q.types.map(() => '?').join(', ')})`);
      args.push(...q.types);
    }
    if (q.since !== undefined) (where.push('e.created_ms >= ?'), args.push(q.since));
    if (q.until !== undefined) (where.push('e.created_ms < ?'), args.push(q.until));
    if (q.before !== undefined) (where.push('e.id < ?'), args.push(q.before));
    for (const k of LOGBOOK_LINKS) {
      const v = q.links?.[k];
      if (v !== undefined) (where.push(`e.${k} = ?`), args.push(v));
    }
    const scope = scoped(q.scope);
    if (scope) (where.push(scope.sql), args.push(...scope.args));
    const sql = `SELECT e.* FROM entries e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit) as Row[];
    return rows.map((r) => this.toEntry(r));
  }

  attachment(id: number): { info: LogbookAttachmentInfo; entry: number; data: Buffer } | null {
    const r = this.db.prepare('SELECT id, entry, name, mime, size, data FROM attachments WHERE id = ?').get(id) as
      | (LogbookAttachmentInfo & { entry: number; data: Buffer })
      | undefined;
    if (!r) return null;
    const { data, entry, ...info } = r;
    return { info, entry, data };
  }

  stats(proposal: string | null, scope?: LogbookScope | null): LogbookStats {
    const conds: string[] = [];
    const args: unknown[] = [];
    if (proposal !== null) (conds.push('e.proposal = ?'), args.push(proposal));
    const sc = scoped(scope);
    if (sc) (conds.push(sc.sql), args.push(...sc.args));
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const count = (col: string): Record<string, number> =>
      Object.fromEntries(
        (this.db.prepare(`SELECT e.${col} AS k, COUNT(*) AS n FROM entries e ${where} GROUP BY e.${col}`).all(...args) as { k: string; n: number }[]).map((r) => [r.k, r.n]),
      );
    const span = this.db.prepare(`SELECT COUNT(*) AS n, MIN(e.created) AS first, MAX(e.created) AS last FROM entries e ${where}`).get(...args) as {
      n: number;
      first: string | null;
      last: string | null;
    };
    const tags = this.db
      .prepare(`SELECT t.tag AS k, COUNT(*) AS n FROM entry_tags t JOIN entries e ON e.id = t.entry ${where} GROUP BY t.tag ORDER BY n DESC LIMIT 50`)
      .all(...args) as { k: string; n: number }[];
    const att = this.db
      .prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(a.size), 0) AS bytes FROM attachments a JOIN entries e ON e.id = a.entry ${where}`)
      .get(...args) as { n: number; bytes: number };
    return {
      proposal,
      entries: span.n,
      by_type: count('type'),
      by_category: count('category'),
      tags: Object.fromEntries(tags.map((r) => [r.k, r.n])),
      attachments: att.n,
      attachment_bytes: att.bytes,
      first: span.first,
      last: span.last,
    };
  }

  /** Run `fn` (many adds: an import, a benchmark's fill) as one transaction. */
  bulk<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** The database itself, for a benchmark's bare SQL beside the repository's queries. */
  get raw(): Database.Database {
    return this.db;
  }

  close(): void {
    this.db.close();
  }
}
