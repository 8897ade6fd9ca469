/**
 * Job templates: named recipes turning validated parameters into the command a
 * job runs. Parameters of type `path` become arguments (after the strict path
 * check); every other parameter reaches the program only through the JSON file
 * the server writes into the job folder, so free text is never shell syntax.
 *
 *  - azint, smx, tomo: the batch runner on a saved scan (daq-server/src/batch/cli.ts),
 *    writing `<output_dir>/<prefix>_master.h5` and the manifest `<prefix>.derived.json`
 *  - notebook: `python -m daqlab.batch.notebook` runs a notebook with parameters
 *  - demo: prints a message, progress lines, optional stderr text and exit code (tests, demos)
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplateInfo, TemplateParam } from '../protocol/index.js';
import { Problems, checkName, checkPath } from './validate.js';
import { RUNNER, ewoksPython } from '../workflows/local.js';

/** Where the generated command lives: absolute paths, fixed at server start. */
export interface TemplateContext {
  jobDir: string;
  paramsFile: string;
  jobName: string;
  /** the repository (…/daq-server/dist/src/jobs → four levels up) */
  repo: string;
  node: string;
  python: string;
}

export interface TemplateBuild {
  argv: string[];
  /** content of the params JSON file */
  params: unknown;
  /** folders the job writes to, created for the user before submission */
  outputDirs: string[];
  /** manifest of the derived scan, read back for `job.result` */
  manifest: string | null;
}

export interface JobTemplate extends TemplateInfo {
  build(params: Record<string, unknown>, ctx: TemplateContext): TemplateBuild;
}

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../../..');

/** The Python that runs notebooks: the repository's venv when there is one. */
export function defaultPython(repo = REPO): string {
  const venv = join(repo, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : '/usr/bin/python3';
}

function batchTemplate(name: 'azint' | 'smx' | 'tomo', what: string): JobTemplate {
  return {
    name,
    description: `${what} of a saved scan with the batch runner (the online pipeline, offline); writes a derived scan`,
    params: {
      source: { type: 'path', required: true, description: 'master file of the saved scan (daqlab.jobs.submit(scan=...) fills it in)' },
      params: { type: 'object', default: {}, description: `parameters of the ${name} pipeline (det.pipeline_schema("${name}"))` },
      prefix: { type: 'string', description: 'name of the derived files (default: the job name)' },
      output_dir: { type: 'path', description: 'folder of the derived files (default: <job folder>/output)' },
    },
    defaults: { cpus: 2, time: '01:00:00' },
    derived_scan: true,
    build(p, ctx) {
      const out = (p.output_dir as string | undefined) ?? join(ctx.jobDir, 'output');
      const prefix = (p.prefix as string | undefined) ?? ctx.jobName;
      return {
        argv: [
          ctx.node, join(ctx.repo, 'daq-server', 'dist', 'src', 'batch', 'cli.js'),
          '--template', name, '--source', p.source as string, '--params', ctx.paramsFile,
          '--output-dir', out, '--prefix', prefix,
        ],
        params: p.params ?? {},
        outputDirs: [out],
        manifest: join(out, `${prefix}.derived.json`),
      };
    },
  };
}

const notebook: JobTemplate = {
  name: 'notebook',
  description: 'run a notebook with parameters (papermill-style) and save the executed copy',
  params: {
    notebook: { type: 'path', required: true, description: 'the notebook to run (.ipynb)' },
    parameters: { type: 'object', default: {}, description: 'values injected into the notebook' },
    output: { type: 'path', description: 'the executed notebook (default: <job folder>/<name>.ipynb)' },
  },
  defaults: { cpus: 1, time: '01:00:00' },
  derived_scan: false,
  build(p, ctx) {
    const output = (p.output as string | undefined) ?? join(ctx.jobDir, `${ctx.jobName}.ipynb`);
    return {
      argv: [ctx.python, '-m', 'daqlab.batch.notebook', '--notebook', p.notebook as string,
        '--parameters', ctx.paramsFile, '--output', output],
      params: p.parameters ?? {},
      outputDirs: [dirname(output)],
      manifest: null,
    };
  },
};

/** A workflow's ewoks graph on a Slurm node (workflows/service.ts fills `spec`; run_ewoks.py says its fields). */
const ewoks: JobTemplate = {
  name: 'ewoks',
  description: 'run an ewoks graph on a saved scan (the workflow of a scan, where: "slurm"); writes a derived scan',
  params: {
    spec: { type: 'object', required: true, description: '{graph, filename, scan, inputs, output_dir, prefix}: what run_ewoks.py runs' },
  },
  defaults: { cpus: 2, time: '01:00:00' },
  derived_scan: true,
  build(p, ctx) {
    const spec = p.spec as Record<string, unknown>;
    const out = typeof spec.output_dir === 'string' ? spec.output_dir : join(ctx.jobDir, 'output');
    const prefix = typeof spec.prefix === 'string' ? spec.prefix : ctx.jobName;
    return {
      argv: [ewoksPython(), RUNNER, ctx.paramsFile],
      params: { ...spec, output_dir: out, prefix },
      outputDirs: [out],
      manifest: join(out, `${prefix}.derived.json`),
    };
  },
};

const demo: JobTemplate = {
  name: 'demo',
  description: 'prints a message and progress lines, waits, writes to stderr and exits with a code (tests and demos)',
  params: {
    message: { type: 'string', default: 'hello from daqlab', description: 'printed on stdout (any text)' },
    seconds: { type: 'number', default: 0, minimum: 0, maximum: 3600, description: 'how long to run' },
    steps: { type: 'integer', default: 0, minimum: 0, maximum: 10000, description: 'progress lines over that time' },
    stderr: { type: 'string', default: '', description: 'printed on stderr at the end (any text)' },
    exit_code: { type: 'integer', default: 0, minimum: 0, maximum: 255, description: 'exit code' },
  },
  defaults: { cpus: 1, time: '00:10:00' },
  derived_scan: false,
  build(p, ctx) {
    return {
      argv: [ctx.node, join(ctx.repo, 'daq-server', 'dist', 'src', 'jobs', 'demo-job.js'), ctx.paramsFile],
      params: p,
      outputDirs: [],
      manifest: null,
    };
  },
};

export const TEMPLATES: ReadonlyMap<string, JobTemplate> = new Map(
  [batchTemplate('azint', 'azimuthal integration'), batchTemplate('smx', 'serial crystallography (peaks, hits)'),
    batchTemplate('tomo', 'tomography reconstruction'), notebook, ewoks, demo].map((t) => [t.name, t]),
);

export function describeTemplates(): TemplateInfo[] {
  return [...TEMPLATES.values()].map(({ build: _build, ...info }) => info);
}

function checkParam(p: Problems, field: string, spec: TemplateParam, v: unknown): unknown {
  switch (spec.type) {
    case 'path':
      return checkPath(p, field, v);
    case 'string':
      if (typeof v !== 'string' || v.length > 65536 || v.includes('\0')) p.add(field, 'must be a string (no NUL, at most 64 KiB)');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') p.add(field, 'must be true or false');
      return v;
    case 'object':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) p.add(field, 'must be an object');
      return v;
    case 'number':
    case 'integer': {
      const ok = typeof v === 'number' && Number.isFinite(v) && (spec.type === 'number' || Number.isSafeInteger(v));
      if (!ok) p.add(field, `must be ${spec.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
      else if ((spec.minimum !== undefined && (v as number) < spec.minimum) || (spec.maximum !== undefined && (v as number) > spec.maximum)) {
        p.add(field, `must be from ${spec.minimum} to ${spec.maximum}, got ${v}`);
      }
      return v;
    }
  }
}

/** Template parameters: unknown names refused, defaults filled in, each checked by type. */
export function checkTemplateParams(p: Problems, t: JobTemplate, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(given)) {
    if (!(k in t.params)) p.add(`params.${k}`, `unknown parameter of template ${t.name}; known: ${Object.keys(t.params).join(', ')}`);
  }
  for (const [k, spec] of Object.entries(t.params)) {
    const v = given[k] ?? spec.default;
    if (v === undefined || v === null) {
      if (spec.required) p.add(`params.${k}`, `required by template ${t.name}: ${spec.description}`);
      continue;
    }
    out[k] = checkParam(p, `params.${k}`, spec, v);
  }
  if (t.params.prefix && out.prefix !== undefined) checkName(p, 'params.prefix', out.prefix);
  return out;
}
