/** catalogue/ + access/: who sees what (embargo on a moving clock), the data policy, bad input, SciCat filters, migrations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessControl, type UserEntry } from '../../src/access/index.js';
import { Catalogue } from '../../src/catalogue/service.js';
import { SqliteCatalogue } from '../../src/catalogue/sqlite.js';
import { ThreadedSqliteCatalogue } from '../../src/catalogue/sqlite-thread.js';
import type { Dataset } from '../../src/catalogue/types.js';
import type { CatalogueRepository } from '../../src/catalogue/repository.js';
import { datasetFilter, fullquery } from '../../src/api/scicat/filter.js';
import { DaqError } from '../../src/protocol/index.js';
import { datasetOfScan } from '../../src/catalogue/capture.js';
import { catalogueTarget } from '../../src/config.js';
import { PostgresCatalogue } from '../../src/catalogue/postgres/repository.js';
import { startPostgres } from '../fixtures/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'daqlab-catalogue-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const entry = (user: string, more: Partial<UserEntry> = {}): UserEntry => ({ user, staff: false, beamlines: [], proposals: [], automation: false, passwordSha256: null, ...more });
const USERS = new Map<string, UserEntry>([
  ['tok-alice-123', entry('alice')],
  ['tok-bob-12345', entry('bob')],
  ['tok-carol-123', entry('carol', { proposals: ['mx1234'] })],
  ['tok-staff-id11', entry('sam', { staff: true, beamlines: ['id11'] })],
  ['tok-staff-id99', entry('sue', { staff: true, beamlines: ['id99'] })],
  ['tok-robot-1234', entry('robot', { automation: true })],
]);

// the same tests on both backends: SQLite, and PostgreSQL in a cluster of this test's own
const cluster = await startPostgres();
test.after(() => cluster.stop());
type Backend = 'sqlite' | 'postgresql';
const BACKENDS: Backend[] = ['sqlite', 'postgresql'];
const repos: CatalogueRepository[] = [];
test.after(async () => void (await Promise.all(repos.map((r) => r.close()))));

/** A test run once per backend; `setup` opens a fresh catalogue (or, given `where`, that one again). */
function both(name: string, fn: (setup: (where?: string) => Promise<ReturnType<typeof open>>, backend: Backend) => unknown): void {
  for (const b of BACKENDS) {
    test(`${name} [${b}]`, async () => void (await fn(async (where) => open(b === 'sqlite' ? await ThreadedSqliteCatalogue.open(where ?? ':memory:') : await PostgresCatalogue.open(where ?? cluster.newDatabase())), b)));
  }
}

/** A catalogue on a clock the test moves. */
async function setup(path = ':memory:') {
  return open(await ThreadedSqliteCatalogue.open(path));
}

function open(repo: CatalogueRepository) {
  repos.push(repo);
  let now = new Date('2026-01-10T00:00:00Z');
  const access = new AccessControl(USERS, 'server-token-1', () => now);
  const cat = new Catalogue(repo, access, { beamline: 'id11', root: '/data/visitor' });
  const who = (t: string | null) => access.resolve(t);
  return { cat, repo, access, who, setNow: (d: string) => (now = new Date(d)), now: () => now };
}

function dataset(pid: string, proposal: string, sample: string, name = pid, collection = '0001'): Dataset {
  return {
    pid, name, type: 'raw', proposal, sample, beamline: 'id11', collection, title: `scan ${name}`, description: 'a scan of lysozyme', created: new Date().toISOString(), end: null,
    scanKey: `key-${pid}`, folder: '/data', metadata: { a: 1 }, sources: [], files: [{ path: `/data/${pid}.h5`, size: 10, sha256: 'ab'.repeat(32), mtime: null }], size: 10,
  };
}

async function code(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof DaqError, String(err));
    return `${err.type}: ${err.message}`;
  }
  assert.fail('expected an error');
}

both('members see their proposal, others are refused without learning what exists, staff see their beamline', async (setup) => {
  const { cat, repo, who } = await setup();
  const staff = who('tok-staff-id11');
  await cat.putProposal(staff, { proposal: 'mx1234', title: 'Lysozyme', team: [{ user: 'alice', role: 'principal-investigator' }], start: '2026-01-01', end: '2026-01-04' });
  await cat.putProposal(staff, { proposal: 'mx9999', title: 'Secret', team: [{ user: 'bob', role: 'principal-investigator' }], start: '2026-01-01', end: '2026-01-04' });
  await repo.addDataset(dataset('p1', 'mx1234', 'lyso1'));
  await repo.addDataset(dataset('p2', 'mx9999', 'sec1'));
  // member by the team (alice) and by the users file (carol)
  assert.deepEqual((await cat.datasets(who('tok-alice-123'), {})).datasets.map((d) => d.pid), ['p1']);
  assert.deepEqual((await cat.datasets(who('tok-carol-123'), { proposal: 'mx1234' })).datasets.map((d) => d.pid), ['p1']);
  assert.equal((await cat.dataset(who('tok-alice-123'), 'p1')).files[0].sha256, 'ab'.repeat(32));
  // bob: the other proposal's dataset and an unknown one get the same refusal
  const existing = await code(() => cat.dataset(who('tok-bob-12345'), 'p1'));
  const missing = await code(() => cat.dataset(who('tok-bob-12345'), 'p-none'));
  assert.equal(existing.replace('"p1"', 'X'), missing.replace('"p-none"', 'X'));
  assert.equal((await code(() => cat.datasets(who('tok-bob-12345'), { proposal: 'mx1234' }))).replace('mx1234', 'X'), (await code(() => cat.datasets(who('tok-bob-12345'), { proposal: 'nope' }))).replace('nope', 'X'));
  // staff of id11 see both; staff of another beamline neither; the public nothing (embargoed)
  assert.deepEqual((await cat.datasets(staff, {})).datasets.map((d) => d.pid).sort(), ['p1', 'p2']);
  assert.deepEqual((await cat.datasets(who('tok-staff-id99'), {})).datasets, []);
  assert.deepEqual((await cat.datasets(who(null), {})).datasets, []);
  assert.deepEqual((await cat.datasets(who('unknown-token'), {})).datasets, []);
  // the server token is the operator
  assert.equal((await cat.datasets(who('server-token-1'), {})).total, 2);
  // text search, within what one may see
  assert.deepEqual((await cat.datasets(staff, { text: 'LYSOZYME p2' })).datasets.map((d) => d.pid), ['p2']);
  assert.deepEqual((await cat.datasets(staff, { text: '100%_' })).datasets, []);
  assert.deepEqual((await cat.proposals(who('tok-alice-123'))).map((p) => p.id), ['mx1234']);
});

both('embargo: default end of session + 3 years, decided at query time; the PI extends it, others may not', async (setup) => {
  const { cat, repo, who, setNow } = await setup();
  const staff = who('tok-staff-id11');
  const p = await cat.putProposal(staff, { proposal: 'mx1234', team: [{ user: 'alice', role: 'principal-investigator' }, { user: 'carol', role: 'co-proposer' }], start: '2026-01-01T00:00:00Z', end: '2026-01-04T00:00:00Z' });
  assert.equal(p.releaseDate, '2029-01-04T00:00:00.000Z');
  await repo.addDataset(dataset('p1', 'mx1234', 'lyso1'));
  const pub = who(null);
  assert.equal((await cat.datasets(pub, {})).total, 0);
  setNow('2029-01-03T23:59:59Z');
  assert.equal((await cat.datasets(pub, {})).total, 0);
  assert.match(await code(() => cat.proposal(pub, 'mx1234')), /NotFoundError/);
  setNow('2029-01-04T00:00:01Z');
  assert.equal((await cat.datasets(pub, {})).total, 1, 'released once the clock passes the release date');
  assert.equal((await cat.proposal(pub, 'mx1234')).released, true);
  // back before the date: the PI extends the embargo; a co-proposer may not
  setNow('2028-06-01T00:00:00Z');
  assert.match(await code(() => cat.setRelease(who('tok-carol-123'), 'mx1234', '2030-01-01')), /AuthError.*principal investigator/);
  await cat.setRelease(who('tok-alice-123'), 'mx1234', '2030-01-04T00:00:00Z');
  setNow('2029-06-01T00:00:00Z');
  assert.equal((await cat.datasets(pub, {})).total, 0, 'extended');
  // absurd dates are refused, named
  assert.match(await code(() => cat.setRelease(who('tok-alice-123'), 'mx1234', '2020-01-01')), /release_date.*in the past/);
  assert.match(await code(() => cat.setRelease(who('tok-alice-123'), 'mx1234', '2300-01-01')), /release_date.*more than 50 years/);
  assert.match(await code(() => cat.setRelease(who('tok-alice-123'), 'mx1234', 'soon')), /release_date: expected an ISO date/);
  assert.match(await code(() => cat.putProposal(staff, { proposal: 'mx2', start: '2026-02-01', end: '2026-01-01' })), /end: the session ends before/);
  assert.match(await code(() => cat.putProposal(who('tok-alice-123'), { proposal: 'mx3' })), /AuthError.*staff/);
  assert.match(await code(() => cat.putProposal(staff, { proposal: 'mx3', team: [{ user: 'x', role: 'king' }] })), /team\[0\]\.role/);
  assert.match(await code(() => cat.putProposal(staff, { proposal: '../etc' })), /proposal: expected a name/);
});

both('data policy: folders <root>/<proposal>/<beamline>/<sample>/<sample>_<dataset>, duplicates refused, prepare filled in', async (setup) => {
  const { cat, repo, who } = await setup();
  const staff = who('tok-staff-id11');
  await cat.putProposal(staff, { proposal: 'mx1234', team: [{ user: 'alice', role: 'principal-investigator' }] });
  await cat.putProposal(staff, { proposal: 'mx9999', team: [{ user: 'bob', role: 'principal-investigator' }] });
  const alice = who('tok-alice-123');
  await assert.rejects(cat.newSample(alice, 'lyso1'), /no proposal chosen/);
  await assert.rejects(cat.newProposal(alice, 'mx9999'), { type: 'NotFoundError' });
  await assert.rejects(cat.newProposal(alice, 'mx0000'), { type: 'NotFoundError' });
  await cat.newProposal(alice, 'mx1234');
  const st = await cat.newSample(alice, 'lyso1');
  assert.equal(st.folder, '/data/visitor/mx1234/id11/lyso1/lyso1_0001');
  await repo.addDataset(dataset('p1', 'mx1234', 'lyso1', 'scan_0001', '0001'));
  await assert.rejects(cat.newDataset(alice, '0001'), /dataset: 0001 already exists for sample lyso1/);
  assert.equal((await cat.newDataset(alice)).dataset, '0002');
  assert.equal((await cat.newDataset(alice, 'dark')).folder, '/data/visitor/mx1234/id11/lyso1/lyso1_dark');
  const params: Record<string, unknown> = { scan: { name: 'ascan' }, saving: { enabled: true } };
  await cat.applyPolicy(alice, params);
  assert.deepEqual(params.scan, { name: 'ascan', proposal: 'mx1234', sample: 'lyso1', dataset: 'dark' });
  assert.equal((params.saving as { base_path: string }).base_path, '/data/visitor/mx1234/id11/lyso1/lyso1_dark');
  // someone who may not write to the current proposal cannot acquire into it
  assert.match(await code(() => cat.applyPolicy(who('tok-bob-12345'), { scan: {} })), /NotFoundError/);
  // a scan naming its own proposal is left alone
  const own = { scan: { proposal: 'other' }, saving: { enabled: true } };
  await cat.applyPolicy(alice, own);
  assert.deepEqual(own.saving, { enabled: true });
  assert.equal((await cat.samples(alice, 'mx1234')).map((s) => s.name).sort().join(), 'lyso1,sample');
});

test('SciCat filters: the subset maps onto the query, anything else is refused with its field named', () => {
  assert.deepEqual(datasetFilter('{"where":{"proposalId":"mx1234","sampleId":"lyso1"},"limit":5,"skip":2}'), { proposal: 'mx1234', sample: 'lyso1', limit: 5, skip: 2 });
  assert.deepEqual(datasetFilter('{"where":{"datasetName":{"like":"scan"}}}'), { text: 'scan' });
  assert.deepEqual(fullquery('{"text":"lyso","type":"raw"}', '{"skip":0,"limit":25,"order":"creationTime:desc"}'), { text: 'lyso', type: 'raw', skip: 0, limit: 25, order: '-created' });
  const err = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return (e as DaqError).fields?.[0]?.field ?? '';
    }
    return 'no error';
  };
  assert.equal(err(() => datasetFilter('{"where":')), 'filter');
  assert.equal(err(() => datasetFilter('[1]')), 'filter');
  assert.equal(err(() => datasetFilter('{"where":{"owner":"x"}}')), 'filter.where.owner');
  assert.equal(err(() => datasetFilter('{"where":{"proposalId":{"gt":1}}}')), 'filter.where.proposalId');
  assert.equal(err(() => datasetFilter('{"limit":-1}')), 'filter.limit');
  assert.equal(err(() => datasetFilter('{"where":{"and":[{"type":"weird"}]}}')), 'filter.where.and[0].type');
  assert.equal(err(() => datasetFilter(`{"where":{"pid":"${'x'.repeat(9000)}"}}`)), 'filter');
  assert.equal(err(() => fullquery('{}', '{"order":"size:asc"}')), 'limits.order');
});

test('password login issues tokens that expire; without a users file everyone is the operator', () => {
  const hash = '5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8'; // sha256("password")
  let now = new Date('2026-01-01T00:00:00Z');
  const a = new AccessControl(new Map([['tok-alice-123', entry('alice', { passwordSha256: hash })]]), null, () => now);
  assert.equal(a.login('alice', 'wrong'), null);
  assert.equal(a.login('bob', 'password'), null);
  const l = a.login('alice', 'password')!;
  assert.equal(a.resolve(l.token).name, 'alice');
  now = new Date(now.getTime() + l.ttlSeconds * 1000 + 1);
  assert.equal(a.known(l.token), false);
  assert.equal(a.resolve(l.token).name, 'public');
  assert.equal(new AccessControl(null, null).resolve(null).operator, true);
});

test('migrations: a reopened database keeps its rows; a newer schema is refused', async () => {
  const path = join(dir, 'c.sqlite');
  const first = await setup(path);
  await first.cat.putProposal(first.who('tok-staff-id11'), { proposal: 'mx1234' });
  await first.repo.addDataset(dataset('p1', 'mx1234', 's'));
  await first.repo.close();
  const again = await setup(path);
  assert.equal((await again.cat.datasets(again.who('server-token-1'), {})).total, 1);
  await again.repo.close();
  const path2 = join(dir, 'newer.sqlite');
  writeFileSync(path2, '');
  const r = new SqliteCatalogue(path2);
  (r as unknown as { db: { pragma: (s: string) => void } }).db.pragma('user_version = 99');
  r.close();
  assert.throws(() => new SqliteCatalogue(path2), /schema version 99 is newer/);
  // and so is it through the worker thread the server uses
  await assert.rejects(ThreadedSqliteCatalogue.open(path2), /schema version 99 is newer/);
});

test('migrations on PostgreSQL: a reopened database keeps its rows; two servers migrate once; a newer schema is refused', async () => {
  const url = cluster.newDatabase();
  const [r1, r2] = await Promise.all([PostgresCatalogue.open(url), PostgresCatalogue.open(url)]);
  const first = open(r1);
  const second = open(r2);
  await first.cat.putProposal(first.who('tok-staff-id11'), { proposal: 'mx1234' });
  await first.repo.addDataset(dataset('p1', 'mx1234', 's'));
  assert.equal((await second.cat.datasets(second.who('server-token-1'), {})).total, 1);
  const again = open(await PostgresCatalogue.open(url));
  assert.equal((await again.cat.datasets(again.who('server-token-1'), {})).total, 1);
  await (again.repo as unknown as { q: (sql: string) => Promise<void> }).q('INSERT INTO daqlab_schema (version) VALUES (99)');
  await assert.rejects(PostgresCatalogue.open(url), /schema version 99 is newer/);
});

test('an unreachable PostgreSQL: a clear error within the bound, the password not shown', async () => {
  const t0 = Date.now();
  await assert.rejects(PostgresCatalogue.open('postgresql://daqlab:secret@127.0.0.1:1/none', 1000), (e: Error) => !e.message.includes('secret') && /ECONNREFUSED|did not answer/.test(e.message));
  assert.ok(Date.now() - t0 < 5000);
});

both('a failing database: captures are kept and written once it answers again (nothing lost)', async (setup) => {
  const { cat, repo } = await setup();
  let failing = true;
  const flaky: CatalogueRepository = Object.create(repo);
  flaky.addDataset = async (d) => {
    if (failing) throw new Error('database is locked');
    await repo.addDataset(d);
  };
  const c2 = new Catalogue(flaky, cat.access, { beamline: 'id11', root: '/data' });
  const scan = { key: 's1', identity: { name: 'scan', number: 1, session: 'd', proposal: '', sample: '', dataset: '', path: '' }, info: {}, created: new Date(), streams: new Map(), summary: () => ({ info: {} }) };
  c2.capture(scan as never);
  await c2.settled();
  assert.equal(c2.queued, 1);
  failing = false;
  (c2 as unknown as { retry: NodeJS.Timeout | null; drain: () => void }).retry = null;
  (c2 as unknown as { drain: () => void }).drain();
  await c2.settled();
  assert.equal(c2.queued, 0);
  assert.equal(await repo.pidOfScan('s1') !== null, true);
});

test('capture: a derived scan points at its source dataset; files get sizes and sha256 from sha256sum', async () => {
  const f = join(dir, 'derived_master.h5');
  writeFileSync(f, 'hello');
  const scan = {
    key: 'derived-1', identity: { name: 'azint-scan', number: 2, session: 'd', proposal: 'mx1234', sample: 'lyso1', dataset: '0001', path: '' },
    info: { derived: { source_key: 'scan:1', master: f }, saving: { master: f } }, created: new Date(), streams: new Map(), summary: () => ({ info: {} }),
  };
  const d = await datasetOfScan(scan as never, { beamline: 'id11', pidOfScan: async (k) => (k === 'scan:1' ? 'daqlab-source' : null) });
  assert.equal(d.type, 'derived');
  assert.deepEqual(d.sources, ['daqlab-source']);
  assert.deepEqual(d.files, [{ path: f, size: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', mtime: d.files[0].mtime }]);
});

test('--catalogue: sqlite:PATH, off, the default under the state folder; anything else is refused, named', () => {
  const cfg = (catalogue: string, stateDir = '/state') => catalogueTarget({ catalogue, stateDir } as never);
  assert.deepEqual(cfg(''), { kind: 'sqlite', path: '/state/catalogue.sqlite' });
  assert.equal(cfg('', ''), null);
  assert.equal(cfg('off'), null);
  assert.deepEqual(cfg('sqlite:/x/c.db'), { kind: 'sqlite', path: '/x/c.db' });
  assert.deepEqual(cfg('postgresql://daqlab@127.0.0.1:5432/cat'), { kind: 'postgresql', url: 'postgresql://daqlab@127.0.0.1:5432/cat' });
  assert.throws(() => cfg('mysql:x'), /--catalogue: expected sqlite:PATH, postgresql:\/\/USER@HOST:PORT\/DB or off/);
});

test('data policy: a dataset folder already on disk (an earlier server wrote it) is used too', async () => {
  const access = new AccessControl(null, null);
  const cat = new Catalogue(await ThreadedSqliteCatalogue.open(':memory:'), access, { beamline: 'id11', root: dir });
  const op = access.resolve(null);
  await cat.putProposal(op, { proposal: 'mx7' });
  await cat.newProposal(op, 'mx7');
  mkdirSync(join(dir, 'mx7', 'id11', 'lyso', 'lyso_0001'), { recursive: true });
  assert.equal((await cat.newSample(op, 'lyso')).dataset, '0002');
  await assert.rejects(cat.newDataset(op, '0001'), /dataset: 0001 already exists/);
  await cat.close();
});
