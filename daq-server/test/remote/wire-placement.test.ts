/**
 * The remote frame path's pieces that need no network: result values on the wire (typed arrays round-trip
 * exactly, bad ones refused), the placement of receivers on hosts (spread, unknown hosts named), and the
 * control's channel to a host (a large answer reassembled from pieces, pieces out of order refused, a host
 * that stops answering pings counted lost). The real path across hosts is test/test_remote_receivers.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { decodeValue, encodeValue } from '../../src/processing/receivers/remote/wire.js';
import { placeReceivers } from '../../src/processing/receivers/remote/placement.js';
import { ReceiverRegistry } from '../../src/processing/receivers/remote/registry.js';
import { HostChannel } from '../../src/processing/receivers/remote/channel.js';

test('typed arrays and events cross the wire unchanged', () => {
  const f = new Float32Array([1.5, -2, Number.NaN, 3e30]);
  const back = decodeValue(encodeValue(f)) as Float32Array;
  assert.ok(back instanceof Float32Array);
  assert.deepEqual([...back], [...f]);
  const view = new Uint16Array(new Uint16Array([9, 8, 7, 6]).buffer, 2, 2); // a view at an offset
  assert.deepEqual([...(decodeValue(encodeValue(view)) as Uint16Array)], [8, 7]);
  assert.deepEqual(decodeValue(encodeValue({ frame_idx: 3, peaks: [1, 2] })), { frame_idx: 3, peaks: [1, 2] });
  assert.throws(() => decodeValue({ t: 'float64', b: Buffer.from([1, 2, 3]).toString('base64') }), /whole number of float64/);
  assert.throws(() => decodeValue({ t: 'complex' as never, b: '' }), /unknown dtype/);
});

function channelWith(name: string): { channel: HostChannel; sent: unknown[]; ws: EventEmitter & { ping(): void; terminate(): void } } {
  const ws = Object.assign(new EventEmitter(), { ping: () => undefined, terminate: () => ws.emit('close') });
  const sent: unknown[] = [];
  return { channel: new HostChannel(name, ws as unknown as WebSocket, (m) => sent.push(m)), sent, ws };
}

const reg = (name: string) => ({ name, address: '10.0.0.1', port: 1, protocol: 1, version: 'x', pipelines: {} });

test('receivers are spread over the named hosts; unknown hosts and too few receivers are field errors', () => {
  const registry = new ReceiverRegistry();
  for (const [k, n] of ['a', 'b', 'c'].entries()) registry.register(reg(n), k, 'peer', channelWith(n).channel);
  const all = placeReceivers('all', 5, registry);
  assert.deepEqual(all.errors, []);
  assert.deepEqual(all.placement!.names, ['a', 'b', 'c']);
  assert.deepEqual(all.placement!.counts, [2, 2, 1]);
  assert.deepEqual(placeReceivers(['c'], 3, registry).placement!.counts, [3]);
  assert.equal(placeReceivers(undefined, 3, registry).placement, null);
  const unknown = placeReceivers(['a', 'zz'], 2, registry);
  assert.equal(unknown.errors[0].field, 'processing.receiver_hosts');
  assert.match(unknown.errors[0].message, /not registered: zz \(registered: a, b, c\)/);
  assert.equal(placeReceivers(['a', 'b'], 1, registry).errors[0].field, 'processing.nb_receivers');
  assert.match(placeReceivers('all', 1, null).errors[0].message, /not a control server/);
  assert.match(placeReceivers('all', 1, new ReceiverRegistry()).errors[0].message, /no receiver host is registered/);
});

test("a host's answer in pieces is put back together; pieces out of order or a lost host reject the request", async () => {
  const { channel, sent, ws } = channelWith('h');
  const answer = channel.request({ op: 'remote.partials', run: 'r' }, 5000);
  const { rid } = sent[0] as { rid: number };
  const text = JSON.stringify({ ok: true, result: { acc: encodeValue(new Float64Array(1000).fill(2)) } });
  const half = Math.ceil(text.length / 2);
  channel.reply(rid, 0, 2, text.slice(0, half));
  channel.reply(rid, 1, 2, text.slice(half));
  const result = (await answer) as Record<string, never>;
  assert.equal((decodeValue(result.acc) as Float64Array).reduce((a, b) => a + b, 0), 2000);

  const bad = channel.request({ op: 'remote.partials', run: 'r' }, 5000);
  channel.reply((sent[1] as { rid: number }).rid, 1, 2, 'x');
  await assert.rejects(bad, /out of order/);

  const pending = channel.request({ op: 'remote.finish', run: 'r' }, 5000);
  const lost = new Promise((resolve) => channel.once('closed', resolve));
  ws.emit('close');
  await assert.rejects(pending, /receiver host h lost: its connection closed/);
  assert.equal(await lost, 'its connection closed');
  await assert.rejects(channel.request({ op: 'remote.close', run: 'r' }, 5000), /is gone/);
});
