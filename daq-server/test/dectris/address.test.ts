/** `--dectris NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy]`, on the command line and in --config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDectrisAddress } from '../../src/detectors/dectris/address.js';
import { parseConfig } from '../../src/config.js';

test('addresses: defaults per format, explicit stream, and every mistake named', () => {
  assert.deepEqual(parseDectrisAddress('eiger=http://10.0.0.5'), { name: 'eiger', url: 'http://10.0.0.5', stream: 'tcp://10.0.0.5:31001', format: 'cbor' });
  assert.deepEqual(parseDectrisAddress('e1=http://dcu:8080,format=legacy'), { name: 'e1', url: 'http://dcu:8080', stream: 'tcp://dcu:9999', format: 'legacy' });
  assert.equal(parseDectrisAddress('p4=http://dcu,stream=tcp://10.1.1.1:5555').stream, 'tcp://10.1.1.1:5555');
  for (const [text, re] of [
    ['http://dcu', /no NAME=/],
    ['a b=http://dcu', /detector name/],
    ['e=ftp://dcu', /http/],
    ['e=http://dcu/detector', /no path/],
    ['e=http://dcu,format=json', /format must be cbor/],
    ['e=http://dcu,stream=udp://x:1', /stream must be tcp/],
    ['e=http://dcu,speed=3', /unknown option/],
  ] as const) assert.throws(() => parseDectrisAddress(text), re, text);
});

test('--dectris and the config file both add detectors; a bad one fails the start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-dectris-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ dectris: ['a=http://127.0.0.1:1'] }));
  const cfg = parseConfig(['--config', file, '--dectris', 'b=http://127.0.0.1:2,format=legacy', '--state-dir', dir], {});
  assert.ok(cfg !== 'help');
  assert.deepEqual(cfg.dectris, ['a=http://127.0.0.1:1', 'b=http://127.0.0.1:2,format=legacy']);
  assert.throws(() => parseConfig(['--dectris', 'b=http://x,format=nope', '--state-dir', dir], {}), /format must be cbor/);
});
