/** catalogue/doi/: draft → registered → findable, who may do what, DataCite records and the requests minting sends, landing pages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { AccessControl, type UserEntry } from '../../src/access/index.js';
import { Catalogue } from '../../src/catalogue/service.js';
import { ThreadedSqliteCatalogue } from '../../src/catalogue/sqlite-thread.js';
import { PostgresCatalogue } from '../../src/catalogue/postgres/repository.js';
import type { CatalogueRepository } from '../../src/catalogue/repository.js';
import type { Dataset } from '../../src/catalogue/types.js';
import { dataciteFromEnv, type DataciteConfig } from '../../src/catalogue/doi/datacite.js';
import { startPostgres } from '../fixtures/postgres.js';

const cluster = await startPostgres();
const repos: CatalogueRepository[] = [];
test.after(async () => {
  await Promise.all(repos.map((r) => r.close()));
  cluster.stop();
});

const entry = (user: string, more: Partial<UserEntry> = {}): UserEntry => ({ user, staff: false, beamlines: [], proposals: [], automation: false, passwordSha256: null, ...more });
const USERS = new Map<string, UserEntry>([
  ['tok-alice-123', entry('curie')],
  ['tok-carol-123', entry('carol', { proposals: ['mx1234'] })],
  ['tok-bob-12345', entry('bob')],
  ['tok-staff-id11', entry('sam', { staff: true, beamlines: ['id11'] })],
]);

function dataset(pid: string, proposal: string, name: string): Dataset {
  return {
    pid, name, type: 'raw', proposal, sample: 'lyso1', beamline: 'id11', collection: '0001', title: `scan ${name}`, description: '', created: `2026-01-02T00:00:0${pid.slice(-1)}Z`, end: null,
    scanKey: null, folder: '/data', metadata: {}, sources: [], files: [{ path: `/data/${name}.h5`, size: 10, sha256: 'ab'.repeat(32), mtime: null }], size: 10,
  };
}

async function setup(backend: 'sqlite' | 'postgresql', datacite: Partial<DataciteConfig> = {}) {
  const repo = backend === 'sqlite' ? await ThreadedSqliteCatalogue.open(':memory:') : await PostgresCatalogue.open(cluster.newDatabase());
  repos.push(repo);
  let now = new Date('2026-01-10T00:00:00Z');
  const access = new AccessControl(USERS, 'server-token-1', () => now);
  const cat = new Catalogue(repo, access, { beamline: 'id11', root: '/data', datacite: { ...dataciteFromEnv({}), landingBase: 'https://daqlab.example.org', ...datacite } });
  const who = (t: string | null) => access.resolve(t);
  await cat.putProposal(who('tok-staff-id11'), {
    proposal: 'mx1234', title: 'Lysozyme <script>alert(1)</script>', abstract: 'Crystals & "waves"', start: '2026-01-01T00:00:00Z', end: '2026-01-04T00:00:00Z',
    team: [{ user: 'curie', role: 'principal-investigator' }, { user: 'carol', role: 'co-proposer' }, { user: 'lc', role: 'local-contact' }],
  });
  await cat.putProposal(who('tok-staff-id11'), { proposal: 'mx9999', team: [{ user: 'bob', role: 'principal-investigator' }] });
  await repo.addDataset(dataset('p1', 'mx1234', 'scan_<b>1</b>'));
  await repo.addDataset(dataset('p2', 'mx1234', 'scan_2'));
  await repo.addDataset(dataset('p3', 'mx9999', 'other'));
  return { cat, who, setNow: (d: string) => (now = new Date(d)) };
}

for (const backend of ['sqlite', 'postgresql'] as const) {
  test(`DOIs: draft → registered → findable, by whom, seen by whom; landing pages escaped, licence after release [${backend}]`, async () => {
    const { cat, who, setNow } = await setup(backend);
    const alice = who('tok-alice-123');
    assert.deepEqual((await cat.dois.draft(alice, { datasets: ['p2'] })).creators, ['carol', 'curie'], 'by default the team, less local contacts');
    const d = await cat.dois.draft(alice, { datasets: ['p1'], creators: ['Marie Curie', 'carol'] });
    assert.match(d.doi, /^10\.5072\/daqlab\.mx1234\.[0-9a-f]{8}$/);
    assert.equal(d.status, 'draft');
    assert.equal(d.kind, 'dataset');
    // a draft: its proposal's readers only; the same refusal as for a DOI that does not exist
    await assert.rejects(cat.dois.get(who('tok-bob-12345'), d.doi), /NotFoundError|no such DOI/);
    assert.equal(await cat.dois.landing(who(null), d.doi), null);
    assert.equal((await cat.dois.list(who(null))).length, 0);
    // a co-proposer may not register; the PI may; never backwards
    await assert.rejects(cat.dois.advance(who('tok-carol-123'), d.doi, 'registered'), { type: 'AuthError' });
    assert.equal((await cat.dois.advance(alice, d.doi, 'registered')).status, 'registered');
    await assert.rejects(cat.dois.advance(alice, d.doi, 'draft'), /state: expected registered or findable/);
    await assert.rejects(cat.dois.advance(alice, d.doi, 'registered'), /only moves draft → registered → findable/);
    // registered: the landing page is public; under embargo no files and no licence yet
    const page = (await cat.dois.landing(who(null), d.doi))!;
    assert.ok(page.includes('Lysozyme &lt;script&gt;alert(1)&lt;/script&gt;') && !page.includes('<script>'), 'escaped');
    assert.ok(page.includes('Crystals &amp; &quot;waves&quot;'));
    assert.match(page, /Under embargo until 2029-01-04/);
    assert.ok(!page.includes('<table class="files">') && page.includes('1 files in 1 datasets, listed once released'), 'files listed only once released');
    assert.match(page, /Marie Curie, carol \(2026\)\. Lysozyme .*https:\/\/doi\.org\/10\.5072\/daqlab\.mx1234/);
    assert.equal((await cat.dois.advance(alice, d.doi, 'findable')).status, 'findable');
    assert.deepEqual((await cat.dois.list(who(null))).map((x) => x.doi), [d.doi]);
    setNow('2029-02-01T00:00:00Z');
    const open = (await cat.dois.landing(who(null), d.doi))!;
    assert.match(open, /CC-BY-4\.0/);
    assert.ok(open.includes('<tr><td>scan_&lt;b&gt;1&lt;/b&gt;</td>') && open.includes('ab'.repeat(32)));
    // the DataCite record
    const rec = await cat.dois.record(await cat.dois.get(who(null), d.doi));
    assert.deepEqual(rec.types, { resourceTypeGeneral: 'Dataset', resourceType: 'Raw data' });
    assert.equal(rec.url, `https://daqlab.example.org/doi/${d.doi}`);
    assert.deepEqual((rec.creators as { name: string }[])[0], { name: 'Curie, Marie', nameType: 'Personal', givenName: 'Marie', familyName: 'Curie' });
    assert.equal(rec.publicationYear, '2026');
  });

  test(`DOIs: a session's DOI cites its datasets; bad input refused, named [${backend}]`, async () => {
    const { cat, who } = await setup(backend);
    const staff = who('tok-staff-id11');
    const s = await cat.dois.draft(staff, { proposal: 'mx1234', title: 'The session' });
    assert.equal(s.kind, 'session');
    assert.deepEqual(s.datasets, ['p1', 'p2']);
    const field = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
      } catch (e) {
        return (e as { fields?: { field: string }[] }).fields?.[0]?.field ?? String(e);
      }
      return 'no error';
    };
    assert.equal(await field(cat.dois.draft(staff, { datasets: 'p1' })), 'datasets');
    assert.equal(await field(cat.dois.draft(staff, { datasets: ['p1', 'p3'] })), 'datasets');
    assert.equal(await field(cat.dois.draft(staff, { datasets: ['nope'] })), 'pid');
    assert.equal(await field(cat.dois.draft(staff, { datasets: ['p1'], creators: [''] })), 'creators');
    assert.equal(await field(cat.dois.draft(staff, { datasets: ['p1'], title: 'x'.repeat(2000) })), 'title');
    assert.equal(await field(cat.dois.draft(who('tok-bob-12345'), { datasets: ['p1'] })), 'pid');
    assert.equal(await field(cat.dois.advance(staff, s.doi, 'published')), 'state');
    assert.equal(await field(cat.dois.advance(staff, '../etc', 'registered')), 'doi');
  });
}

test('minting: each step is the request DataCite takes (recorded by a local HTTP server); a refusal leaves the DOI as it was', async () => {
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: Record<string, any> }[] = [];
  let refuse = false;
  const recorder = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(body) });
      res.writeHead(refuse ? 422 : 201, { 'content-type': 'application/vnd.api+json' });
      res.end(refuse ? '{"errors":[{"title":"This DOI has already been taken"}]}' : '{}');
    });
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  try {
    const port = (recorder.address() as { port: number }).port;
    const { cat, who } = await setup('sqlite', { url: `http://127.0.0.1:${port}`, prefix: '10.80000', user: 'DAQ.LAB', password: 'pw' });
    const alice = who('tok-alice-123');
    const d = await cat.dois.draft(alice, { datasets: ['p1', 'p2'] });
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].url, '/dois');
    assert.equal(seen[0].headers['content-type'], 'application/vnd.api+json');
    assert.equal(seen[0].headers.authorization, `Basic ${Buffer.from('DAQ.LAB:pw').toString('base64')}`);
    assert.equal(seen[0].body.data.type, 'dois');
    assert.equal(seen[0].body.data.attributes.doi, d.doi);
    assert.equal(seen[0].body.data.attributes.event, undefined, 'a draft has no event');
    assert.deepEqual(seen[0].body.data.attributes.sizes, ['2 files', '20 bytes']);
    await cat.dois.advance(alice, d.doi, 'registered');
    assert.equal(seen[1].method, 'PUT');
    assert.equal(seen[1].url, `/dois/${d.doi}`);
    assert.equal(seen[1].body.data.attributes.event, 'register');
    refuse = true;
    await assert.rejects(cat.dois.advance(alice, d.doi, 'findable'), /DataCite .* refused PUT findable: HTTP 422 .*already been taken/);
    assert.equal(seen[2].body.data.attributes.event, 'publish');
    assert.equal((await cat.dois.get(alice, d.doi)).status, 'registered', 'unchanged after a refusal');
  } finally {
    recorder.close();
  }
});

test('minting: an endpoint that does not answer is an error naming DataCite; nothing recorded', async () => {
  const { cat, who } = await setup('sqlite', { url: 'http://127.0.0.1:1' });
  await assert.rejects(cat.dois.draft(who('tok-alice-123'), { datasets: ['p1'] }), /DataCite \(http:\/\/127\.0\.0\.1:1\) did not answer/);
  assert.equal((await cat.dois.list(who('server-token-1'))).length, 0);
  assert.throws(() => dataciteFromEnv({ DAQLAB_DATACITE_PREFIX: '11.x' }), /DAQLAB_DATACITE_PREFIX/);
});
