import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowed, assertAllowed, type Command } from '../../src/control/state-machine.js';
import { ACQ_STATES, DaqError } from '../../src/protocol/index.js';

const table: Record<Command, string[]> = {
  prepare: ['IDLE', 'PREPARED', 'STOPPED'],
  start: ['PREPARED'],
  trigger: ['RUNNING'],
  stop: ['RUNNING'],
  abort: ['PREPARED', 'RUNNING'],
  reset: ['FAULT', 'IDLE', 'STOPPED'],
};

test('every command is allowed exactly in its states', () => {
  for (const [command, states] of Object.entries(table) as [Command, string[]][]) {
    for (const state of ACQ_STATES) {
      assert.equal(allowed(command, state), states.includes(state), `${command} in ${state}`);
    }
  }
});

test('a refused command is a StateError that says the state and what to do', () => {
  assert.throws(
    () => assertAllowed('start', 'IDLE', 'detector x'),
    (err: unknown) =>
      err instanceof DaqError &&
      err.type === 'StateError' &&
      /cannot start detector x in state IDLE/.test(err.message) &&
      /prepare first/.test(err.message) &&
      err.extra.state === 'IDLE',
  );
  assert.throws(() => assertAllowed('prepare', 'RUNNING', 'd'), /stop or abort it first/);
  assert.throws(() => assertAllowed('prepare', 'FAULT', 'd'), /reset first/);
});
