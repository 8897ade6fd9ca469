#!/usr/bin/env node
/**
 * The `demo` template's program: reads its parameters from the JSON file the
 * server wrote, prints the message, `progress <done> <total>` lines (the batch
 * runner's format, so `job.wait(progress=True)` shows a bar), the stderr text,
 * and exits with the requested code.
 */
import { readFileSync } from 'node:fs';

interface DemoParams {
  message: string;
  seconds: number;
  steps: number;
  stderr: string;
  exit_code: number;
}

async function main(): Promise<number> {
  const p = JSON.parse(readFileSync(process.argv[2], 'utf8')) as DemoParams;
  const task = process.env.SLURM_ARRAY_TASK_ID;
  process.stdout.write(`${p.message}\n`);
  if (task !== undefined) process.stdout.write(`array task ${task}\n`);
  const steps = Math.max(p.steps, 0);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (steps === 0) await pause(p.seconds * 1000);
  for (let i = 1; i <= steps; i++) {
    await pause((p.seconds * 1000) / steps);
    process.stdout.write(`progress ${i} ${steps}\n`);
  }
  if (p.stderr) process.stderr.write(`${p.stderr}\n`);
  return p.exit_code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo job failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
