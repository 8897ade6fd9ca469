#!/usr/bin/env node
/**
 * The batch runner's command line (the Slurm job templates run it):
 * exit 0 with the derived scan and its manifest written, 2 for bad input,
 * 1 when the job itself failed; errors are one line on stderr.
 */
import { parseBatchArgs, UsageError, USAGE } from './args.js';
import { runBatch } from './run.js';
import { SourceError } from '../detectors/replay/index.js';
import { setLogLevel } from '../log.js';

async function main(): Promise<number> {
  let args;
  try {
    args = parseBatchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`daqlab-batch: error: ${(err as Error).message} (--help for usage)\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  setLogLevel('warn');
  try {
    const manifest = await runBatch(args, { progress: (done, total) => process.stdout.write(`progress ${done} ${total}\n`) });
    process.stdout.write(`derived ${manifest.master}\n`);
    return 0;
  } catch (err) {
    const bad = err instanceof UsageError || err instanceof SourceError || (err as { type?: string }).type === 'ParameterError';
    const message = ((err as Error).message ?? String(err)).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`daqlab-batch: error: ${message}\n`);
    return bad ? 2 : 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`daqlab-batch: error: ${String(err)}\n`);
    process.exit(1);
  },
);
