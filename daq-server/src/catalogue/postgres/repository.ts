/**
 * The catalogue in PostgreSQL (`--catalogue postgresql://USER@HOST:PORT/DB`): the same tables, rules and
 * bounds as sqlite.ts, through an asynchronous pool (pool.ts: every statement bounded by its timeout, so a
 * database that stops answering fails the call, never holds the event loop). Schema changes are numbered
 * migrations recorded in `daqlab_schema`, applied under an advisory lock (two servers, one database).
 */
import type { CatalogueRepository } from '../repository.js';
import { MAX_LIMIT, type DataFile, type Dataset, type DatasetQuery, type Instrument, type Proposal, type PublishedData, type Sample, type Visibility } from '../types.js';
import { PgPool, redact, type Statement } from './pool.js';
import { datasetsOf, datasetWhere, limitOf, publishedOf, type DatasetRow, type FileRow, type SourceRow } from '../rows.js';

export const PG_MIGRATIONS: string[] = [
  `CREATE TABLE instruments (name TEXT PRIMARY KEY, title TEXT NOT NULL);
   CREATE TABLE proposals (id TEXT PRIMARY KEY, title TEXT NOT NULL, abstract TEXT NOT NULL, beamline TEXT NOT NULL,
     start_time TEXT NOT NULL, end_time TEXT NOT NULL, release_date TEXT NOT NULL);
   CREATE TABLE members (proposal TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE, "user" TEXT NOT NULL, role TEXT NOT NULL,
     PRIMARY KEY (proposal, "user"));
   CREATE INDEX members_user ON members("user");
   CREATE TABLE samples (pid TEXT PRIMARY KEY, proposal TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, created TEXT NOT NULL,
     UNIQUE (proposal, name));
   CREATE TABLE datasets (pid TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, proposal TEXT NOT NULL, sample TEXT NOT NULL,
     beamline TEXT NOT NULL, collection TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL, created TEXT NOT NULL,
     end_time TEXT, scan_key TEXT, folder TEXT NOT NULL, metadata TEXT NOT NULL, size BIGINT NOT NULL);
   CREATE INDEX datasets_proposal ON datasets(proposal, created, pid);
   CREATE INDEX datasets_collection ON datasets(proposal, sample, collection);
   CREATE INDEX datasets_created ON datasets(created, pid);
   CREATE INDEX datasets_scan ON datasets(scan_key);
   CREATE TABLE sources (dataset TEXT NOT NULL REFERENCES datasets(pid) ON DELETE CASCADE, source TEXT NOT NULL, PRIMARY KEY (dataset, source));
   CREATE TABLE datafiles (dataset TEXT NOT NULL REFERENCES datasets(pid) ON DELETE CASCADE, path TEXT NOT NULL, size BIGINT NOT NULL,
     sha256 TEXT, mtime TEXT, PRIMARY KEY (dataset, path));
   CREATE TABLE published (doi TEXT PRIMARY KEY, title TEXT NOT NULL, abstract TEXT NOT NULL, creators TEXT NOT NULL, publisher TEXT NOT NULL,
     year INTEGER NOT NULL, datasets TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL,
     proposal TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'dataset', updated TEXT NOT NULL DEFAULT '');`,
];

/** `?` placeholders (as in sqlite.ts) to PostgreSQL's `$n`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The SQL condition (on `d` datasets joined with `p` proposals) of what `v` may read, and its parameters. */
function visible(v: Visibility): { sql: string; params: unknown[] } {
  if (v.all || v.beamlines.includes('*')) return { sql: 'TRUE', params: [] };
  const or: string[] = [];
  const params: unknown[] = [];
  if (v.beamlines.length) {
    or.push('d.beamline = ANY(?::text[])');
    params.push(v.beamlines);
  }
  if (v.proposals.length) {
    or.push('d.proposal = ANY(?::text[])');
    params.push(v.proposals);
  }
  if (v.user !== null) {
    or.push('d.proposal IN (SELECT m.proposal FROM members m WHERE m."user" = ?)');
    params.push(v.user);
  }
  or.push('p.release_date <= ?');
  params.push(v.now);
  return { sql: `(${or.join(' OR ')})`, params };
}

export class PostgresCatalogue implements CatalogueRepository {
  readonly kind = 'postgresql';
  private readonly db: PgPool;

  private constructor(readonly url: string, timeoutMs: number) {
    this.db = new PgPool(url, timeoutMs);
  }

  /** Connects and migrates; fails (the password never shown) when the database cannot be reached in time. */
  static async open(url: string, timeoutMs = 5000): Promise<PostgresCatalogue> {
    const repo = new PostgresCatalogue(url, timeoutMs);
    try {
      await repo.migrate();
    } catch (err) {
      await repo.db.close();
      throw err;
    }
    return repo;
  }

  private q<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.db.query<T>(numbered(sql), params);
  }

  private async tx(statements: Statement[]): Promise<void> {
    await this.db.batch(statements.map((s) => ({ sql: numbered(s.sql), params: s.params ?? [] })));
  }

  /** The schema version, then each missing migration in its own transaction (under a lock: two servers may start together). */
  private async migrate(): Promise<void> {
    await this.tx([{ sql: 'SELECT pg_advisory_xact_lock(4242001)' }, { sql: 'CREATE TABLE IF NOT EXISTS daqlab_schema (version INTEGER NOT NULL)' }]);
    for (;;) {
      const at = (await this.q<{ v: number | null }>('SELECT MAX(version) AS v FROM daqlab_schema'))[0]?.v ?? 0;
      if (at > PG_MIGRATIONS.length) throw new Error(`catalogue ${redact(this.url)}: schema version ${at} is newer than this server's (${PG_MIGRATIONS.length})`);
      if (at === PG_MIGRATIONS.length) return;
      try {
        await this.tx([
          { sql: 'SELECT pg_advisory_xact_lock(4242001)' },
          // another server may have migrated while we waited for the lock: then this fails and the loop reads the version again
          { sql: `DO $$ BEGIN IF (SELECT COALESCE(MAX(version), 0) FROM daqlab_schema) <> ${at} THEN RAISE EXCEPTION 'migrated meanwhile'; END IF; END $$` },
          ...PG_MIGRATIONS[at].split(';').map((sql) => sql.trim()).filter(Boolean).map((sql) => ({ sql })),
          { sql: 'INSERT INTO daqlab_schema (version) VALUES (?)', params: [at + 1] },
        ]);
      } catch (err) {
        if (!/migrated meanwhile/.test((err as Error).message)) throw err;
      }
    }
  }

  async putInstrument(i: Instrument): Promise<void> {
    await this.q('INSERT INTO instruments (name, title) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET title = excluded.title', [i.name, i.title]);
  }

  instruments(): Promise<Instrument[]> {
    return this.q<Instrument>('SELECT name, title FROM instruments ORDER BY name LIMIT ?', [MAX_LIMIT]);
  }

  async putProposal(p: Proposal): Promise<void> {
    await this.tx([
      {
        sql: `INSERT INTO proposals (id, title, abstract, beamline, start_time, end_time, release_date) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET title = excluded.title, abstract = excluded.abstract, beamline = excluded.beamline,
                start_time = excluded.start_time, end_time = excluded.end_time, release_date = excluded.release_date`,
        params: [p.id, p.title, p.abstract, p.beamline, p.start, p.end, p.releaseDate],
      },
      { sql: 'DELETE FROM members WHERE proposal = ?', params: [p.id] },
      ...p.team.map((m) => ({ sql: 'INSERT INTO members (proposal, "user", role) VALUES (?, ?, ?) ON CONFLICT (proposal, "user") DO UPDATE SET role = excluded.role', params: [p.id, m.user, m.role] })),
    ]);
  }

  /** Proposals with their teams, read in one query for all of them. */
  private async proposalsOf(rows: Record<string, string>[]): Promise<Proposal[]> {
    if (!rows.length) return [];
    const teams = new Map<string, Proposal['team']>();
    for (const m of await this.q<{ proposal: string; user: string; role: Proposal['team'][number]['role'] }>('SELECT proposal, "user", role FROM members WHERE proposal = ANY(?::text[]) ORDER BY proposal, "user"', [rows.map((r) => r.id)])) {
      let t = teams.get(m.proposal);
      if (!t) teams.set(m.proposal, (t = []));
      t.push({ user: m.user, role: m.role });
    }
    return rows.map((row) => ({ id: row.id, title: row.title, abstract: row.abstract, beamline: row.beamline, team: teams.get(row.id) ?? [], start: row.start_time, end: row.end_time, releaseDate: row.release_date }));
  }

  async proposal(id: string): Promise<Proposal | null> {
    return (await this.proposalsOf(await this.q<Record<string, string>>('SELECT * FROM proposals WHERE id = ?', [id])))[0] ?? null;
  }

  async proposals(v: Visibility, limit: number, skip: number): Promise<Proposal[]> {
    const w = visible(v);
    const rows = await this.q<Record<string, string>>(
      `SELECT p.* FROM proposals p JOIN (SELECT id AS proposal, beamline FROM proposals) d ON d.proposal = p.id WHERE ${w.sql} ORDER BY p.id LIMIT ? OFFSET ?`,
      [...w.params, limitOf(limit), Math.max(0, skip)],
    );
    return this.proposalsOf(rows);
  }

  async addDatafiles(pid: string, files: DataFile[]): Promise<void> {
    await this.tx([
      ...files.map((f) => ({
        sql: `INSERT INTO datafiles (dataset, path, size, sha256, mtime) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (dataset, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, mtime = excluded.mtime`,
        params: [pid, f.path, f.size, f.sha256, f.mtime],
      })),
      { sql: 'UPDATE datasets SET size = (SELECT COALESCE(SUM(size), 0) FROM datafiles WHERE dataset = ?) WHERE pid = ?', params: [pid, pid] },
    ]);
  }

  async addSample(s: Sample): Promise<void> {
    await this.q('INSERT INTO samples (pid, proposal, name, description, created) VALUES (?, ?, ?, ?, ?)', [s.pid, s.proposal, s.name, s.description, s.created]);
  }

  async sample(proposal: string, name: string): Promise<Sample | null> {
    return (await this.q<Sample>('SELECT * FROM samples WHERE proposal = ? AND name = ?', [proposal, name]))[0] ?? null;
  }

  async sampleByPid(pid: string): Promise<Sample | null> {
    return (await this.q<Sample>('SELECT * FROM samples WHERE pid = ?', [pid]))[0] ?? null;
  }

  samples(v: Visibility, proposal: string | null, limit: number, skip: number): Promise<Sample[]> {
    const w = visible(v);
    return this.q<Sample>(
      `SELECT s.* FROM samples s JOIN proposals p ON p.id = s.proposal JOIN (SELECT id AS proposal, beamline FROM proposals) d ON d.proposal = s.proposal
       WHERE ${w.sql} AND (?::text IS NULL OR s.proposal = ?) ORDER BY s.created LIMIT ? OFFSET ?`,
      [...w.params, proposal, proposal, limitOf(limit), Math.max(0, skip)],
    );
  }

  async addDataset(d: Dataset): Promise<void> {
    await this.tx([
      {
        sql: `INSERT INTO datasets (pid, name, type, proposal, sample, beamline, collection, title, description, created, end_time, scan_key, folder, metadata, size)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [d.pid, d.name, d.type, d.proposal, d.sample, d.beamline, d.collection, d.title, d.description, d.created, d.end, d.scanKey, d.folder, JSON.stringify(d.metadata), d.size],
      },
      ...d.sources.map((s) => ({ sql: 'INSERT INTO sources (dataset, source) VALUES (?, ?) ON CONFLICT DO NOTHING', params: [d.pid, s] })),
      ...d.files.map((f) => ({
        sql: `INSERT INTO datafiles (dataset, path, size, sha256, mtime) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (dataset, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, mtime = excluded.mtime`,
        params: [d.pid, f.path, f.size, f.sha256, f.mtime],
      })),
    ]);
  }

  /** Rows to datasets, their files and sources read in one query each (not one per dataset). */
  private async datasetsOf(rows: DatasetRow[]): Promise<Dataset[]> {
    if (!rows.length) return [];
    const pids = rows.map((r) => r.pid);
    const files = await this.q<FileRow>('SELECT dataset, path, size, sha256, mtime FROM datafiles WHERE dataset = ANY(?::text[]) ORDER BY dataset, path', [pids]);
    const sources = await this.q<SourceRow>('SELECT dataset, source FROM sources WHERE dataset = ANY(?::text[]) ORDER BY dataset, source', [pids]);
    return datasetsOf(rows, files, sources);
  }

  async dataset(pid: string, v: Visibility): Promise<Dataset | null> {
    const w = visible(v);
    const rows = await this.q<DatasetRow>(`SELECT d.* FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE d.pid = ? AND ${w.sql}`, [pid, ...w.params]);
    return (await this.datasetsOf(rows))[0] ?? null;
  }

  private where(q: DatasetQuery, v: Visibility): { sql: string; params: unknown[] } {
    return datasetWhere(q, visible(v), 'ILIKE');
  }

  async datasets(q: DatasetQuery, v: Visibility): Promise<Dataset[]> {
    const w = this.where(q, v);
    const order = q.order === 'created' ? 'd.created ASC, d.pid ASC' : 'd.created DESC, d.pid DESC';
    const rows = await this.q<DatasetRow>(`SELECT d.* FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`, [
      ...w.params, limitOf(q.limit), Math.max(0, q.skip),
    ]);
    return this.datasetsOf(rows);
  }

  async countDatasets(q: DatasetQuery, v: Visibility): Promise<number> {
    const w = this.where(q, v);
    return Number((await this.q<{ n: number }>(`SELECT COUNT(*) AS n FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE ${w.sql}`, w.params))[0].n);
  }

  async pidOfScan(scanKey: string): Promise<string | null> {
    return (await this.q<{ pid: string }>('SELECT pid FROM datasets WHERE scan_key = ? LIMIT 1', [scanKey]))[0]?.pid ?? null;
  }

  async collectionUsed(proposal: string, sample: string, collection: string): Promise<boolean> {
    return (await this.q('SELECT 1 FROM datasets WHERE proposal = ? AND sample = ? AND collection = ? LIMIT 1', [proposal, sample, collection])).length > 0;
  }

  async putPublished(p: PublishedData): Promise<void> {
    await this.q(
      `INSERT INTO published (doi, title, abstract, creators, publisher, year, datasets, status, created, proposal, kind, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (doi) DO UPDATE SET title = excluded.title, abstract = excluded.abstract, creators = excluded.creators, publisher = excluded.publisher,
         year = excluded.year, datasets = excluded.datasets, status = excluded.status, proposal = excluded.proposal, kind = excluded.kind, updated = excluded.updated`,
      [p.doi, p.title, p.abstract, JSON.stringify(p.creators), p.publisher, p.year, JSON.stringify(p.datasets), p.status, p.created, p.proposal, p.kind, p.updated],
    );
  }

  async publishedByDoi(doi: string): Promise<PublishedData | null> {
    const r = (await this.q<Record<string, string | number>>('SELECT * FROM published WHERE doi = ?', [doi]))[0];
    return r ? publishedOf(r) : null;
  }

  async published(v: Visibility, limit: number, skip: number): Promise<PublishedData[]> {
    const rows = await this.q<Record<string, string | number>>('SELECT * FROM published ORDER BY created, doi LIMIT ?', [MAX_LIMIT]);
    const all = rows.map(publishedOf);
    // which of their datasets the caller may read, in one query (not one per publication)
    const pids = [...new Set(all.filter((p) => p.status !== 'findable').flatMap((p) => p.datasets))];
    const w = visible(v);
    const readable = new Set(pids.length
      ? (await this.q<{ pid: string }>(`SELECT d.pid FROM datasets d LEFT JOIN proposals p ON p.id = d.proposal WHERE d.pid = ANY(?::text[]) AND ${w.sql}`, [pids, ...w.params])).map((r) => r.pid)
      : []);
    const out = all.filter((p) => p.status === 'findable' || p.datasets.some((pid) => readable.has(pid)));
    return out.slice(Math.max(0, skip), Math.max(0, skip) + limitOf(limit));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
