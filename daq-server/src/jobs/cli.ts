/**
 * Slurm through its command-line tools (sbatch, squeue, scontrol, scancel),
 * run with execFile and argv arrays: no shell ever sees a value. squeue's
 * `--json` gives the same v0.0.38 job objects as slurmrestd. A root server
 * submits for other users with `sbatch --uid --gid`; the job's environment is
 * sbatch's own environment (`--export=ALL`), which the service builds from
 * scratch, so env values are never parsed by anything.
 */
import { execFile } from 'node:child_process';
import type { BackendSubmit, JobUser, PartitionInfo, SlurmBackend, SlurmJobRecord } from './types.js';
import { UNREACHABLE, slurmRefused, slurmUnavailable } from './types.js';
import { DaqError } from '../protocol/index.js';

export interface CliOptions {
  /** slurm.conf of the cluster (SLURM_CONF), null: the tools' default */
  conf: string | null;
  /** the server runs as root: submit with --uid/--gid */
  asRoot: boolean;
  timeoutMs?: number;
}

interface Run {
  stdout: string;
  stderr: string;
}

/** "UNLIMITED", "5", "5:00", "1:00:00", "1-00:00:00" → minutes (null: unlimited) */
export function slurmMinutes(text: string): number | null {
  if (!text || /^(UNLIMITED|INFINITE|NONE)$/i.test(text)) return null;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text);
  if (!m) return null;
  const [, d, a, b, c] = m;
  if (d !== undefined) return Number(d) * 1440 + Number(a) * 60 + Number(b ?? 0) + Math.ceil(Number(c ?? 0) / 60);
  if (c !== undefined) return Number(a) * 60 + Number(b) + Math.ceil(Number(c) / 60);
  if (b !== undefined) return Number(a) + Math.ceil(Number(b) / 60);
  return Number(a);
}

export class CliBackend implements SlurmBackend {
  readonly kind = 'cli' as const;
  private readonly timeoutMs: number;

  constructor(private readonly options: CliOptions) {
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  private baseEnv(): Record<string, string> {
    const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8' };
    if (this.options.conf) env.SLURM_CONF = this.options.conf;
    return env;
  }

  private run(cmd: string, args: string[], env?: Record<string, string>): Promise<Run> {
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { env: env ?? this.baseEnv(), timeout: this.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const text = `${stderr || ''}${stdout || ''}`.trim() || (err as Error).message;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new DaqError('SlurmUnavailable', `SlurmUnavailable: ${cmd} is not installed (apt-get install slurm-client)`, undefined, { configured: false }));
        }
        if (UNREACHABLE.test(text) || (err as { killed?: boolean }).killed) {
          return reject(slurmUnavailable(`${cmd} could not reach slurmctld: ${firstError(text)}`));
        }
        reject(new CliError(cmd, text));
      });
    });
  }

  async ping(): Promise<void> {
    let out: string;
    try {
      out = (await this.run('scontrol', ['ping'])).stdout;
    } catch (err) {
      if (err instanceof CliError) throw slurmUnavailable(`slurmctld is not responding (scontrol ping: ${firstError(err.text)})`);
      throw err;
    }
    if (!/\bUP\b/.test(out)) throw slurmUnavailable(`slurmctld is not responding (scontrol ping: ${out.trim()})`);
  }

  async submit(as: JobUser, job: BackendSubmit): Promise<number> {
    const args = [
      '--parsable',
      `--job-name=${job.name}`,
      `--chdir=${job.workDir}`,
      `--output=${job.stdout}`,
      `--error=${job.stderr}`,
      '--ntasks=1',
      `--cpus-per-task=${job.cpus}`,
      '--export=ALL',
    ];
    if (job.partition) args.push(`--partition=${job.partition}`);
    if (job.memoryMb !== null) args.push(`--mem=${job.memoryMb}M`);
    if (job.timeMinutes !== null) args.push(`--time=${job.timeMinutes}`);
    if (job.gpus > 0) args.push(`--gpus=${job.gpus}`);
    if (job.array) args.push(`--array=${job.array}`);
    if (job.hold) args.push('--hold');
    if (this.options.asRoot) args.push(`--uid=${as.uid}`, `--gid=${as.gid}`);
    args.push('--', job.scriptPath);
    // the job's environment is exactly job.env (+ where the cluster is): sbatch exports its own
    const env = { ...job.env, ...(this.options.conf ? { SLURM_CONF: this.options.conf } : {}) };
    try {
      const { stdout } = await this.run('sbatch', args, env);
      const id = Number.parseInt(stdout.trim().split(';')[0], 10);
      if (!Number.isSafeInteger(id)) throw new DaqError('InternalError', `sbatch printed no job id: ${stdout.trim()}`);
      return id;
    } catch (err) {
      if (err instanceof CliError) throw slurmRefused(firstError(err.text));
      throw err;
    }
  }

  async jobs(): Promise<SlurmJobRecord[]> {
    const { stdout } = await this.run('squeue', ['--json']);
    let data: { jobs?: SlurmJobRecord[]; errors?: { error?: string; description?: string }[] };
    try {
      data = JSON.parse(stdout);
    } catch (err) {
      throw new DaqError('InternalError', `squeue --json printed no JSON: ${(err as Error).message}`);
    }
    const errors = (data.errors ?? []).map((e) => [e.error, e.description].filter(Boolean).join(': ')).filter(Boolean);
    if (errors.length) {
      // squeue --json exits 0 with "Failed while looking for jobs" when slurmctld is away: ask it
      await this.ping();
      throw new DaqError('InternalError', `squeue could not list jobs: ${errors.join('; ')}`);
    }
    return data.jobs ?? [];
  }

  private async control(cmd: string, args: string[]): Promise<void> {
    try {
      await this.run(cmd, args);
    } catch (err) {
      if (err instanceof CliError) throw new DaqError('StateError', `${cmd} ${args.join(' ')}: ${firstError(err.text)}`);
      throw err;
    }
  }

  cancel(_as: JobUser, jobId: number): Promise<void> {
    return this.control('scancel', [String(jobId)]);
  }

  hold(_as: JobUser, jobId: number): Promise<void> {
    return this.control('scontrol', ['hold', String(jobId)]);
  }

  release(_as: JobUser, jobId: number): Promise<void> {
    return this.control('scontrol', ['release', String(jobId)]);
  }

  async partitions(): Promise<PartitionInfo[]> {
    const { stdout } = await this.run('scontrol', ['show', 'partition', '--oneliner']);
    return stdout
      .split('\n')
      .filter((l) => l.startsWith('PartitionName='))
      .map((line) => {
        const kv = new Map(line.trim().split(/\s+/).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
        const maxCpus = kv.get('MaxCPUsPerNode');
        return {
          name: kv.get('PartitionName') ?? '',
          default: kv.get('Default') === 'YES',
          max_time: slurmMinutes(kv.get('MaxTime') ?? ''),
          max_cpus_per_node: maxCpus && /^\d+$/.test(maxCpus) ? Number(maxCpus) : null,
          state: kv.get('State') ?? 'UNKNOWN',
        };
      });
  }
}

class CliError extends Error {
  constructor(
    readonly cmd: string,
    readonly text: string,
  ) {
    super(`${cmd}: ${text}`);
  }
}

/** The most telling line of a tool's error output, without the "sbatch: error: " prefixes. */
function firstError(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^\w+: (error|fatal): /, '').trim()).filter(Boolean);
  return lines.find((l) => /failed|invalid|denied|not|exceed|refused/i.test(l)) ?? lines[0] ?? text;
}
