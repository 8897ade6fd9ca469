import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, MAX_INFO_BYTES } from '../../src/store/index.js';
import { throwsDaq } from './helpers.js';

const store = () => createStore({ memoryBudget: 1e9 });

test('state only increases; skipping forward allowed; backwards is a StateError naming from/to', () => {
  const s = store().createScan({ name: 'loopscan' });
  assert.equal(s.state, 'CREATED');
  s.setState('STARTED'); // skips PREPARED
  assert.equal(s.state, 'STARTED');
  s.setState('STARTED'); // same state: no-op
  const e = throwsDaq(() => s.setState('PREPARED'), 'StateError', /from STARTED back to PREPARED/);
  assert.equal(e.extra.state, 'STARTED');
  assert.equal(e.extra.from, 'STARTED');
  assert.equal(e.extra.to, 'PREPARED');
  assert.equal(s.state, 'STARTED');
  s.setState('STOPPED');
  throwsDaq(() => s.setState('CREATED'), 'StateError');
  throwsDaq(() => s.setState('RUNNING' as never), 'ParameterError', /unknown state/);
});

test('state listeners see every change once; setState(CLOSED) closes (seals streams)', () => {
  const st = store();
  const seen: string[] = [];
  const off = st.onScanState((s) => seen.push(`${s.key}:${s.state}`));
  const s = st.createScan({});
  const ev = s.createEventStream('log');
  s.setState('PREPARED');
  s.setState('PREPARED');
  s.setState('CLOSED');
  assert.deepEqual(seen, [`${s.key}:PREPARED`, `${s.key}:CLOSED`]);
  assert.equal(ev.sealed, true);
  off();
  s.close(); // no-op, no event
  assert.equal(seen.length, 2);
});

test('identity defaults and number auto-increment per session', () => {
  const st = store();
  const a = st.createScan({});
  assert.deepEqual(a.identity, { name: 'scan', number: 1, session: 'default', proposal: '', sample: '', dataset: '', path: '' });
  const b = st.createScan({ name: 'ct', session: 'id11' });
  const c = st.createScan({ name: 'loopscan', session: 'id11', sample: 'lyso' });
  assert.equal(b.identity.number, 1);
  assert.equal(c.identity.number, 2, 'numbers count per session, whatever the name');
  assert.equal(c.identity.sample, 'lyso');
  const d = st.createScan({ session: 'id11', number: 10 });
  assert.equal(d.identity.number, 10);
  assert.equal(st.createScan({ session: 'id11' }).identity.number, 11, 'a given number raises the counter');
  assert.equal(st.createScan({}).identity.number, 2, 'other sessions count on their own');
  // keys: unique, readable, seq increasing
  assert.match(a.key, /^scan:1:[0-9a-f]{8}$/);
  assert.ok(b.seq > a.seq && c.seq > b.seq);
  assert.equal(st.lastSeq, 6);
  assert.equal(st.scanCount, 6);
  assert.throws(() => ((a.identity as { name: string }).name = 'x'), TypeError, 'identity is frozen');
});

test('identity validation names every bad field', () => {
  const e = throwsDaq(
    () => store().createScan({ name: 3 as never, number: -1, sesion: 'x' } as never),
    'ParameterError',
  );
  assert.deepEqual(
    e.fields!.map((f) => f.field).sort(),
    ['identity.name', 'identity.number', 'identity.sesion'],
  );
});

test('info is limited to 1 MiB of JSON (ParameterError naming info), copied, and merged by updateInfo', () => {
  const st = store();
  const big = { blob: 'x'.repeat(MAX_INFO_BYTES) };
  const e = throwsDaq(() => st.createScan({}, big), 'ParameterError', /info: \d+ bytes/);
  assert.equal(e.fields![0]!.field, 'info');
  assert.equal(st.scanCount, 0, 'a refused scan is not created');
  const info = { energy: 12.4, motors: ['x', 'y'] };
  const s = st.createScan({}, info);
  info.energy = 0;
  assert.equal(s.info.energy, 12.4, 'info is a copy');
  s.updateInfo({ end: 'ok' });
  assert.deepEqual(s.info, { energy: 12.4, motors: ['x', 'y'], end: 'ok' });
  throwsDaq(() => s.updateInfo({ blob: 'y'.repeat(MAX_INFO_BYTES) }), 'ParameterError', /info/);
  assert.deepEqual(Object.keys(s.info), ['energy', 'motors', 'end'], 'a refused update changes nothing');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  throwsDaq(() => s.updateInfo(cyclic), 'ParameterError', /not JSON/);
  throwsDaq(() => st.createScan({}, [] as never), 'ParameterError', /JSON object/);
});

test('streams: created only before CLOSED, unique names, lookup errors list existing ones; close seals all', () => {
  const s = store().createScan({});
  const a = s.createArrayStream('frames', 'uint16', [4, 4], { units: 'counts' });
  const ev = s.createEventStream('events');
  throwsDaq(() => s.createEventStream('frames'), 'ParameterError', /already has a stream 'frames'/);
  throwsDaq(() => s.createArrayStream('bad', 'complex64' as never, [2]), 'ParameterError', /dtype/);
  throwsDaq(() => s.createArrayStream('bad', 'uint8', [0, 2]), 'ParameterError', /shape/);
  const nf = throwsDaq(() => s.stream('nope'), 'NotFoundError', /'frames', 'events'/);
  assert.match(nf.message, /"nope"/);
  assert.equal(s.stream('frames'), a);
  s.setState('STARTED');
  s.close();
  assert.equal(s.state, 'CLOSED');
  assert.ok(a.sealed && ev.sealed);
  throwsDaq(() => s.createEventStream('late'), 'StateError', /CLOSED/);
  throwsDaq(() => ev.append([1]), 'StateError', /sealed/);
  throwsDaq(() => s.updateInfo({ a: 1 }), 'StateError');
});

test('summary() is the ScanSummary wire object', () => {
  const s = store().createScan({ name: 'ct', proposal: 'mx1234' }, { title: 't' });
  const a = s.createArrayStream('frames', 'float32', [2, 3]);
  a.append(new Float32Array(12));
  s.createEventStream('log', { what: 'messages' });
  const sum = s.summary();
  assert.equal(sum.key, s.key);
  assert.equal(sum.seq, s.seq);
  assert.equal(sum.state, 'CREATED');
  assert.equal(sum.identity.proposal, 'mx1234');
  assert.deepEqual(sum.info, { title: 't' });
  assert.equal(typeof sum.created, 'string');
  assert.ok(!Number.isNaN(Date.parse(sum.created)));
  assert.deepEqual(sum.streams[0], {
    name: 'frames', kind: 'array', length: 2, first: 0, sealed: false, info: {}, dtype: 'float32', shape: [2, 3],
    trimmed_items: 0, trimmed_bytes: 0,
  });
  assert.deepEqual(sum.streams[1], {
    name: 'log', kind: 'event', length: 0, first: 0, sealed: false, info: { what: 'messages' }, trimmed_items: 0, trimmed_bytes: 0,
  });
  JSON.stringify(sum); // serialisable
});
