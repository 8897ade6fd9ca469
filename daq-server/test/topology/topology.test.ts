/** One config file for a whole topology: each host takes its part, and every mistake names its field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type ServerConfig } from '../../src/config.js';

const EXAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../docs/deploy/topology.example.json');

function file(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'daqlab-topology-')), 'topology.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function parse(args: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  const cfg = parseConfig(args, env);
  assert.notEqual(cfg, 'help');
  return cfg as ServerConfig;
}

const TOPOLOGY = {
  token: 'shared-secret',
  detectors: ['sim-eiger-500k'],
  data_roots: ['/tmp'],
  memory_budget: '2G',
  hosts: {
    ctrl: { role: 'control', address: '10.0.0.1', host: '0.0.0.0', port: 9000 },
    recv1: { role: 'receiver', address: '10.0.0.11', memory_budget: '8G' },
    recv2: { role: 'receiver', address: 'recv2.beamline.example.org', port: 8800 },
  },
};

test('the documented example topology parses for each of its hosts', () => {
  const ctrl = parse(['--config', EXAMPLE, '--host-name', 'daq-ctrl']);
  assert.equal(ctrl.role, 'control');
  assert.equal(ctrl.host, '0.0.0.0');
  assert.deepEqual(ctrl.topology?.map((h) => h.name), Object.keys(JSON.parse(readFileSync(EXAMPLE, 'utf8')).hosts));
  const recv = parse(['--config', EXAMPLE, '--host-name', 'daq-recv2']);
  assert.equal(recv.role, 'receiver');
  assert.equal(recv.control, 'ws://10.0.0.1:8765/ws');
  assert.equal(recv.memoryBudget, 64 * 1024 ** 3);
});

test('each host takes its part: shared fields, its own overrides, its address bound by default', () => {
  const path = file(TOPOLOGY);
  const ctrl = parse(['--config', path, '--host-name', 'ctrl']);
  assert.deepEqual([ctrl.role, ctrl.hostName, ctrl.host, ctrl.port, ctrl.control, ctrl.store], ['control', 'ctrl', '0.0.0.0', 9000, null, 'memory']);
  assert.deepEqual([ctrl.token, ctrl.detectors, ctrl.memoryBudget], ['shared-secret', ['sim-eiger-500k'], 2 * 1024 ** 3]);
  assert.deepEqual(ctrl.topology?.map((h) => [h.name, h.role, h.address, h.port]), [
    ['ctrl', 'control', '10.0.0.1', 9000],
    ['recv1', 'receiver', '10.0.0.11', 8765],
    ['recv2', 'receiver', 'recv2.beamline.example.org', 8800],
  ]);
  const recv1 = parse(['--config', path, '--host-name', 'recv1']);
  assert.deepEqual([recv1.role, recv1.host, recv1.port, recv1.memoryBudget], ['receiver', '10.0.0.11', 8765, 8 * 1024 ** 3]);
  assert.equal(recv1.control, 'ws://10.0.0.1:9000/ws'); // where the control host is, from the same file
  // $DAQLAB_HOST_NAME picks the host too; command-line flags still win over the file
  const env = parse(['--config', path, '--port', '7000'], { DAQLAB_HOST_NAME: 'recv2' });
  assert.deepEqual([env.hostName, env.host, env.port], ['recv2', 'recv2.beamline.example.org', 7000]);
});

test('--role picks the only host with that role; the hostname picks otherwise', () => {
  const path = file(TOPOLOGY);
  assert.equal(parse(['--config', path, '--role', 'control']).hostName, 'ctrl');
  // two receivers: --role alone cannot say which
  assert.throws(() => parse(['--config', path, '--role', 'receiver']), /hosts: which host is this\?.*--host-name/);
  assert.throws(() => parse(['--config', path, '--host-name', 'recv1', '--role', 'control']), /hosts\.recv1\.role: is receiver, but --role says control/);
  assert.throws(() => parse(['--config', path, '--host-name', 'nope']), /hosts: no host named "nope" \(--host-name\); hosts: ctrl, recv1, recv2/);
});

test('a plain config file and flags keep working as before (standalone)', () => {
  const cfg = parse(['--config', file({ port: 9100, detectors: 'sim-eiger-500k' })]);
  assert.deepEqual([cfg.role, cfg.hostName, cfg.topology, cfg.port], ['standalone', null, null, 9100]);
  assert.equal(parse(['--host-name', 'recv-a']).hostName, 'recv-a'); // the name a receiver registers under
  const recv = parse(['--role', 'receiver', '--control', 'ws://127.0.0.1:8765']);
  assert.deepEqual([recv.role, recv.control], ['receiver', 'ws://127.0.0.1:8765/ws']);
  assert.throws(() => parse(['--role', 'receiver']), /--role receiver: needs its control server/);
  assert.throws(() => parse(['--role', 'boss']), /--role: expected control or receiver/);
  assert.throws(() => parse(['--role', 'receiver', '--control', 'http://x:1']), /--control: expected ws:\/\/HOST:PORT/);
  // off loopback, a receiver must carry the control server's token
  assert.throws(() => parse(['--role', 'receiver', '--control', 'ws://10.0.0.1:8765']), /--token: a receiver needs the control server's token/);
  assert.equal(parse(['--role', 'receiver', '--control', 'ws://10.0.0.1:8765', '--token', 'T']).token, 'T');
});

test('every mistake in a topology file names its field', () => {
  const bad = (patch: (t: any) => void, re: RegExp, args = ['--host-name', 'ctrl']) => {
    const t = structuredClone(TOPOLOGY) as any;
    patch(t);
    assert.throws(() => parse(['--config', file(t), ...args]), re, String(re));
  };
  bad((t) => (t.hosts = {}), /: hosts: expected an object \{name: \{role, address, \.\.\.\}\} with at least one host/);
  bad((t) => (t.hosts = ['a']), /: hosts: expected an object/);
  bad((t) => (t.hosts.recv1.role = 'worker'), /hosts\.recv1\.role: expected control or receiver, got "worker"/);
  bad((t) => delete t.hosts.recv2.address, /hosts\.recv2\.address: expected the host name or IP address/);
  bad((t) => (t.hosts.recv2.address = 'http://10.0.0.12:8765'), /hosts\.recv2\.address: .*no scheme or port/);
  bad((t) => (t.hosts.recv1.port = 70000), /hosts\.recv1\.port: expected an integer 1–65535/, ['--host-name', 'recv1']);
  bad((t) => (t.hosts.ctrl.port = '9000'), /hosts\.ctrl\.port: expected an integer/);
  bad((t) => (t.hosts.recv1.role = 'control'), /hosts: exactly one host has role "control", found 2 \(ctrl, recv1\)/);
  bad((t) => (t.hosts.ctrl.role = 'receiver'), /hosts: exactly one host has role "control", found 0/);
  bad((t) => (t.hosts['bad name'] = { role: 'receiver', address: 'x' }), /hosts\.bad name: a host name is/);
  bad((t) => (t.hosts.ctrl.colour = 'red'), /hosts\.ctrl\.colour: unknown field; known: host, port/);
  bad((t) => (t.frobnicate = 1), /: frobnicate: unknown field/);
  bad((t) => (t.store = 'mongodb://x'), /: store: expected "memory" or redis:\/\//);
  bad((t) => (t.detectors = [1, 2]), /: detectors: expected a string or a list of strings/);
  bad((t) => (t.token = 5), /: token: expected a string or null/);
  bad((t) => (t.hosts.recv2 = 'x'), /hosts\.recv2: expected an object/);
  // the field names the file, too
  assert.throws(() => parse(['--config', file('{"hosts": ')]), /--config .*topology\.json: /);
  assert.throws(() => parse(['--config', file('[1]')]), /expected a JSON object/);
});

test('a topology file names the Redis store every host uses; its password is never printed', () => {
  const cfg = parse(['--config', file({ ...TOPOLOGY, store: 'redis://daqlab:s3cret@10.0.0.2:6379/0' }), '--host-name', 'recv1']);
  assert.equal(cfg.store, 'redis://daqlab:s3cret@10.0.0.2:6379/0');
  assert.throws(() => parse(['--config', file({ ...TOPOLOGY, store: 'redis://u:s3cret@host:port' }), '--host-name', 'recv1']),
    (err: Error) => /: store: expected "memory" or redis/.test(err.message) && !err.message.includes('s3cret'));
});
