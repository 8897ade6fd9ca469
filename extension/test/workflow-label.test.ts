/** The DAQ panel's line for a scan's workflow: graph and state, a failure's error shortened, nothing without one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workflowLabel } from '../src/workflow-label.js';

test('a workflow is shown with its graph and state; a failure with its error', () => {
  assert.equal(workflowLabel({}), '');
  assert.equal(workflowLabel({ workflow: { graph: '/repo/workflows/integrate.json', state: 'RUNNING' } }), 'workflow integrate RUNNING');
  assert.equal(workflowLabel({ workflow: { graph: 'integrate.json', state: 'DONE', error: null } }), 'workflow integrate DONE');
  const long = 'KeyError: no_such_detector '.repeat(20);
  const failed = workflowLabel({ workflow: { graph: 'integrate.json', state: 'FAILED', error: long } });
  assert.ok(failed.startsWith('workflow integrate FAILED: KeyError: no_such_detector'));
  assert.ok(failed.length < 200 && failed.endsWith('…'));
});
