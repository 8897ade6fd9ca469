import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { encodeArrayItems, encodeEvents } from '../../src/api/arrow-encode.js';

const PYTHON = resolve(import.meta.dirname, '../../../../.venv/bin/python');
const join_ = (chunks: Uint8Array[]) => Buffer.concat(chunks);

test('a one-frame payload points at the frame memory (no copy)', () => {
  const frame = new Uint32Array(514 * 1030).fill(7);
  const chunks = encodeArrayItems({ scan: 's', stream: 'frame', dtype: 'uint32', shape: [514, 1030] }, [3], [frame], [true]);
  assert.ok(chunks.some((c) => c.buffer === frame.buffer));
});

test('apache-arrow JS decodes what the server encodes', () => {
  const a = new Int16Array([1, -2, 3, -4, 5, -6]);
  const b = new Int16Array([7, 8, 9, 10, 11, 12]);
  const table = tableFromIPC(join_(encodeArrayItems({ scan: 's', stream: 'x', dtype: 'int16', shape: [2, 3] }, [10, 12], [a, b], [true, false])));
  assert.equal(table.numRows, 2);
  assert.equal(table.schema.metadata.get('daqlab.shape'), '[2,3]');
  assert.equal(Number(table.getChild('index')!.get(1)), 12);
  assert.equal(table.getChild('valid')!.get(1), false);
  assert.deepEqual([...(table.getChild('data')!.get(0) as { toArray(): Int16Array }).toArray()], [1, -2, 3, -4, 5, -6]);
});

test('pyarrow decodes frames and events exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-arrow-'));
  const frames = [new Float32Array([0.5, 1.5, -2, 3e9]), new Float32Array([4, 5, 6, 7])];
  writeFileSync(join(dir, 'frames.arrow'), join_(encodeArrayItems({ scan: 'k', stream: 'f', dtype: 'float32', shape: [2, 2] }, [0, 1], frames, [true, true])));
  writeFileSync(join(dir, 'events.arrow'), join_(encodeEvents('k', 'e', 5, [{ a: 1 }, { b: 'x' }])));
  const script = `
import json, sys, pyarrow as pa, pyarrow.ipc as ipc
d = sys.argv[1]
t = ipc.open_stream(pa.OSFile(d + '/frames.arrow')).read_all()
m = t.schema.metadata
data = t.column('data').combine_chunks().flatten().to_numpy().reshape([t.num_rows] + json.loads(m[b'daqlab.shape']))
e = ipc.open_stream(pa.OSFile(d + '/events.arrow')).read_all()
print(json.dumps({'dtype': m[b'daqlab.dtype'].decode(), 'data': data.tolist(), 'index': t.column('index').to_pylist(),
  'events': [json.loads(x) for x in e.column('json').to_pylist()], 'eindex': e.column('index').to_pylist()}))
`;
  const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.dtype, 'float32');
  assert.deepEqual(out.data, [[[0.5, 1.5], [-2, 3e9]], [[4, 5], [6, 7]]]);
  assert.deepEqual(out.index, [0, 1]);
  assert.deepEqual(out.events, [{ a: 1 }, { b: 'x' }]);
  assert.deepEqual(out.eindex, [5, 6]);
});
