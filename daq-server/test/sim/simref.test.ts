/**
 * Cross-check: the flat and dark frames of sim-eiger-500k, sim-eiger-4m and
 * sim-camera agree bit for bit with the independent numpy reference
 * test/simref.py (several seeds, indexes, pool sizes, lost packets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, openRun } from './helpers.js';

const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const SIMREF = join(REPO_ROOT, 'test', 'simref.py');

interface Case {
  detector: string;
  config: Record<string, unknown>;
  indexes: number[];
}

const CASES: Case[] = [
  { detector: 'sim-eiger-500k', config: { scene: 'flat' }, indexes: [0, 1, 63, 64, 1000] },
  { detector: 'sim-eiger-500k', config: { scene: 'flat', seed: 7, pool_size: 0 }, indexes: [0, 5, 4294967301] },
  { detector: 'sim-eiger-500k', config: { scene: 'flat', seed: 4294967295, pool_size: 3, flat_mean: 0.37 }, indexes: [2, 4] },
  { detector: 'sim-eiger-500k', config: { scene: 'flat', seed: 3, flat_mean: 123456.5, pool_size: 2 }, indexes: [1] },
  { detector: 'sim-eiger-500k', config: { scene: 'flat', seed: 11, lost_packet_rate: 0.5, lost_frames: [3] }, indexes: [0, 1, 2, 3, 4, 5, 6, 7] },
  { detector: 'sim-eiger-500k', config: { scene: 'dark', seed: 5, lost_frames: [1] }, indexes: [0, 1] },
  { detector: 'sim-eiger-4m', config: { scene: 'flat', seed: 1, pool_size: 2 }, indexes: [0, 3] },
  { detector: 'sim-eiger-4m', config: { scene: 'dark', lost_packet_rate: 1 }, indexes: [0] },
  { detector: 'sim-camera', config: {}, indexes: [0, 17] },
  { detector: 'sim-camera', config: { seed: 9, pool_size: 0, flat_mean: 40000, offset: 30000, read_noise: 7.5 }, indexes: [2] },
  { detector: 'sim-camera', config: { scene: 'dark', seed: 2, offset: 3, read_noise: 3.3 }, indexes: [0, 1] },
  { detector: 'sim-camera', config: { scene: 'flat', flat_mean: 0.5, read_noise: 0, lost_packet_rate: 0.3 }, indexes: [0, 1, 2, 3] },
];

test('flat and dark frames agree bit for bit with test/simref.py', async () => {
  assert.ok(existsSync(PYTHON), `python interpreter missing: ${PYTHON} (the cross-check needs the project venv with numpy)`);
  assert.ok(existsSync(SIMREF), `reference missing: ${SIMREF}`);
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-simref-'));
  try {
    const manifest: { cases: unknown[] } = { cases: [] };
    let invalid = 0;
    for (const c of CASES) {
      const run = await openRun(c.detector, c.config);
      const rx = run.receiver(0, 1);
      for (const index of c.indexes) {
        const f = rx.receive(index);
        if (!f.valid) invalid++;
        const file = join(dir, `${manifest.cases.length}.bin`);
        writeFileSync(file, new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
        manifest.cases.push({ detector: c.detector, config: c.config, index, file, valid: f.valid });
      }
      run.close();
    }
    assert.ok(invalid >= 3, 'the cases include incomplete frames');
    const mpath = join(dir, 'manifest.json');
    writeFileSync(mpath, JSON.stringify(manifest));
    const res = spawnSync(PYTHON, [SIMREF, 'check', mpath], { encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(res.error, undefined, `could not run ${PYTHON}: ${res.error}`);
    assert.equal(res.status, 0, `simref check failed:\n${res.stdout}\n${res.stderr}`);
    const summary = JSON.parse(res.stdout.trim().split('\n').pop()!);
    assert.equal(summary.cases, manifest.cases.length);
    assert.deepEqual(summary.failures, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
