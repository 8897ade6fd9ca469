/** Command line of the batch runner (see USAGE); every problem names the option. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const USAGE = `usage: node daq-server/dist/src/batch/cli.js --template NAME --source X_master.h5 --params params.json
                                         --output-dir DIR --prefix NAME [--frames START:STOP] [--overwrite]
                                         [--readers N] [--memory-budget 2G] [--plugin FILE]...
Runs an online processing pipeline on a saved scan and saves the result as a derived scan:
DIR/NAME_master.h5 (+ data files) and DIR/NAME.derived.json. Prints "progress DONE TOTAL" lines.`;

/** Bad input: exit code 2 and a one-line message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface BatchArgs {
  template: string;
  source: string;
  paramsFile: string;
  /** the job's parameters: processing parameters, plus an optional `saving` object */
  params: Record<string, unknown>;
  outputDir: string;
  prefix: string;
  /** [start, stop) of the saved frames; null ends: the first / last frame */
  frames: [number | null, number | null];
  overwrite: boolean;
  /** reader threads decompressing saved frames ahead (0: on the main thread) */
  readers: number;
  memoryBudget: number;
  plugins: string[];
}

export function parseBatchArgs(argv: string[]): BatchArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        template: { type: 'string' },
        source: { type: 'string' },
        params: { type: 'string' },
        'output-dir': { type: 'string' },
        prefix: { type: 'string' },
        frames: { type: 'string' },
        overwrite: { type: 'boolean', default: false },
        readers: { type: 'string', default: '2' },
        'memory-budget': { type: 'string', default: '2G' },
        plugin: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  for (const name of ['template', 'source', 'params', 'output-dir', 'prefix'] as const) {
    if (!values[name]) throw new UsageError(`--${name} is required`);
  }
  const prefix = values.prefix!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(prefix)) throw new UsageError(`--prefix: ${JSON.stringify(prefix)} must be a file name (letters, digits, . _ -)`);
  return {
    template: values.template!,
    source: resolve(values.source!),
    paramsFile: resolve(values.params!),
    params: readParams(values.params!),
    outputDir: resolve(values['output-dir']!),
    prefix,
    frames: parseFrames(values.frames),
    overwrite: values.overwrite!,
    readers: parseCount(values.readers!, '--readers'),
    memoryBudget: parseBytes(values['memory-budget']!),
    plugins: values.plugin as string[],
  };
}

function readParams(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--params: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--params: ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`--params: ${path} must hold a JSON object of processing parameters`);
  }
  return value as Record<string, unknown>;
}

/** `START:STOP` with either end optional. */
export function parseFrames(text: string | undefined): [number | null, number | null] {
  if (text === undefined) return [null, null];
  const m = /^\s*(\d*)\s*:\s*(\d*)\s*$/.exec(text);
  if (!m) throw new UsageError(`--frames: ${JSON.stringify(text)} must be START:STOP (non-negative integers, either may be left out)`);
  const start = m[1] === '' ? null : Number(m[1]);
  const stop = m[2] === '' ? null : Number(m[2]);
  if (start !== null && stop !== null && stop <= start) throw new UsageError(`--frames: ${text} selects no frame (STOP must be greater than START)`);
  return [start, stop];
}

function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 64) throw new UsageError(`${option}: ${JSON.stringify(text)} must be an integer from 0 to 64`);
  return Number(text);
}

function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`--memory-budget: ${JSON.stringify(text)} must be a size like 512M or 2G`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * scale);
}
