/**
 * Jobs slurmctld has forgotten (MinJobAge after their end, or ended while this
 * server was down): `sacct -c` reads Slurm's job completion file
 * (JobCompType=jobcomp/filetxt), which needs no accounting database. Only what
 * that file records is known — no stdout path (the service fills it in for
 * its own job folders), and the exit code only as far as the state tells
 * (filetxt's ExitCode field is not a wait status).
 */
import { execFile } from 'node:child_process';
import type { SlurmJobRecord } from './types.js';

const FIELDS = ['JobID', 'JobIDRaw', 'JobName', 'User', 'UID', 'State', 'Partition', 'NCPUS', 'Submit', 'Start', 'End', 'WorkDir'] as const;

/** The completion file's records (array tasks left out), or [] when sacct cannot read it. */
export function completedJobs(conf: string | null, timeoutMs = 10000): Promise<SlurmJobRecord[]> {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', ...(conf ? { SLURM_CONF: conf } : {}) };
  return new Promise((resolve) => {
    execFile('sacct', ['-c', '-a', '-P', '-n', '-o', FIELDS.join(',')], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      resolve(err ? [] : parseJobComp(stdout));
    });
  });
}

const epoch = (t: string): number => {
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
};

export function parseJobComp(text: string): SlurmJobRecord[] {
  const out: SlurmJobRecord[] = [];
  for (const line of text.split('\n')) {
    const f = line.split('|');
    if (f.length !== FIELDS.length) continue;
    const [jobId, raw, name, user, uid, state, partition, ncpus, submit, start, end, workDir] = f;
    if (!/^\d+$/.test(jobId) || !/^\d+$/.test(raw)) continue; // array tasks ("12_3") and steps
    const stateName = state.split(' ')[0];
    out.push({
      job_id: Number(raw),
      name,
      user_name: user.replace(/\(\d+\)$/, ''),
      user_id: Number(uid) || Number(/\((\d+)\)$/.exec(user)?.[1] ?? -1),
      job_state: stateName,
      exit_code: stateName === 'COMPLETED' ? 0 : null,
      partition,
      cpus: Number(ncpus) || undefined,
      submit_time: epoch(submit),
      start_time: epoch(start),
      end_time: epoch(end),
      current_working_directory: workDir,
    });
  }
  return out;
}
