/** logbook/access.ts: who reads and writes which entries, per role, on a clock the test moves (the catalogue's proposals). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessControl, type UserEntry } from '../../src/access/index.js';
import { Catalogue } from '../../src/catalogue/service.js';
import { ThreadedSqliteCatalogue } from '../../src/catalogue/sqlite-thread.js';
import { Logbook, SqliteLogbook } from '../../src/logbook/index.js';
import { LogbookAccess } from '../../src/logbook/access.js';
import { DaqError } from '../../src/protocol/index.js';

const entry = (user: string, more: Partial<UserEntry> = {}): UserEntry => ({ user, staff: false, beamlines: [], proposals: [], automation: false, passwordSha256: null, ...more });
const USERS = new Map<string, UserEntry>([
  ['tok-alice-123', entry('alice')],
  ['tok-bob-12345', entry('bob')],
  ['tok-staff-id11', entry('sam', { staff: true, beamlines: ['id11'] })],
  ['tok-staff-id99', entry('sue', { staff: true, beamlines: ['id99'] })],
  ['tok-robot-1234', entry('robot', { automation: true })],
]);

async function setup() {
  let now = new Date('2026-01-10T00:00:00Z');
  const access = new AccessControl(USERS, 'server-token-1', () => now);
  const cat = new Catalogue(await ThreadedSqliteCatalogue.open(':memory:'), access, { beamline: 'id11', root: '/data/visitor' });
  const who = (t: string | null) => access.resolve(t);
  const staff = who('tok-staff-id11');
  await cat.putProposal(staff, { proposal: 'mx1234', team: [{ user: 'alice', role: 'principal-investigator' }], start: '2026-01-01', end: '2026-01-04' });
  await cat.putProposal(staff, { proposal: 'mx9999', team: [{ user: 'bob', role: 'principal-investigator' }], start: '2026-01-01', end: '2026-01-04' });
  await cat.putProposal(staff, { proposal: 'old2020', start: '2020-03-01', end: '2020-03-04' });
  const lb = new Logbook(new SqliteLogbook(':memory:'), { authorOf: () => 'x' });
  lb.access = new LogbookAccess(cat);
  lb.beamline = 'id11';
  return { lb, cat, who, setNow: (d: string) => (now = new Date(d)) };
}

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DaqError, String(err));
    return `${err.type}: ${err.message}`;
  }
  assert.fail('expected a refusal');
}

async function refusedAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof DaqError, String(err));
    return `${err.type}: ${err.message}`;
  }
  assert.fail('expected a refusal');
}

const texts = (l: { text: string }[]): string[] => l.map((e) => e.text).sort();

test('members read and write their proposal, others are refused as if it did not exist', async () => {
  const { lb, who } = await setup();
  const alice = who('tok-alice-123');
  const bob = who('tok-bob-12345');
  const a = lb.add({ content: 'alice aligned', proposal: 'mx1234' }, 'alice', [], alice);
  assert.equal(a.beamline, 'id11'); // the server's beamline when none is named
  lb.add({ content: 'bob aligned', proposal: 'mx9999' }, 'bob', [], bob);
  assert.deepEqual(texts((await lb.search({}, alice))), ['alice aligned']);
  assert.deepEqual(texts((await lb.search({ text: 'aligned' }, bob))), ['bob aligned']);
  // bob on alice's: get, versions, edit, add, stats all refused; the refusal of a hidden entry is a missing one's
  const hidden = refused(() => lb.get(a.id, bob));
  assert.equal(hidden.replace(String(a.id), 'N'), refused(() => lb.get(99999, bob)).replace('99999', 'N'));
  refused(() => lb.versions(a.id, bob));
  assert.match(refused(() => lb.edit({ entry: a.id, content: 'mine now' }, 'bob', bob)), /NotFoundError/);
  const add = refused(() => lb.add({ content: 'x', proposal: 'mx1234' }, 'bob', [], bob));
  assert.equal(add.replace('mx1234', 'P'), refused(() => lb.add({ content: 'x', proposal: 'nope' }, 'bob', [], bob)).replace('nope', 'P'));
  assert.match(await refusedAsync(() => lb.stats('mx1234', bob)), /NotFoundError/);
  // alice edits her entry: a new version
  assert.equal(lb.edit({ entry: a.id, content: 'alice aligned twice' }, 'alice', alice).version, 2);
  // statistics count only what the reader sees
  assert.equal((await lb.stats(null, bob)).entries, 1);
  assert.equal((await lb.stats('mx1234', alice)).entries, 1);
  assert.equal((await lb.stats(null)).entries, 2);
});

test('staff see their beamline, the public reads released proposals only, automation writes', async () => {
  const { lb, who, setNow } = await setup();
  const op = who('server-token-1');
  lb.add({ content: 'embargoed note', proposal: 'mx1234' }, 'daqlab', [], op);
  lb.add({ content: 'released note', proposal: 'old2020' }, 'daqlab', [], op);
  lb.add({ content: 'beamline note', beamline: 'id11' }, 'daqlab', [], op);
  lb.add({ content: 'other beamline note', beamline: 'id99' }, 'daqlab', [], op);
  const sam = who('tok-staff-id11');
  const sue = who('tok-staff-id99');
  const pub = who(null);
  const robot = who('tok-robot-1234');
  assert.deepEqual(texts((await lb.search({}, sam))), ['beamline note', 'embargoed note', 'released note']);
  assert.deepEqual(texts((await lb.search({}, sue))), ['other beamline note', 'released note']);
  assert.deepEqual(texts((await lb.search({}, pub))), ['released note']);
  // the public reads a released proposal, never writes it
  assert.match(refused(() => lb.add({ content: 'graffiti', proposal: 'old2020' }, 'public', [], pub)), /AuthError: .*read its logbook but not write/);
  const released = (await lb.search({}, pub))[0];
  assert.match(refused(() => lb.edit({ entry: released.id, content: 'graffiti' }, 'public', pub)), /AuthError/);
  // staff of id99 write their beamline's logbook, not id11's; a user with no proposal named is told to name one
  assert.equal(lb.add({ content: 'sue here', beamline: 'id99' }, 'sue', [], sue).beamline, 'id99');
  assert.match(refused(() => lb.add({ content: 'sue there' }, 'sue', [], sue)), /name the proposal/);
  assert.match(refused(() => lb.add({ content: 'no proposal' }, 'alice', [], who('tok-alice-123'))), /name the proposal/);
  // automation writes to any registered proposal and the beamline, reads nothing it is not given
  assert.equal(lb.add({ content: 'robot wrote', proposal: 'mx9999', type: 'notification' }, 'robot', [], robot).proposal, 'mx9999');
  assert.equal(lb.add({ content: 'robot beamline' }, 'robot', [], robot).beamline, 'id11');
  assert.match(refused(() => lb.add({ content: 'robot unknown', proposal: 'nope' }, 'robot', [], robot)), /NotFoundError/);
  assert.deepEqual(texts((await lb.search({}, robot))), ['released note']);
  // attachments follow their entry
  const pic = lb.add({ content: 'pic', proposal: 'mx1234', attachments: [{ name: 'a.png', mime: 'image/png', base64: 'AAAA' }] }, 'daqlab', [], op);
  assert.equal(lb.attachment(pic.attachments[0].id, sam).size, 3);
  assert.match(refused(() => lb.attachment(pic.attachments[0].id, pub)), /NotFoundError: no logbook attachment/);
  // the embargo ends: the public reads mx1234's logbook, decided at query time
  setNow('2029-01-05T00:00:00Z');
  assert.deepEqual(texts((await lb.search({ text: 'embargoed' }, pub))), ['embargoed note']);
  assert.equal(lb.attachment(pic.attachments[0].id, pub).size, 3);
  assert.equal((await lb.stats('mx1234', pub)).entries, 2);
});

test('the catalogue asynchronous: decisions on the facts at hand; a proposal not read yet is refused until Logbook.know reads it', async () => {
  const { lb, cat, who } = await setup();
  const alice = who('tok-alice-123');
  // registered behind the service's back (another server on the same database): not at hand here yet
  await cat.repo.putProposal({ id: 'mx5555', title: 't', abstract: '', beamline: 'id11', team: [{ user: 'alice', role: 'principal-investigator' }],
    start: '2026-01-01T00:00:00Z', end: '2026-01-04T00:00:00Z', releaseDate: '2029-01-04T00:00:00Z' });
  assert.match(refused(() => lb.add({ content: 'early', proposal: 'mx5555' }, 'alice', [], alice)), /NotFoundError/);
  await lb.know({ proposal: 'mx5555' }, alice);
  const e = lb.add({ content: 'after know', proposal: 'mx5555' }, 'alice', [], alice);
  // a search's scope is the catalogue's query of readable proposals (async)
  assert.deepEqual(texts(await lb.search({ text: 'know' }, alice)), ['after know']);
  assert.equal(lb.get(e.id, alice).text, 'after know');
  await cat.close();
});
