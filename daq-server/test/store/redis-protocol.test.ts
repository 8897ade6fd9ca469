/** blissdata's protocol 1 as daqlab writes it (store/redis/protocol.ts) and the --store option (url.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blissdata, parseStore } from '../../src/store/redis/index.js';

const { arrayPayload, blissInfo, dataEntryArgs, entryId, entrySizes, eventPayload, identityModel, numericEncoding, sealArgs, ulid } = blissdata;

test('entry ids carry the index of the first point; len only above 1; the seal carries the total length', () => {
  assert.equal(entryId(0), '0-1');
  assert.equal(entryId(41), '41-1');
  const p = Buffer.from([1, 2]);
  assert.deepEqual(dataEntryArgs(7, p, 1), ['7-1', 'payload', p]);
  assert.deepEqual(dataEntryArgs(7, p, 3), ['7-1', 'payload', p, 'len', '3']);
  assert.deepEqual(sealArgs(12), ['18446744073709551615-18446744073709551615', 'id', '12']);
});

test('numeric payloads are the C-order bytes of the points; one point is not copied', () => {
  const a = new Uint16Array([1, 2, 3, 4, 5, 6]);
  const one = arrayPayload([a.subarray(2, 4)]);
  assert.equal(one.buffer, a.buffer); // a view
  assert.deepEqual([...one], [3, 0, 4, 0]);
  const two = arrayPayload([a.subarray(0, 2), a.subarray(4, 6)]);
  assert.deepEqual([...new Uint16Array(two.buffer, two.byteOffset, 4)], [1, 2, 5, 6]);
  assert.deepEqual(numericEncoding('uint16', [4, 5]), { type: 'numeric', dtype_str: '<u2', shape: [4, 5] });
  assert.deepEqual(numericEncoding('uint8', []), { type: 'numeric', dtype_str: '|u1', shape: [] });
  assert.deepEqual(numericEncoding('float64', [3]), { type: 'numeric', dtype_str: '<f8', shape: [3] });
});

test('small points share entries of about 1 MiB, frames go one per entry', () => {
  assert.deepEqual(entrySizes(5, 8 << 20, 1 << 20), [1, 1, 1, 1, 1]);
  assert.deepEqual(entrySizes(10, 300 << 10, 1 << 20), [3, 3, 3, 1]);
  assert.deepEqual(entrySizes(0, 4, 1 << 20), []);
  assert.deepEqual(entrySizes(3, 0, 1 << 20), [3]);
});

test('json payloads and scan info: NaN and Infinity become null, typed arrays lists, oversize info a note', () => {
  assert.equal(eventPayload({ a: NaN, b: [1, Infinity] }), '{"a":null,"b":[1,null]}');
  assert.equal(eventPayload(undefined), 'null');
  assert.deepEqual(blissInfo({ x: NaN, t: new Float32Array([1, 2]) }), { x: null, t: [1, 2] });
  const big = blissInfo({ s: 'x'.repeat(2 ** 20) });
  assert.match(String(big.daqlab_note), /exceeds blissdata's 1 MB limit/);
});

test('identity: every field of blissdata\'s model, null when empty; the sample is the collection', () => {
  const id = identityModel('PK', { name: 'n', number: 3, session: 'default', proposal: '', sample: 's1', dataset: '', path: '' });
  assert.deepEqual(id, { pk: 'PK', name: 'n', number: 3, data_policy: 'no_policy', session: 'default', proposal: null, collection: 's1', dataset: null, path: null });
});

test('ulids: 26 Crockford base32 characters, ordered by time', () => {
  const a = ulid(1_700_000_000_000);
  const b = ulid(1_700_000_000_001);
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.ok(a.slice(0, 10) < b.slice(0, 10));
  assert.notEqual(ulid(5), ulid(5));
});

test('--store: memory or a redis URL; off loopback needs a password; the password is never echoed', () => {
  assert.deepEqual(parseStore('memory'), { kind: 'memory' });
  assert.deepEqual(parseStore('redis://127.0.0.1:6400/2'), { kind: 'redis', url: 'redis://127.0.0.1:6400/2', host: '127.0.0.1', port: 6400, db: 2 });
  assert.equal((parseStore('redis://localhost') as { port: number }).port, 6379);
  assert.throws(() => parseStore('redis://10.0.0.5:6379/0'), /--store: Redis off loopback \(10\.0\.0\.5\) needs a password/);
  assert.equal(parseStore('redis://daq:pw@10.0.0.5:6379/0').kind, 'redis');
  assert.equal(parseStore('redis://daq@10.0.0.5:6379/0', '--store', true).kind, 'redis'); // $DAQLAB_REDIS_PASSWORD
  assert.throws(() => parseStore('redis://127.0.0.1/99'), /database number must be 0–15/);
  assert.throws(() => parseStore('http://x'), /--store: expected memory or a redis:\/\/ URL/);
  assert.throws(() => parseStore('not a url:pw@', 'store'), (e: Error) => e.message.startsWith('store: ') && !e.message.includes('pw'));
});

test('the config file key "store" and --store reach the server config; memory is the default', async () => {
  const { parseConfig } = await import('../../src/config.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-store-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ store: 'redis://127.0.0.1:6390/1' }));
  const env = { DAQLAB_STATE_DIR: dir };
  assert.equal((parseConfig([], env) as { store: string }).store, 'memory');
  assert.equal((parseConfig(['--config', file], env) as { store: string }).store, 'redis://127.0.0.1:6390/1');
  assert.equal((parseConfig(['--config', file, '--store', 'memory'], env) as { store: string }).store, 'memory');
  writeFileSync(file, JSON.stringify({ store: 'redis://10.1.1.1:6379/0' }));
  assert.throws(() => parseConfig(['--config', file], env), /store: Redis off loopback/);
});
