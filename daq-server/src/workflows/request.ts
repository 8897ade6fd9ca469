/**
 * Check a `workflow` request at prepare, before anything starts: every problem a ParameterError
 * naming its field (`workflow.graph`, `workflow.inputs.x` …). The graph file is confined to the
 * workflows folder or the data roots, read (bounded) and checked as an ewoks graph whose nodes are
 * task classes only: a graph naming a bare method, a script or a notebook could run any code as the
 * server, so it is refused here (and again by the runner).
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DaqError, type FieldError } from '../protocol/index.js';
import { WORKFLOW_LIMITS, type WorkflowRequest } from '../protocol/workflows.js';
import { confine } from '../files/roots.js';

/** A checked workflow: its graph an absolute path, defaults filled in. */
export interface WorkflowSpec {
  graph: string;
  inputs: Record<string, unknown>;
  on: 'end' | 'prepared';
  where: 'local' | 'slurm';
  timeout: number;
}

const KNOWN = ['graph', 'inputs', 'on', 'where', 'timeout'];
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** a graph named without a folder: a file of the workflows folder */
const BARE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.json$/;
/** the input daqlab gives itself (`scan`, the entry number, may be given: an acquisition's entry is named by its saving) */
export const RESERVED_INPUTS = ['filename'];

export interface WorkflowContext {
  /** the folder of graphs named by file name */
  workflowsDir: string;
  dataRoots: readonly string[];
  /** false: no jobs service, `where: "slurm"` is refused */
  slurm: boolean;
}

function fail(errors: FieldError[]): never {
  throw new DaqError('ParameterError', `workflow: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
}

export async function parseWorkflow(raw: unknown, ctx: WorkflowContext, field = 'workflow'): Promise<WorkflowSpec> {
  const errors: FieldError[] = [];
  const add = (f: string, message: string) => errors.push({ field: `${field}${f ? `.${f}` : ''}`, message });
  if (typeof raw === 'string') raw = { graph: raw };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail([{ field, message: 'must be {graph, inputs?, on?, where?, timeout?} or a graph name' }]);
  }
  const r = raw as Record<string, unknown> & WorkflowRequest;
  for (const k of Object.keys(r)) if (!KNOWN.includes(k)) add(k, `unknown field; known: ${KNOWN.join(', ')}`);
  const on = r.on ?? 'end';
  if (on !== 'end' && on !== 'prepared') add('on', `must be "end" or "prepared", got ${JSON.stringify(r.on)?.slice(0, 40)}`);
  const where = r.where ?? 'local';
  if (where !== 'local' && where !== 'slurm') add('where', `must be "local" or "slurm", got ${JSON.stringify(r.where)?.slice(0, 40)}`);
  else if (where === 'slurm' && !ctx.slurm) add('where', 'this server has no Slurm cluster configured (--slurm); use "local"');
  const timeout = r.timeout ?? WORKFLOW_LIMITS.defaultTimeout;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > WORKFLOW_LIMITS.maxTimeout) {
    add('timeout', `must be seconds in (0, ${WORKFLOW_LIMITS.maxTimeout}], got ${JSON.stringify(timeout)?.slice(0, 40)}`);
  }
  const inputs = r.inputs ?? {};
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) add('inputs', 'must be an object {name: value}');
  else {
    const names = Object.keys(inputs);
    if (names.length > WORKFLOW_LIMITS.maxInputs) add('inputs', `at most ${WORKFLOW_LIMITS.maxInputs} inputs, got ${names.length}`);
    for (const n of names) if (!NAME.test(n)) add(`inputs.${n.slice(0, 40)}`, 'must be an identifier');
    for (const n of RESERVED_INPUTS) if (n in inputs) add(`inputs.${n}`, 'is given by daqlab (the scan\'s master)');
    if (JSON.stringify(inputs).length > WORKFLOW_LIMITS.maxInputsBytes) add('inputs', `must be at most ${WORKFLOW_LIMITS.maxInputsBytes} bytes of JSON`);
  }
  const graph = typeof r.graph === 'string' ? await resolveGraph(r.graph, ctx, add) : (add('graph', 'must be the name or path of an ewoks graph (.json)'), '');
  if (errors.length) fail(errors);
  return { graph, inputs: inputs as Record<string, unknown>, on, where, timeout: timeout as number };
}

/** The graph's absolute path, read and checked; problems are added under `graph`. */
async function resolveGraph(name: string, ctx: WorkflowContext, add: (f: string, m: string) => void): Promise<string> {
  let path: string;
  if (BARE.test(name) && !isAbsolute(name)) path = join(ctx.workflowsDir, name);
  else {
    try {
      path = await confine(name, [ctx.workflowsDir, ...ctx.dataRoots]);
    } catch (err) {
      add('graph', `${(err as Error).message} (a file name of ${ctx.workflowsDir}, or a path inside the data roots)`);
      return '';
    }
  }
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a file');
    if (st.size > WORKFLOW_LIMITS.maxGraphBytes) return (add('graph', `${path} is larger than ${WORKFLOW_LIMITS.maxGraphBytes} bytes`), '');
  } catch {
    add('graph', `no graph file ${path}`);
    return '';
  }
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    add('graph', `${path} is not JSON: ${(err as Error).message}`);
    return '';
  }
  const problem = checkGraph(doc);
  if (problem) add('graph', `${path}: ${problem}`);
  return path;
}

/** An ewoks graph in its JSON form, every node a task class: the problem, or null. */
export function checkGraph(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'must be an ewoks graph {graph, nodes, links}';
  const nodes = (doc as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) return 'has no nodes';
  for (const [k, n] of nodes.entries()) {
    const node = n as { id?: unknown; task_type?: unknown; task_identifier?: unknown };
    if (typeof node !== 'object' || node === null || node.id === undefined) return `nodes[${k}] has no id`;
    if (node.task_type !== 'class') return `node ${JSON.stringify(node.id)}: task_type ${JSON.stringify(node.task_type)} is not allowed (only "class": an installed ewoks task)`;
    if (typeof node.task_identifier !== 'string' || !/^[A-Za-z_][\w.]*$/.test(node.task_identifier)) return `node ${JSON.stringify(node.id)}: task_identifier must be a dotted class name`;
  }
  return null;
}
