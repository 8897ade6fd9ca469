/**
 * How a run ended, as the acquisition reports it: the rate asked vs achieved,
 * dropped frames, the warnings the client shows and the scan info records, and
 * stop/abort on a run that has already ended.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acquisition, type PrepareParams } from '../../src/control/acquisition.js';
import type { DetectorRun, ReceivedFrame } from '../../src/detectors/plugin.js';
import type { FrameSink, TruthRecorder } from '../../src/processing/sink.js';
import type { Scan } from '../../src/store/types.js';
import type { AcqStatus, Counters } from '../../src/protocol/index.js';

/** A detector whose frames take `costMs` each to make (busy wait: the pump cannot go faster). */
function fakeRun(costMs: number): DetectorRun {
  return {
    config: {},
    shape: [2, 2],
    dtype: 'uint16',
    minPeriod: 0,
    receiver: () => ({
      rank: 0,
      receive(index: number): ReceivedFrame {
        const end = performance.now() + costMs;
        while (performance.now() < end);
        return { index, data: new Uint16Array(4), valid: true };
      },
      close() {},
    }),
    close() {},
  } as unknown as DetectorRun;
}

/** The scan surface the acquisition uses; `info` collects what it records. */
function fakeScan(): Scan & { info: Record<string, unknown> } {
  const scan = {
    key: 'scan:1:test',
    state: 'CREATED',
    info: {} as Record<string, unknown>,
    setState(s: string) {
      scan.state = s;
    },
    updateInfo(patch: Record<string, unknown>) {
      Object.assign(scan.info, patch);
    },
    close() {
      scan.state = 'CLOSED';
    },
  };
  return scan as unknown as Scan & { info: Record<string, unknown> };
}

/** A sink that drops every frame after the first `keep` (as a full receiver queue does). */
function fakeSink(counters: Counters, keep: number): FrameSink {
  return {
    submit(frames: ReceivedFrame[]) {
      for (const f of frames) {
        if (f.index < keep) counters.nb_frames_processed++;
        else counters.nb_frames_dropped++;
      }
    },
    finish: () => Promise.resolve(),
    abort() {},
    onFault() {},
  };
}

function run(opts: { nbFrames: number; expo: number; costMs: number; keep?: number }): Promise<{ acq: Acquisition; scan: ReturnType<typeof fakeScan>; status: AcqStatus }> {
  const params: PrepareParams = {
    acquisition: { nb_frames: opts.nbFrames, expo_time: opts.expo, latency_time: 0, trigger_mode: 'internal', nb_frames_per_trigger: 1 },
    detector: {},
    processing: {},
    saving: {},
    scan: {},
  };
  const counters = Acquisition.counters(1);
  const scan = fakeScan();
  const truth = { record() {} } as unknown as TruthRecorder;
  const acq = new Acquisition('fake', params, fakeRun(opts.costMs), scan, counters, fakeSink(counters, opts.keep ?? Infinity), truth);
  return new Promise((resolve) => {
    acq.on('state', (status) => {
      if (status.finished) resolve({ acq, scan, status });
    });
    acq.start();
  });
}

test('a detector slower than asked says so: rate_achieved, a frame_rate warning, scan info frame_rate', async () => {
  // 1 kHz asked, 5 ms per frame: at most ~200 frames/s
  const { status, scan } = await run({ nbFrames: 20, expo: 0.001, costMs: 5 });
  assert.equal(status.rate_asked, 1000);
  assert.ok(status.rate_achieved !== null && status.rate_achieved < 300, `achieved ${status.rate_achieved}`);
  assert.deepEqual(status.warnings.map((w) => w.kind), ['frame_rate']);
  assert.match(status.warnings[0].message, /frames\/s instead of the 1\.00e\+3|frames\/s instead of the 1000/);
  const rate = scan.info.frame_rate as { asked: number; achieved: number };
  assert.equal(rate.asked, 1000);
  assert.ok(rate.achieved < 300);
  assert.equal((scan.info.warnings as string[]).length, 1);
  // once stopped, the one rate (fps) is the run's average: it agrees with the totals
  assert.equal(status.fps, status.rate_achieved);
  assert.ok(Math.abs(status.fps - status.counters.nb_frames_acquired / status.elapsed!) < 1e-9);
});

test('a run that keeps its rate and drops nothing has no warnings', async () => {
  const { status, scan } = await run({ nbFrames: 10, expo: 0.01, costMs: 0 });
  assert.deepEqual(status.warnings, []);
  assert.ok(status.rate_achieved! > 90 && status.rate_achieved! <= 1000, `achieved ${status.rate_achieved}`);
  assert.deepEqual(scan.info.warnings, []);
});

test('dropped frames are a warning with counts, percentage and how to size receivers, recorded in the scan info', async () => {
  const { status, scan } = await run({ nbFrames: 20, expo: 0.001, costMs: 0, keep: 15 });
  assert.equal(status.counters.nb_frames_dropped, 5);
  const dropped = status.warnings.find((w) => w.kind === 'dropped_frames');
  assert.ok(dropped);
  assert.match(dropped.message, /5 of 20 frames \(25\.0 %\) were dropped/);
  assert.match(dropped.message, /nb_receivers/);
  assert.ok((scan.info.warnings as string[]).some((w) => /25\.0 %/.test(w)));
  assert.equal((scan.info.counters as Counters).nb_frames_dropped, 5);
});

test('stop and abort on a run that has ended do nothing', async () => {
  const { acq } = await run({ nbFrames: 3, expo: 0.001, costMs: 0 });
  assert.equal(acq.state, 'STOPPED');
  acq.stop();
  acq.abort();
  assert.equal(acq.state, 'STOPPED');
  assert.equal(acq.reason, 'completed');
});
