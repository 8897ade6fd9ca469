/**
 * Run the ewoks runner (run_ewoks.py) as a subprocess of the server: never on the event loop,
 * bounded in time (killed, with its children, past the workflow's timeout) and in what is kept of
 * its output (the tail of stderr explains a failure). Its stdout and stderr also go to files
 * beside its outputs.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKFLOW_LIMITS } from '../protocol/workflows.js';

/** the repository (…/daq-server/dist/src/workflows → four levels up) */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The runner, beside this module's source (the .py is not compiled). */
export const RUNNER = join(REPO, 'daq-server', 'src', 'workflows', 'run_ewoks.py');
/** The graphs a workflow may name by file name. */
export const WORKFLOWS_DIR = join(REPO, 'workflows');

/** The Python of the ewoks venv: $DAQLAB_EWOKS_VENV, else the repository's .venv-ewoks. */
export function ewoksPython(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(env.DAQLAB_EWOKS_VENV || join(REPO, '.venv-ewoks')), 'bin', 'python');
}

export interface LocalRun {
  ok: boolean;
  /** the runner's own last line on failure, else the tail of stderr */
  error: string | null;
}

/** `signal`: the server shuts down; the graph is killed and the run reported as stopped. */
export function runLocal(python: string, specFile: string, logDir: string, timeoutS: number, signal?: AbortSignal): Promise<LocalRun> {
  if (!existsSync(python)) {
    return Promise.resolve({ ok: false, error: `the ewoks Python ${python} is missing (scripts/setup.sh creates .venv-ewoks; or set DAQLAB_EWOKS_VENV)` });
  }
  return new Promise((done) => {
    const child = spawn(python, [RUNNER, specFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const out = createWriteStream(join(logDir, 'stdout.log'));
    const err = createWriteStream(join(logDir, 'stderr.log'));
    let tail = '';
    child.stdout.pipe(out);
    child.stderr.on('data', (b: Buffer) => {
      err.write(b);
      tail = (tail + b.toString('utf8')).slice(-WORKFLOW_LIMITS.maxErrorBytes);
    });
    let timedOut = false;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole group: ewoks may start workers
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutS * 1000);
    const onAbort = () => kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ ok: false, error: `cannot start ${python}: ${e.message}` });
    });
    child.on('close', (code, killedBy) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      if (code === 0) return done({ ok: true, error: null });
      if (timedOut) return done({ ok: false, error: `the graph ran longer than its timeout of ${timeoutS} s and was stopped` });
      if (signal?.aborted) return done({ ok: false, error: 'the server shut down while the graph ran' });
      const own = tail.split('\n').reverse().find((l) => l.startsWith('WORKFLOW ERROR: '));
      const why = own ? own.slice('WORKFLOW ERROR: '.length) : tail.trim().split('\n').slice(-20).join('\n') || `exit ${code ?? killedBy}`;
      done({ ok: false, error: why });
    });
  });
}
