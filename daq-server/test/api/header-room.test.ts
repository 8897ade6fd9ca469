/** The per-item fields of a data header (times, frames) always fit the room kept for the header. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeader, perItemHeader, type DataHeader } from '../../src/protocol/index.js';
import { HEADER_ROOM, MAX_EVENTS_PER_PAYLOAD, MAX_ITEMS_PER_PAYLOAD } from '../../src/api/outbox.js';

const ids = (kind: 'array' | 'event', count: number): DataHeader => ({
  sub: 's'.repeat(64), req: Number.MAX_SAFE_INTEGER, scan: `scan:${Number.MAX_SAFE_INTEGER}:ffffffff`, stream: 'x'.repeat(256),
  kind, first: Number.MAX_SAFE_INTEGER, count, msg: Number.MAX_SAFE_INTEGER, part: 1000, parts: 1000, bytes: Number.MAX_SAFE_INTEGER,
});

test('the largest payloads of events and of arrays, with the longest times and frame indexes, fit HEADER_ROOM', () => {
  const n = MAX_EVENTS_PER_PAYLOAD;
  const events = encodeHeader({ ...ids('event', n), ...perItemHeader(0, n, undefined, new Array(n).fill(Number.MAX_SAFE_INTEGER)) });
  assert.ok(events.byteLength <= HEADER_ROOM, `${events.byteLength} bytes`);
  assert.ok(events.byteLength > 4096, 'what the former 4 KiB room could not hold');
  const m = MAX_ITEMS_PER_PAYLOAD;
  const times = new Array(m).fill(Date.now() + 0.123456);
  const arrays = encodeHeader({ ...ids('array', m), ...perItemHeader(0, m, times, new Array(m).fill(Number.MAX_SAFE_INTEGER)) });
  assert.ok(arrays.byteLength <= HEADER_ROOM, `${arrays.byteLength} bytes`);
});
