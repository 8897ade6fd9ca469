/** Handlers of the `jobs.*` operations: field extraction here, everything else in jobs/service.ts. */
import { DaqError, type Request } from '../protocol/index.js';
import type { JobsService } from '../jobs/service.js';
import { bool, int, num } from './params.js';
import type { Session } from './session.js';
import { checkUserJson } from './json-bounds.js';

type JobsOp = 'jobs.cluster' | 'jobs.templates' | 'jobs.submit' | 'jobs.list' | 'jobs.get' | 'jobs.logs' | 'jobs.cancel' | 'jobs.hold' | 'jobs.release' | 'jobs.watch' | 'jobs.unwatch';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

const watching = new WeakMap<Session, () => void>();

function jobs(s: Session): JobsService {
  if (!s.service.jobs) throw new DaqError('SlurmUnavailable', 'SlurmUnavailable: this server has no jobs service', undefined, { configured: false });
  return s.service.jobs;
}

const SUBMIT_FIELDS = ['template', 'script', 'params', 'name', 'partition', 'cpus', 'gpus', 'memory', 'time', 'workdir', 'env', 'array', 'hold'];

export const JOBS_HANDLERS: Record<JobsOp, Handler> = {
  'jobs.cluster': (s) => jobs(s).cluster(s.token),
  'jobs.templates': (s) => ({ templates: jobs(s).templates() }),
  'jobs.submit': (s, r) => {
    const unknown = Object.keys(r).filter((k) => k !== 'id' && k !== 'op' && !SUBMIT_FIELDS.includes(k));
    if (unknown.length) {
      throw new DaqError('ParameterError', `jobs.submit: unknown field(s) ${unknown.join(', ')}`, unknown.map((f) => ({ field: f, message: `unknown; known: ${SUBMIT_FIELDS.join(', ')}` })));
    }
    checkUserJson([['params', r.params], ['env', r.env]], 'jobs.submit: invalid parameters');
    return jobs(s).submit(s.token, r);
  },
  'jobs.list': async (s, r) => ({ jobs: await jobs(s).list(s.token, { all: bool(r, 'all', false) }) }),
  'jobs.get': (s, r) => jobs(s).get(s.token, r.job),
  'jobs.logs': (s, r) =>
    jobs(s).logs(
      s.token,
      r.job,
      r.stream ?? 'stdout',
      int(r, 'offset', 0, 0) as number,
      Math.min(int(r, 'max_bytes', 256 * 1024, 1) as number, 1024 * 1024),
      Math.min(num(r, 'wait', 0) as number, 30),
    ),
  'jobs.cancel': (s, r) => jobs(s).cancel(s.token, r.job),
  'jobs.hold': (s, r) => jobs(s).hold(s.token, r.job),
  'jobs.release': (s, r) => jobs(s).release(s.token, r.job),
  'jobs.watch': (s) => {
    if (!watching.has(s)) {
      const off = jobs(s).watch(s.token, (job) => s.out.json({ event: 'jobs.state', job }));
      watching.set(s, off);
      s.ws.once('close', off);
    }
    return { watching: true };
  },
  'jobs.unwatch': (s) => {
    watching.get(s)?.();
    watching.delete(s);
    return { watching: false };
  },
};
