/**
 * A workflow request is checked at prepare: every problem names its field; graphs are confined to the
 * workflows folder or the data roots, bounded, and made of task classes only; defaults filled in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaqError } from '../../src/protocol/index.js';
import { checkGraph, parseWorkflow } from '../../src/workflows/request.js';

const GRAPH = { graph: { id: 'g' }, nodes: [{ id: 'a', task_type: 'class', task_identifier: 'pkg.tasks.Integrate' }], links: [] };

function setup() {
  const workflowsDir = mkdtempSync(join(tmpdir(), 'wf-dir-'));
  const root = mkdtempSync(join(tmpdir(), 'wf-root-'));
  writeFileSync(join(workflowsDir, 'integrate.json'), JSON.stringify(GRAPH));
  return { ctx: { workflowsDir, dataRoots: [root], slurm: false }, root };
}

async function fields(raw: unknown, ctx: Parameters<typeof parseWorkflow>[1]): Promise<string[]> {
  try {
    await parseWorkflow(raw, ctx);
  } catch (err) {
    assert.ok(err instanceof DaqError && err.type === 'ParameterError', String(err));
    return (err.fields ?? []).map((f) => f.field);
  }
  return [];
}

test('a graph name resolves in the workflows folder; defaults are filled in', async () => {
  const { ctx } = setup();
  const spec = await parseWorkflow('integrate.json', ctx);
  assert.deepEqual(spec, { graph: join(ctx.workflowsDir, 'integrate.json'), inputs: {}, on: 'end', where: 'local', timeout: 600 });
  const full = await parseWorkflow({ graph: 'integrate.json', inputs: { scan: 1, energy: 12.4 }, on: 'prepared', timeout: 30 }, ctx);
  assert.equal(full.on, 'prepared');
  assert.deepEqual(full.inputs, { scan: 1, energy: 12.4 });
});

test('every wrong field is named at once', async () => {
  const { ctx } = setup();
  assert.deepEqual(
    (await fields({ graph: 'integrate.json', on: 'later', where: 'slurm', timeout: 0, inputs: { filename: 'x', 'bad name': 1 }, extra: 1 }, ctx)).sort(),
    ['workflow.extra', 'workflow.inputs.bad name', 'workflow.inputs.filename', 'workflow.on', 'workflow.timeout', 'workflow.where'],
  );
  assert.deepEqual(await fields(42, ctx), ['workflow']);
  assert.deepEqual(await fields({ graph: 7 }, ctx), ['workflow.graph']);
});

test('graphs outside the workflows folder and the data roots, missing, or not graphs are refused', async () => {
  const { ctx, root } = setup();
  assert.deepEqual(await fields({ graph: '/etc/passwd' }, ctx), ['workflow.graph']);
  assert.deepEqual(await fields({ graph: '../integrate.json' }, ctx), ['workflow.graph']);
  assert.deepEqual(await fields({ graph: 'missing.json' }, ctx), ['workflow.graph']);
  writeFileSync(join(root, 'broken.json'), '{nope');
  assert.deepEqual(await fields({ graph: join(root, 'broken.json') }, ctx), ['workflow.graph']);
  writeFileSync(join(root, 'mine.json'), JSON.stringify(GRAPH));
  assert.equal((await parseWorkflow({ graph: join(root, 'mine.json') }, ctx)).graph, join(root, 'mine.json'));
});

test('only task classes run: methods, scripts and sub-graphs are refused', () => {
  assert.equal(checkGraph(GRAPH), null);
  assert.match(checkGraph({ nodes: [{ id: 'a', task_type: 'method', task_identifier: 'os.system' }] })!, /task_type "method" is not allowed/);
  assert.match(checkGraph({ nodes: [{ id: 'a', task_type: 'script', task_identifier: '/tmp/x.py' }] })!, /not allowed/);
  assert.match(checkGraph({ nodes: [{ id: 'a', task_type: 'class', task_identifier: 'x; rm -rf /' }] })!, /dotted class name/);
  assert.match(checkGraph({ nodes: [] })!, /no nodes/);
  assert.match(checkGraph([])!, /ewoks graph/);
});
