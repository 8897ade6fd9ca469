/**
 * Catalogue queries on 100,000 datasets (1,000 proposals × 100, 2 files each) in SQLite or PostgreSQL: p50/p99 latency of
 * what a member, staff and the public ask (through `Catalogue`, with visibility applied in SQL, plus the
 * total count; SQLite in the server's worker thread, PostgreSQL through its async pool), beside a bare SQL query
 * of the same rows on the same database in the same run (on this thread: no message passing).
 * Target: p99 < 50 ms for a proposal's datasets.
 *
 *   node bench/dist/catalogue.js [--datasets 100000] [--queries 300] [--backend postgresql [--pg URL]]
 *
 * PostgreSQL: a cluster of the bench's own (Debian's initdb/pg_ctl, as the tests) unless --pg names a database;
 * datasets are filled in bulk (not the figure measured) and the bare SQL goes through a plain `pg` client.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Access from '../daq-server/dist/src/access/index.js';
import type * as Service from '../daq-server/dist/src/catalogue/service.js';
import type * as Sqlite from '../daq-server/dist/src/catalogue/sqlite.js';
import type * as SqliteThread from '../daq-server/dist/src/catalogue/sqlite-thread.js';
import type { Dataset } from '../daq-server/dist/src/catalogue/types.js';
import type * as PgRepo from '../daq-server/dist/src/catalogue/postgres/repository.js';
import type * as PgFixture from '../daq-server/dist/test/fixtures/postgres.js';
import pg from 'pg';
import { Recorder } from './record.js';

const DIST = new URL('../../daq-server/dist/', import.meta.url);
const { AccessControl } = (await import(new URL('src/access/index.js', DIST).href)) as typeof Access;
const { Catalogue } = (await import(new URL('src/catalogue/service.js', DIST).href)) as typeof Service;
const { SqliteCatalogue } = (await import(new URL('src/catalogue/sqlite.js', DIST).href)) as typeof Sqlite;
const { ThreadedSqliteCatalogue } = (await import(new URL('src/catalogue/sqlite-thread.js', DIST).href)) as typeof SqliteThread;

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const N = opt('datasets', 100_000);
const PER = 100;
const Q = opt('queries', 300);
const argAt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const BACKEND = argAt('backend') === 'postgresql' ? 'postgresql' : 'sqlite';
const WORDS = ['lysozyme', 'thaumatin', 'insulin', 'ceo2', 'lab6', 'dark', 'flat', 'ascan', 'mesh', 'timescan'];

// /dev/shm when there is one: the bench measures queries, not the disk
const base = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'daqlab-cat-bench-'));
const path = join(base, 'c.sqlite');
const users = new Map([['tok-member-1', { user: 'alice', staff: false, beamlines: [], proposals: [], automation: false, passwordSha256: null }],
  ['tok-staff-11', { user: 'sam', staff: true, beamlines: ['id11'], proposals: [], automation: false, passwordSha256: null }]]);
const access = new AccessControl(users, null, () => new Date('2026-06-01T00:00:00Z'));
const { PostgresCatalogue } = (await import(new URL('src/catalogue/postgres/repository.js', DIST).href)) as typeof PgRepo;
let cluster: { stop(): void } | null = null;
let pgUrl = argAt('pg') ?? '';
if (BACKEND === 'postgresql' && !pgUrl) {
  const { startPostgres } = (await import(new URL('test/fixtures/postgres.js', DIST).href)) as typeof PgFixture;
  const c = await startPostgres();
  cluster = c;
  pgUrl = c.newDatabase();
}
// the server's way in: SQLite in its worker thread, PostgreSQL through the async pool
const repo = BACKEND === 'sqlite' ? await ThreadedSqliteCatalogue.open(path, 60_000) : await PostgresCatalogue.open(pgUrl, 60_000);
// SQLite is filled by the engine itself on this thread (the figures are the queries, not the filling)
const engine = BACKEND === 'sqlite' ? new SqliteCatalogue(path) : null;
const bulk = BACKEND === 'postgresql' ? new pg.Client({ connectionString: pgUrl }) : null;
await bulk?.connect();
const pending: Dataset[] = [];
/** PostgreSQL: rows in bulk (unnest), 5000 at a time; the figures are the queries, not the filling */
async function flush(): Promise<void> {
  if (!bulk || !pending.length) return;
  const col = <K extends keyof Dataset>(k: K) => pending.map((d) => d[k]);
  await bulk.query(
    `INSERT INTO datasets (pid, name, type, proposal, sample, beamline, collection, title, description, created, end_time, scan_key, folder, metadata, size)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[])`,
    [col('pid'), col('name'), col('type'), col('proposal'), col('sample'), col('beamline'), col('collection'), col('title'), col('description'), col('created'), col('end'), col('scanKey'), col('folder'), pending.map((d) => JSON.stringify(d.metadata)), col('size')],
  );
  const files = pending.flatMap((d) => d.files.map((f) => [d.pid, f.path, f.size] as const));
  await bulk.query('INSERT INTO datafiles (dataset, path, size) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])', [files.map((f) => f[0]), files.map((f) => f[1]), files.map((f) => f[2])]);
  pending.length = 0;
}
const cat = new Catalogue(repo, access, { beamline: 'id11', root: '/data' });
const staff = access.resolve('tok-staff-11');
const t0 = performance.now();
const nProposals = Math.ceil(N / PER);
for (let p = 0; p < nProposals; p++) {
  // a quarter of the proposals are old sessions (released): the public sees those
  const start = p % 4 === 0 ? '2020-01-01T00:00:00Z' : '2026-01-01T00:00:00Z';
  await cat.putProposal(staff, { proposal: `mx${p}`, start, end: start.replace('01T', '04T'), team: p === 7 ? [{ user: 'alice', role: 'principal-investigator' }] : [] });
}
for (let k = 0; k < N; k++) {
  const p = k % nProposals;
  const word = WORDS[k % WORDS.length];
  const d: Dataset = {
    pid: `daqlab-${k}`, name: `${word}_${String(k).padStart(6, '0')}`, type: 'raw', proposal: `mx${p}`, sample: `s${k % 7}`, beamline: 'id11',
    collection: String(1 + (k % 5)).padStart(4, '0'), title: `${word} scan ${k}`, description: `scan of ${word}`, created: new Date(Date.UTC(2026, 0, 1) + k * 1000).toISOString(),
    end: null, scanKey: `scan:${k}`, folder: `/data/mx${p}`, metadata: { n: k }, sources: [],
    files: [{ path: `/data/mx${p}/${k}_master.h5`, size: 1000, sha256: null, mtime: null }, { path: `/data/mx${p}/${k}_0.h5`, size: 1e6, sha256: null, mtime: null }], size: 1001000,
  };
  if (bulk) {
    pending.push(d);
    if (pending.length >= 5000) await flush();
  } else engine!.addDataset(d);
}
await flush();
engine?.close();
await bulk?.query('ANALYZE');
const fillS = (performance.now() - t0) / 1000;

async function pct(fn: (i: number) => unknown): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 5; i++) await fn(i);
  const t: number[] = [];
  for (let i = 0; i < Q; i++) {
    const a = performance.now();
    await fn(i);
    t.push(performance.now() - a);
  }
  t.sort((x, y) => x - y);
  return { p50: t[Math.floor(Q * 0.5)], p99: t[Math.min(Q - 1, Math.floor(Q * 0.99))] };
}

// the bare reference: the same rows, one plain query, on the same database
const SQL = {
  proposal: 'SELECT d.*, (SELECT COUNT(*) FROM datafiles f WHERE f.dataset = d.pid) AS nf FROM datasets d WHERE d.proposal = ? ORDER BY d.created DESC LIMIT 100',
  text: "SELECT * FROM datasets d WHERE d.proposal = ? AND (d.name || ' ' || d.title) LIKE ? ORDER BY d.created DESC LIMIT 100",
  newest: 'SELECT * FROM datasets ORDER BY created DESC LIMIT 100',
};
const bare = BACKEND === 'sqlite' ? new Database(path, { readonly: true }) : null;
const bareQuery = (sql: string) => {
  if (bare) {
    const st = bare.prepare(sql);
    return (...params: unknown[]) => st.all(...params);
  }
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  return (...params: unknown[]) => bulk!.query(text, params);
};
const bareProposal = { all: bareQuery(SQL.proposal) };
const bareText = { all: bareQuery(SQL.text) };
const bareNewest = bareQuery(SQL.newest);
const member = access.resolve('tok-member-1');
const pub = access.resolve(null);
const cases: { id: string; label: string; run: (i: number) => unknown; ref: (i: number) => unknown }[] = [
  { id: 'member_proposal', label: "a member: the proposal's datasets (100) + total", run: () => cat.datasets(member, { proposal: 'mx7' }), ref: () => bareProposal.all('mx7') },
  { id: 'staff_proposal', label: "staff: a proposal's datasets (100) + total", run: (i) => cat.datasets(staff, { proposal: `mx${i % nProposals}` }), ref: (i) => bareProposal.all(`mx${i % nProposals}`) },
  { id: 'member_text', label: 'a member: text search in the proposal', run: (i) => cat.datasets(member, { proposal: 'mx7', text: WORDS[i % WORDS.length] }), ref: (i) => bareText.all('mx7', `%${WORDS[i % WORDS.length]}%`) },
  { id: 'public_released', label: 'the public: released datasets, newest 100 + total', run: () => cat.datasets(pub, {}), ref: () => bareNewest() },
];
const rec = new Recorder('catalogue');
console.log(`catalogue (${BACKEND}, ${N} datasets in ${nProposals} proposals, filled in ${fillS.toFixed(1)} s), ${Q} queries each`);
console.log('query'.padEnd(52), 'p50 ms', ' p99 ms', '  bare SQL p50/p99 ms');
for (const c of cases) {
  const m = await pct(c.run);
  const r = await pct(c.ref);
  console.log(c.label.padEnd(52), m.p50.toFixed(2).padStart(6), m.p99.toFixed(2).padStart(7), `   ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`);
  rec.figure(`${BACKEND}.${c.id}.p50_ms`, { label: `${c.label}: p50`, value: m.p50, unit: 'ms', higherIsBetter: false, reference: { name: 'bare SQL p50', value: r.p50 } });
  rec.figure(`${BACKEND}.${c.id}.p99_ms`, { label: `${c.label}: p99`, value: m.p99, unit: 'ms', higherIsBetter: false, reference: { name: 'bare SQL p99', value: r.p99 }, target: 50 });
}
bare?.close();
await bulk?.end();
await cat.close();
cluster?.stop();
rmSync(base, { recursive: true, force: true });
