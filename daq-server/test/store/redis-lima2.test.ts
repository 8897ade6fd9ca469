/** The lima2 stream of a scan driven through the LIMA2 API (store/redis/lima2.ts): when there is one, its info, its count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lima2StreamDef, readablePrefix } from '../../src/store/redis/lima2.js';
import type { ArrayStream, SavedLocation, Scan } from '../../src/store/types.js';

/** only what lima2.ts reads of a frame stream: its type, length and saved locations */
function frames(saved: (Partial<SavedLocation> | null)[]): ArrayStream {
  return {
    kind: 'array',
    dtype: 'uint16',
    shape: [4, 6],
    length: saved.length,
    savedLocation: (i: number) => (saved[i] ? ({ path: '/d/f.h5', address: 0, size: 48, compression: 'none', valid: true, ...saved[i] } as SavedLocation) : null),
  } as unknown as ArrayStream;
}

function scan(info: Record<string, unknown>, stream = frames([])): Scan {
  return { info, streams: new Map([['frame', stream]]) } as unknown as Scan;
}

const LIMA2 = {
  class_name: 'LimaProcessingLegacy',
  acq_uuid: '0b6e3c1e-7c51-4b1e-9a1f-2a3b4c5d6e7f',
  detector: 'sim-eiger-500k',
  conductor: { hostname: 'beamline-pc', port: 58712 },
  master_files: { frame: ['/data/x_master.h5', 'entry_0000/instrument/detector/data'] },
};

test("a LIMA2 scan with saved frames gets blissdata-lima2's stream definition", () => {
  const def = lima2StreamDef(scan({ lima2: LIMA2 }));
  assert.ok(def);
  assert.equal(def.name, 'sim-eiger-500k:frame');
  assert.deepEqual(def.info, {
    plugin: 'lima2',
    protocol_version: 2,
    dtype: 'uint16',
    shape: [4, 6],
    acq_uuid: LIMA2.acq_uuid,
    source_name: 'frame',
    conductor_hostname: 'beamline-pc',
    conductor_port: 58712,
    master_file: ['/data/x_master.h5', 'entry_0000/instrument/detector/data'],
  });
});

test('no lima2 stream without the LIMA2 API, a conductor, or saved frames', () => {
  assert.equal(lima2StreamDef(scan({})), null);
  assert.equal(lima2StreamDef(scan({ lima2: { ...LIMA2, master_files: {} } })), null);
  assert.equal(lima2StreamDef(scan({ lima2: { ...LIMA2, conductor: undefined } })), null);
  assert.equal(lima2StreamDef({ info: { lima2: LIMA2 }, streams: new Map() } as unknown as Scan), null);
});

test('the count is the prefix of frames flushed to their files, and only grows', () => {
  const s = frames([{ index: 0 }, { index: 1, flushed: true }, { index: 2, flushed: false }, { index: 3 }]);
  assert.equal(readablePrefix(s, 0), 2);
  assert.equal(readablePrefix(s, 2), 2);
  assert.equal(readablePrefix(frames([{ index: 0 }, null, { index: 2 }]), 0), 1);
  assert.equal(readablePrefix(frames([{ index: undefined }]), 0), 0);
  assert.equal(readablePrefix(frames([{ index: 0 }, { index: 1 }]), 0), 2);
});
