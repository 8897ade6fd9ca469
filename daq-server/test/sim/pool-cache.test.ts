import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { PoolCache, IDLE_RELEASE_MS } from '../../src/detectors/sim/pool-cache.js';
import { simulatorPlugins, type SimRun } from '../../src/detectors/sim/index.js';

test('a run with the configuration of the last one replays its pool; another configuration renders anew', async () => {
  const plugin = simulatorPlugins().find((p) => p.name === 'sim-camera')!;
  const a = (await plugin.open({ pool_size: 2, seed: 1 })) as SimRun;
  const f0 = a.frame(0).data;
  a.close();
  const b = (await plugin.open({ pool_size: 2, seed: 1 })) as SimRun;
  assert.equal(b.frame(0).data, f0, 'same configuration: the same pool frame, not a new render');
  b.close();
  const c = (await plugin.open({ pool_size: 2, seed: 2 })) as SimRun;
  assert.notEqual(c.frame(0).data, f0);
  c.close();
});

test('the pool goes when no run has used it for IDLE_RELEASE_MS', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const cache = new PoolCache();
    const pool = cache.acquire('k', 2);
    pool[0] = { data: new Uint8Array(10) };
    cache.acquire('k', 2); // a second run while the first is open
    cache.release();
    mock.timers.tick(IDLE_RELEASE_MS + 1);
    assert.equal(cache.bytes, 10, 'one run still uses it');
    cache.release();
    mock.timers.tick(IDLE_RELEASE_MS - 1);
    assert.equal(cache.acquire('k', 2), pool, 'reused before the delay');
    cache.release();
    mock.timers.tick(IDLE_RELEASE_MS + 1);
    assert.equal(cache.bytes, 0);
    assert.notEqual(cache.acquire('k', 2), pool);
  } finally {
    mock.timers.reset();
  }
});
