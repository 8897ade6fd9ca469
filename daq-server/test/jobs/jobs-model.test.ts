import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseState, toJobInfo, type SlurmJobRecord } from '../../src/jobs/types.js';
import { Problems, checkEnv, checkPath, parseMemory, parseTime, shellWord } from '../../src/jobs/validate.js';
import { slurmMinutes } from '../../src/jobs/cli.js';
import { DaqError } from '../../src/protocol/index.js';

const record = (over: Partial<SlurmJobRecord>): SlurmJobRecord => ({
  job_id: 7, name: 'x', user_name: 'alice', user_id: 1000, job_state: 'RUNNING', ...over,
});

test('Slurm states map onto the normalised ones', () => {
  assert.equal(normaliseState('COMPLETING'), 'RUNNING');
  assert.equal(normaliseState('REQUEUE_HOLD'), 'PENDING');
  assert.equal(normaliseState('OUT_OF_MEMORY'), 'OUT_OF_MEMORY');
  assert.equal(normaliseState('STOPPED'), 'SUSPENDED');
  assert.equal(normaliseState('SOMETHING_NEW'), 'UNKNOWN');
});

test('the wait status gives exit code and signal, only once final', () => {
  const failed = toJobInfo(record({ job_state: 'FAILED', exit_code: 3 << 8, state_reason: 'NonZeroExitCode' }));
  assert.equal(failed.exit_code, 3);
  assert.equal(failed.signal, null);
  assert.equal(failed.reason, 'NonZeroExitCode');
  const killed = toJobInfo(record({ job_state: 'CANCELLED', exit_code: 9 }));
  assert.equal(killed.exit_code, 0);
  assert.equal(killed.signal, 9);
  assert.equal(toJobInfo(record({ exit_code: 0 })).exit_code, null);
});

test('array tasks and pending array ranges get Slurm-style ids', () => {
  assert.equal(toJobInfo(record({ job_id: 12, array_job_id: 10, array_task_id: 2 })).id, '10_2');
  assert.equal(toJobInfo(record({ job_id: 10, array_job_id: 10, array_task_id: null, array_task_string: '3-9', job_state: 'PENDING' })).id, '10_[3-9]');
  const held = toJobInfo(record({ job_state: 'PENDING', state_reason: 'JobHeldUser' }));
  assert.equal(held.held, true);
});

test('time limits and memory sizes in Slurm formats', () => {
  const p = new Problems();
  assert.equal(parseTime(p, 't', '00:10:00'), 10);
  assert.equal(parseTime(p, 't', '30'), 30);
  assert.equal(parseTime(p, 't', '1:30'), 2);
  assert.equal(parseTime(p, 't', '1-02:00:00'), 1560);
  assert.equal(parseMemory(p, 'm', '4G'), 4096);
  assert.equal(parseMemory(p, 'm', 500), 500);
  assert.equal(p.list.length, 0);
  parseTime(p, 't', '10; ls');
  parseMemory(p, 'm', '1G`id`');
  assert.deepEqual(p.list.map((f) => f.field), ['t', 'm']);
  assert.equal(slurmMinutes('UNLIMITED'), null);
  assert.equal(slurmMinutes('1-00:00:00'), 1440);
  assert.equal(slurmMinutes('5:00'), 5);
});

test('paths and env names are checked; script words must be inert', () => {
  const p = new Problems();
  assert.equal(checkPath(p, 'w', '/data//visit/'), '/data/visit');
  for (const bad of ['rel/x', '/a/../b', '/a b', "/a'b", '/a/$(x)', '/a%j', '/a;b']) assert.equal(checkPath(p, 'w', bad), null);
  assert.equal(p.list.length, 7);
  const q = new Problems();
  assert.deepEqual(checkEnv(q, 'env', { OK: '$(x) `y`', SBATCH_TIME: '1', 'A B': 'x' }), { OK: '$(x) `y`' });
  assert.deepEqual(q.list.map((f) => f.field), ['env.SBATCH_TIME', 'env.A B']);
  assert.equal(shellWord('/data/x.h5'), "'/data/x.h5'");
  assert.throws(() => shellWord("/x'; rm -rf ~"), DaqError);
});
