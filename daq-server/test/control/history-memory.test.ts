/**
 * The controller keeps finished acquisitions for status queries: each must let go of its detector run,
 * receivers and processing sink, or the server's memory grows with every scan however small the store
 * (issue: +4.3 MB of array buffers per two-frame EIGER 4M scan, for the last 64 scans).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DaqService } from '../../src/service.js';
import { selectPlugins } from '../../src/detectors/registry.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('finished acquisitions kept for status queries hold no frame-sized memory', async () => {
  const service = new DaqService({ plugins: selectPlugins(['sim-eiger-4m']), memoryBudget: 64 * 1024 ** 2 });
  const ctl = service.detector('sim-eiger-4m');
  const run = async () => {
    const acq = await ctl.prepare({ acquisition: { nb_frames: 2, expo_time: 0.01 }, processing: { pipeline: 'legacy' } });
    const done = new Promise<void>((resolve) => {
      const t = setInterval(() => acq.finished && (clearInterval(t), resolve()), 5);
    });
    ctl.start(acq.uuid);
    await done;
    return acq;
  };
  try {
    await run(); // warm-up: modules, pools
    gc();
    const before = process.memoryUsage().arrayBuffers;
    let last = null;
    for (let i = 0; i < 10; i++) last = await run();
    gc();
    const grown = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
    // each run used to keep a 4.3 MB per-pixel mask and more: 10 runs ≈ 43 MB
    assert.ok(grown < 8, `array buffers grew ${grown.toFixed(1)} MB over 10 finished two-frame scans`);
    // what the history is for still works
    assert.equal(ctl.acquisition(last!.uuid).status().state, 'STOPPED');
    assert.equal(ctl.acquisition(last!.uuid).status().counters.nb_frames_processed, 2);
  } finally {
    service.shutdown();
  }
});
