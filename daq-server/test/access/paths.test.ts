/**
 * Who may read which file (access/paths.ts + catalogue `pathVisible`), users forwarded by Jupyter
 * (access/forwarded.ts), the jobs' input check (catalogue/files.ts) and derived scans' proposal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessControl, forwardedPrincipal, proposalFolderOf, proposalOfPath, type UserEntry } from '../../src/access/index.js';
import { Catalogue } from '../../src/catalogue/service.js';
import { ThreadedSqliteCatalogue } from '../../src/catalogue/sqlite-thread.js';
import { readableFile } from '../../src/catalogue/files.js';
import { registerDerived, type DerivedResult } from '../../src/jobs/derived.js';
import { createStore } from '../../src/store/store.js';
import { DaqError } from '../../src/protocol/index.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'daqlab-access-')));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'data');

const entry = (user: string, more: Partial<UserEntry> = {}): UserEntry => ({ user, staff: false, beamlines: [], proposals: [], automation: false, passwordSha256: null, ...more });
const USERS = new Map<string, UserEntry>([
  ['tok-alice-123', entry('alice')],
  ['tok-bob-12345', entry('bob')],
  ['tok-staff-id11', entry('sam', { staff: true, beamlines: ['id11'] })],
  ['tok-staff-id99', entry('sue', { staff: true, beamlines: ['id99'] })],
]);

async function setup() {
  let now = new Date('2026-01-10T00:00:00Z');
  const access = new AccessControl(USERS, 'server-token-1', () => now);
  const cat = new Catalogue(await ThreadedSqliteCatalogue.open(':memory:'), access, { beamline: 'id11', root });
  const staff = access.resolve('tok-staff-id11');
  await cat.putProposal(staff, { proposal: 'mx1234', team: [{ user: 'alice', role: 'principal-investigator' }], start: '2026-01-01T00:00:00Z', end: '2026-01-04T00:00:00Z' });
  await cat.putProposal(staff, { proposal: 'mx9999', team: [{ user: 'bob', role: 'principal-investigator' }], start: '2026-01-01T00:00:00Z', end: '2026-01-04T00:00:00Z' });
  return { cat, access, setNow: (d: string) => (now = new Date(d)) };
}

test('the proposal of a path is the first folder below the data root; files elsewhere belong to none', () => {
  assert.equal(proposalOfPath('/data', '/data/mx1234/id11/s/s_0001/scan.h5'), 'mx1234');
  assert.equal(proposalOfPath('/data/', '/data/mx1234/x.h5'), 'mx1234');
  assert.equal(proposalOfPath('/data', '/data/x.h5'), null, 'a file directly in the root');
  assert.equal(proposalOfPath('/data', '/data'), null);
  assert.equal(proposalOfPath('/data', '/database/mx1234/x.h5'), null, 'a sibling folder with the same prefix');
  assert.equal(proposalOfPath('/data', '/data/../etc/mx1234/x'), null);
  assert.equal(proposalOfPath('/data', 'data/mx1234/x.h5'), null, 'relative paths are never guessed');
  // a proposal's own folder is its own (a listing of the root shows only the proposals one may read)
  assert.equal(proposalFolderOf('/data', '/data/mx1234'), 'mx1234');
  assert.equal(proposalFolderOf('/data', '/data/mx1234/id11'), null);
  assert.equal(proposalFolderOf('/data', '/data'), null);
  assert.equal(proposalFolderOf('/data', '/database'), null);
});

test('files of a proposal: member served, other user refused, public only once released, staff of the beamline only', async () => {
  const { cat, access, setNow } = await setup();
  test.after(() => cat.close());
  const file = join(root, 'mx1234', 'id11', 'lyso', 'lyso_0001', 'scan.h5');
  const who = (t: string | null) => access.resolve(t);
  assert.equal(await cat.canReadPath(who('tok-alice-123'), file), true, 'member');
  assert.equal(await cat.canReadPath(who('tok-bob-12345'), file), false, 'a user of another proposal');
  assert.equal(await cat.canReadPath(who(null), file), false, 'public, in embargo');
  assert.equal(await cat.canReadPath(who('tok-staff-id11'), file), true, 'staff of id11');
  assert.equal(await cat.canReadPath(who('tok-staff-id99'), file), false, 'staff of another beamline');
  assert.equal(await cat.canReadPath(who('server-token-1'), file), true, 'operator');
  // outside any proposal folder: as before
  for (const p of [join(root, 'loose.h5'), join(root, 'unknown-proposal', 'x.h5'), '/elsewhere/x.h5']) assert.equal(await cat.canReadPath(who(null), p), true, p);
  setNow('2029-01-05T00:00:00Z'); // three years after the session: released
  assert.equal(await cat.canReadPath(who(null), file), true, 'public, released');
  assert.equal(await cat.canReadPath(who('tok-staff-id99'), file), true);
});

test('a user forwarded by Jupyter needs the shared secret; unknown names are public', async () => {
  const { access, cat } = await setup();
  test.after(() => cat.close());
  const secret = 'a-shared-secret-of-jupyter';
  assert.equal(forwardedPrincipal(access, secret, {}), null, 'nothing asserted');
  assert.equal(forwardedPrincipal(access, secret, { 'x-daqlab-user': 'alice', 'x-daqlab-jupyter-secret': secret })?.name, 'alice');
  assert.deepEqual(forwardedPrincipal(access, secret, { 'x-daqlab-user': 'sam', 'x-daqlab-jupyter-secret': secret })?.staffOf, ['id11']);
  assert.equal(forwardedPrincipal(access, secret, { 'x-daqlab-user': 'mallory', 'x-daqlab-jupyter-secret': secret })?.name, 'public');
  const refused = (h: Record<string, string>, s: string | null = secret) =>
    assert.throws(() => forwardedPrincipal(access, s, h), (e: unknown) => e instanceof DaqError && e.type === 'AuthError');
  refused({ 'x-daqlab-user': 'alice' });
  refused({ 'x-daqlab-user': 'alice', 'x-daqlab-jupyter-secret': 'wrong-secret-wrong-secret' });
  refused({ 'x-daqlab-user': 'alice', 'x-daqlab-jupyter-secret': secret }, null);
});

test('jobs\' inputs: another proposal\'s folder is refused whether the file exists or not; links are followed', async () => {
  const { cat } = await setup();
  test.after(() => cat.close());
  const mine = join(root, 'mx1234', 'id11', 's', 's_0001');
  const theirs = join(root, 'mx9999', 'id11', 's', 's_0001');
  mkdirSync(mine, { recursive: true });
  mkdirSync(theirs, { recursive: true });
  writeFileSync(join(mine, 'scan.h5'), 'x');
  writeFileSync(join(theirs, 'scan.h5'), 'x');
  symlinkSync(join(theirs, 'scan.h5'), join(dir, 'link.h5'));
  const may = readableFile(cat);
  assert.equal(await may('tok-alice-123', join(mine, 'scan.h5')), true);
  assert.equal(await may('tok-alice-123', join(theirs, 'scan.h5')), false);
  assert.equal(await may('tok-alice-123', join(theirs, 'nothing.h5')), false, 'same answer as for an existing file');
  assert.equal(await may('tok-alice-123', join(dir, 'link.h5')), false, 'a link out of the proposal folders into another proposal');
  assert.equal(await may('tok-bob-12345', join(dir, 'link.h5')), true);
  assert.equal(await may('tok-alice-123', join(mine, 'later.h5')), true, 'a missing file of her own proposal: the job says so');
  assert.equal(await may('tok-alice-123', join(root, 'not-a-proposal', 'x.h5')), true, 'a folder of no registered proposal: as before');
  assert.equal(await may('tok-alice-123', join(dir, 'elsewhere', 'x.h5')), true, 'outside the data root: as before');
});

test('a derived scan whose source is not held belongs to the proposal folder of its source', () => {
  const store = createStore({ memoryBudget: 1 << 20 });
  const d: DerivedResult = {
    job_id: '7', user: 'alice', job_name: 'azint', template: 'azint', manifest: '/m.json', master: '/jobs/7/out_master.h5',
    source: join(root, 'mx1234', 'id11', 's', 's_0001', 'scan_master.h5'), source_key: null, frames: null, params: {}, created: null,
  };
  const scan = registerDerived(store, d, (p) => proposalOfPath(root, p));
  assert.equal(scan.identity.proposal, 'mx1234');
  const other = registerDerived(store, { ...d, job_id: '8', source: '/elsewhere/x_master.h5' }, (p) => proposalOfPath(root, p));
  assert.equal(other.identity.proposal, '');
});
