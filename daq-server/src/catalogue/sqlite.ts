/**
 * The catalogue in SQLite (better-sqlite3, embedded, one file): the synchronous engine. It runs only inside
 * a worker thread (sqlite-thread.ts), never on the server's event loop: a text search over 100,000 datasets
 * (a LIKE that scans every visible row) or a count of a large filter can take longer than a client may hold
 * the loop. Every list also has a LIMIT ≤ MAX_LIMIT. Schema changes are numbered migrations in `user_version`.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SyncRepository } from './repository.js';
import { datasetsOf, datasetWhere, limitOf, publishedOf, type DatasetRow, type FileRow, type SourceRow } from './rows.js';
import { MAX_LIMIT, type DataFile, type Dataset, type DatasetQuery, type Instrument, type Proposal, type PublishedData, type Sample, type Visibility } from './types.js';

const MIGRATIONS: string[] = [
  `CREATE TABLE instruments (name TEXT PRIMARY KEY, title TEXT NOT NULL);
   CREATE TABLE proposals (id TEXT PRIMARY KEY, title TEXT NOT NULL, abstract TEXT NOT NULL, beamline TEXT NOT NULL,
     start_time TEXT NOT NULL, end_time TEXT NOT NULL, release_date TEXT NOT NULL);
   CREATE TABLE members (proposal TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE, user TEXT NOT NULL, role TEXT NOT NULL,
     PRIMARY KEY (proposal, user));
   CREATE INDEX members_user ON members(user);
   CREATE TABLE samples (pid TEXT PRIMARY KEY, proposal TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, created TEXT NOT NULL,
     UNIQUE (proposal, name));
   CREATE TABLE datasets (pid TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, proposal TEXT NOT NULL, sample TEXT NOT NULL,
     beamline TEXT NOT NULL, collection TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL, created TEXT NOT NULL,
     end_time TEXT, scan_key TEXT, folder TEXT NOT NULL, metadata TEXT NOT NULL, size INTEGER NOT NULL);
   CREATE INDEX datasets_proposal ON datasets(proposal, created);
   CREATE INDEX datasets_collection ON datasets(proposal, sample, collection);
   CREATE INDEX datasets_created ON datasets(created);
   CREATE INDEX datasets_scan ON datasets(scan_key);
   CREATE TABLE sources (dataset TEXT NOT NULL REFERENCES datasets(pid) ON DELETE CASCADE, source TEXT NOT NULL, PRIMARY KEY (dataset, source));
   CREATE TABLE datafiles (dataset TEXT NOT NULL REFERENCES datasets(pid) ON DELETE CASCADE, path TEXT NOT NULL, size INTEGER NOT NULL,
     sha256 TEXT, mtime TEXT, PRIMARY KEY (dataset, path));
   CREATE TABLE published (doi TEXT PRIMARY KEY, title TEXT NOT NULL, abstract TEXT NOT NULL, creators TEXT NOT NULL, publisher TEXT NOT NULL,
     year INTEGER NOT NULL, datasets TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL);`,
  // newest-first lists walk an index in their order and stop after LIMIT rows (not sort every visible row)
  `DROP INDEX datasets_created;
   CREATE INDEX datasets_created ON datasets(created, pid);
   DROP INDEX datasets_proposal;
   CREATE INDEX datasets_proposal ON datasets(proposal, created, pid);`,
  // DOIs: which proposal, of datasets or a whole session, when their state last changed
  `ALTER TABLE published ADD COLUMN proposal TEXT NOT NULL DEFAULT '';
   ALTER TABLE published ADD COLUMN kind TEXT NOT NULL DEFAULT 'dataset';
   ALTER TABLE published ADD COLUMN updated TEXT NOT NULL DEFAULT '';`,
];

/** The SQL condition (on `d` datasets joined with `p` proposals) of what `v` may read, and its parameters. */
function visible(v: Visibility): { sql: string; params: unknown[] } {
  if (v.all || v.beamlines.includes('*')) return { sql: '1', params: [] };
  // only the conditions that can hold: the planner then uses the indexes it can
  const or: string[] = [];
  const params: unknown[] = [];
  if (v.beamlines.length) {
    or.push('d.beamline IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(v.beamlines));
  }
  if (v.proposals.length) {
    or.push('d.proposal IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(v.proposals));
  }
  if (v.user !== null) {
    or.push('d.proposal IN (SELECT m.proposal FROM members m WHERE m.user = ?)');
    params.push(v.user);
  }
  or.push('p.release_date <= ?');
  params.push(v.now);
  return { sql: `(${or.join(' OR ')})`, params };
}

/** datasets added between refreshes of the planner's statistics */
const OPTIMIZE_EVERY = 5000;

export class SqliteCatalogue implements SyncRepository {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private added = 0;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    // the planner needs statistics to walk the newest-first index rather than sort what is visible;
    // analysis_limit keeps each ANALYZE approximate and short (it runs on the event loop)
    this.db.pragma('analysis_limit = 1000');
    this.db.pragma('optimize = 0x10002');
  }

  private migrate(): void {
    const at = this.db.pragma('user_version', { simple: true }) as number;
    if (at > MIGRATIONS.length) throw new Error(`catalogue ${this.path}: schema version ${at} is newer than this server's (${MIGRATIONS.length})`);
    for (let k = at; k < MIGRATIONS.length; k++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[k]);
        this.db.pragma(`user_version = ${k + 1}`);
      })();
    }
  }

  putInstrument(i: Instrument): void {
    this.db.prepare('INSERT INTO instruments (name, title) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET title = excluded.title').run(i.name, i.title);
  }

  instruments(): Instrument[] {
    return this.db.prepare('SELECT name, title FROM instruments ORDER BY name LIMIT ?').all(MAX_LIMIT) as Instrument[];
  }

  putProposal(p: Proposal): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO proposals (id, title, abstract, beamline, start_time, end_time, release_date) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET title = excluded.title, abstract = excluded.abstract, beamline = excluded.beamline,
             start_time = excluded.start_time, end_time = excluded.end_time, release_date = excluded.release_date`,
        )
        .run(p.id, p.title, p.abstract, p.beamline, p.start, p.end, p.releaseDate);
      this.db.prepare('DELETE FROM members WHERE proposal = ?').run(p.id);
      const add = this.db.prepare('INSERT OR REPLACE INTO members (proposal, user, role) VALUES (?, ?, ?)');
      for (const m of p.team) add.run(p.id, m.user, m.role);
    })();
  }

  private proposalOf(row: Record<string, string>): Proposal {
    const team = this.db.prepare('SELECT user, role FROM members WHERE proposal = ? ORDER BY user').all(row.id) as Proposal['team'];
    return { id: row.id, title: row.title, abstract: row.abstract, beamline: row.beamline, team, start: row.start_time, end: row.end_time, releaseDate: row.release_date };
  }

  proposal(id: string): Proposal | null {
    const row = this.db.prepare('SELECT * FROM proposals WHERE id = ?').get(id) as Record<string, string> | undefined;
    return row ? this.proposalOf(row) : null;
  }

  proposals(v: Visibility, limit: number, skip: number): Proposal[] {
    // the same rule as datasets, with the proposal itself in place of a dataset
    const w = visible(v);
    const rows = this.db
      .prepare(`SELECT p.* FROM proposals p JOIN (SELECT id AS proposal, beamline FROM proposals) d ON d.proposal = p.id WHERE ${w.sql} ORDER BY p.id LIMIT ? OFFSET ?`)
      .all(...w.params, limitOf(limit), Math.max(0, skip)) as Record<string, string>[];
    return rows.map((r) => this.proposalOf(r));
  }

  addDatafiles(pid: string, files: DataFile[]): void {
    this.db.transaction(() => {
      const file = this.db.prepare('INSERT OR REPLACE INTO datafiles (dataset, path, size, sha256, mtime) VALUES (?, ?, ?, ?, ?)');
      for (const f of files) file.run(pid, f.path, f.size, f.sha256, f.mtime);
      this.db.prepare('UPDATE datasets SET size = (SELECT COALESCE(SUM(size), 0) FROM datafiles WHERE dataset = ?) WHERE pid = ?').run(pid, pid);
    })();
  }

  addSample(s: Sample): void {
    this.db.prepare('INSERT INTO samples (pid, proposal, name, description, created) VALUES (?, ?, ?, ?, ?)').run(s.pid, s.proposal, s.name, s.description, s.created);
  }

  sample(proposal: string, name: string): Sample | null {
    return (this.db.prepare('SELECT * FROM samples WHERE proposal = ? AND name = ?').get(proposal, name) as Sample | undefined) ?? null;
  }

  sampleByPid(pid: string): Sample | null {
    return (this.db.prepare('SELECT * FROM samples WHERE pid = ?').get(pid) as Sample | undefined) ?? null;
  }

  samples(v: Visibility, proposal: string | null, limit: number, skip: number): Sample[] {
    const w = visible(v);
    return this.db
      .prepare(
        `SELECT s.* FROM samples s JOIN proposals p ON p.id = s.proposal JOIN (SELECT id AS proposal, beamline FROM proposals) d ON d.proposal = s.proposal
         WHERE ${w.sql} AND (? IS NULL OR s.proposal = ?) ORDER BY s.created LIMIT ? OFFSET ?`,
      )
      .all(...w.params, proposal, proposal, limitOf(limit), Math.max(0, skip)) as Sample[];
  }

  addDataset(d: Dataset): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO datasets (pid, name, type, proposal, sample, beamline, collection, title, description, created, end_time, scan_key, folder, metadata, size)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(d.pid, d.name, d.type, d.proposal, d.sample, d.beamline, d.collection, d.title, d.description, d.created, d.end, d.scanKey, d.folder, JSON.stringify(d.metadata), d.size);
      const src = this.db.prepare('INSERT OR IGNORE INTO sources (dataset, source) VALUES (?, ?)');
      for (const s of d.sources) src.run(d.pid, s);
      const file = this.db.prepare('INSERT OR REPLACE INTO datafiles (dataset, path, size, sha256, mtime) VALUES (?, ?, ?, ?, ?)');
      for (const f of d.files) file.run(d.pid, f.path, f.size, f.sha256, f.mtime);
    })();
    if (++this.added % OPTIMIZE_EVERY === 0) this.db.pragma('optimize = 0x10002');
  }

  /** Rows to datasets, their files and sources read in one query each (not one per dataset). */
  private datasetsOf(rows: DatasetRow[]): Dataset[] {
    if (!rows.length) return [];
    const pids = JSON.stringify(rows.map((r) => r.pid));
    const files = this.db.prepare('SELECT dataset, path, size, sha256, mtime FROM datafiles WHERE dataset IN (SELECT value FROM json_each(?)) ORDER BY dataset, path').all(pids) as FileRow[];
    const sources = this.db.prepare('SELECT dataset, source FROM sources WHERE dataset IN (SELECT value FROM json_each(?)) ORDER BY dataset, source').all(pids) as SourceRow[];
    return datasetsOf(rows, files, sources);
  }

  dataset(pid: string, v: Visibility): Dataset | null {
    const w = visible(v);
    const r = this.db.prepare(`SELECT d.* FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE d.pid = ? AND ${w.sql}`).get(pid, ...w.params) as DatasetRow | undefined;
    return r ? this.datasetsOf([r])[0] : null;
  }

  private where(q: DatasetQuery, v: Visibility): { sql: string; params: unknown[] } {
    return datasetWhere(q, visible(v), 'LIKE');
  }

  datasets(q: DatasetQuery, v: Visibility): Dataset[] {
    const w = this.where(q, v);
    const order = q.order === 'created' ? 'd.created ASC, d.pid ASC' : 'd.created DESC, d.pid DESC';
    const rows = this.db
      .prepare(`SELECT d.* FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...w.params, limitOf(q.limit), Math.max(0, q.skip)) as DatasetRow[];
    return this.datasetsOf(rows);
  }

  countDatasets(q: DatasetQuery, v: Visibility): number {
    const w = this.where(q, v);
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
  }

  pidOfScan(scanKey: string): string | null {
    return (this.db.prepare('SELECT pid FROM datasets WHERE scan_key = ? LIMIT 1').get(scanKey) as { pid: string } | undefined)?.pid ?? null;
  }

  collectionUsed(proposal: string, sample: string, collection: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM datasets WHERE proposal = ? AND sample = ? AND collection = ? LIMIT 1').get(proposal, sample, collection);
  }

  putPublished(p: PublishedData): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO published (doi, title, abstract, creators, publisher, year, datasets, status, created, proposal, kind, updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(p.doi, p.title, p.abstract, JSON.stringify(p.creators), p.publisher, p.year, JSON.stringify(p.datasets), p.status, p.created, p.proposal, p.kind, p.updated);
  }

  publishedByDoi(doi: string): PublishedData | null {
    const r = this.db.prepare('SELECT * FROM published WHERE doi = ?').get(doi) as Record<string, string | number> | undefined;
    return r ? publishedOf(r) : null;
  }

  published(v: Visibility, limit: number, skip: number): PublishedData[] {
    // a publication is listed to whoever may read its first dataset, and to everyone once findable
    const rows = this.db.prepare('SELECT * FROM published ORDER BY created, doi LIMIT ?').all(MAX_LIMIT) as Record<string, string | number>[];
    const out = rows.map(publishedOf).filter((p) => p.status === 'findable' || p.datasets.some((pid) => this.dataset(pid, v)));
    return out.slice(Math.max(0, skip), Math.max(0, skip) + limitOf(limit));
  }

  close(): void {
    this.db.close();
  }
}
