import assert from 'node:assert/strict';
import { DaqError, type ErrorType } from '../../src/protocol/errors.js';

/** Assert `fn` throws a DaqError of `type`; returns it for further checks. */
export function throwsDaq(fn: () => unknown, type: ErrorType, message?: RegExp): DaqError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DaqError, `expected a DaqError ${type}, got ${String(caught)}`);
  assert.equal(caught.type, type, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
