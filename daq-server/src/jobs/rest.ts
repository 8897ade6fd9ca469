/**
 * Slurm through slurmrestd's REST API (openapi/v0.0.38, Slurm 22.05) with JWT
 * authentication. Each request carries the acting user's name and a token
 * for that user: a root server mints one per user with
 * `scontrol token username=U` (cached until shortly before it expires), any
 * other server only its own. The job script travels inline in the JSON body,
 * the environment as a JSON object: nothing is parsed by a shell.
 */
import { execFile } from 'node:child_process';
import { DaqError } from '../protocol/index.js';
import type { BackendSubmit, JobUser, PartitionInfo, SlurmBackend, SlurmJobRecord } from './types.js';
import { UNREACHABLE, slurmRefused, slurmUnavailable } from './types.js';

export const REST_API = 'v0.0.38';
const TOKEN_LIFESPAN_S = 3600;

export interface RestOptions {
  url: string;
  conf: string | null;
  /** the server runs as root: it may mint tokens for any user */
  asRoot: boolean;
  /** the unix user the server runs as */
  self: string;
  timeoutMs?: number;
}

interface SlurmError {
  error?: string;
  description?: string;
  error_number?: number;
  error_code?: number;
}

export class RestBackend implements SlurmBackend {
  readonly kind = 'rest' as const;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private readonly base: string;

  constructor(private readonly options: RestOptions) {
    this.base = `${options.url.replace(/\/+$/, '')}/slurm/${REST_API}`;
  }

  /** A JWT for `user`, minted by scontrol (which reaches slurmctld itself). */
  private async token(user: string): Promise<string> {
    const cached = this.tokens.get(user);
    if (cached && cached.expires > Date.now() + 300_000) return cached.token;
    if (!this.options.asRoot && user !== this.options.self) {
      throw new DaqError('AuthError', `this server runs as ${this.options.self}, not root: it cannot act for ${user} on Slurm`);
    }
    const args = ['token', `lifespan=${TOKEN_LIFESPAN_S}`];
    if (this.options.asRoot) args.splice(1, 0, `username=${user}`);
    const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
    if (this.options.conf) env.SLURM_CONF = this.options.conf;
    const out = await new Promise<string>((resolve, reject) =>
      execFile('scontrol', args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const text = `${stderr}${stdout}`.trim() || err.message;
        if (UNREACHABLE.test(text)) reject(slurmUnavailable(`slurmctld cannot be reached to get a token for ${user} (${text.split('\n')[0]})`));
        else reject(new DaqError('AuthError', `scontrol token username=${user}: ${text}`));
      }),
    );
    const m = /SLURM_JWT=(\S+)/.exec(out);
    if (!m) throw new DaqError('InternalError', `scontrol token printed no token: ${out.trim()}`);
    this.tokens.set(user, { token: m[1], expires: Date.now() + TOKEN_LIFESPAN_S * 1000 });
    return m[1];
  }

  private async call<T>(as: JobUser, method: string, path: string, body?: unknown): Promise<T & { errors?: SlurmError[] }> {
    const headers: Record<string, string> = {
      'X-SLURM-USER-NAME': as.user,
      'X-SLURM-USER-TOKEN': await this.token(as.user),
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 20_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw slurmUnavailable(`slurmrestd at ${this.options.url} cannot be reached (${cause})`);
    }
    const text = await res.text();
    let data: T & { errors?: SlurmError[] };
    try {
      data = JSON.parse(text);
    } catch {
      if (res.status === 401 || res.status === 403) {
        this.tokens.delete(as.user);
        throw new DaqError('AuthError', `slurmrestd refused the token of ${as.user} (HTTP ${res.status})`);
      }
      throw new DaqError('InternalError', `slurmrestd answered HTTP ${res.status} with no JSON: ${text.slice(0, 200)}`);
    }
    const errors = (data.errors ?? []).filter((e) => e.error || e.description);
    if (errors.length) {
      const message = errors.map((e) => [e.error, e.description].filter(Boolean).join(': ')).join('; ');
      if (UNREACHABLE.test(message)) throw slurmUnavailable(`slurmctld cannot be reached through slurmrestd: ${message}`);
      throw new RestError(message, res.status, data);
    }
    return data;
  }

  async ping(): Promise<void> {
    const self: JobUser = { user: this.options.self, uid: -1, gid: -1, home: '/', staff: false };
    let data: { pings?: { ping?: string }[] };
    try {
      data = await this.call<{ pings?: { ping?: string }[] }>(self, 'GET', '/ping');
    } catch (err) {
      if (err instanceof RestError) throw slurmUnavailable(`slurmctld does not answer slurmrestd (${err.message})`);
      throw err;
    }
    if (!data.pings?.some((p) => p.ping === 'UP')) throw slurmUnavailable('slurmctld does not answer pings');
  }

  async submit(as: JobUser, job: BackendSubmit): Promise<number> {
    const props: Record<string, unknown> = {
      name: job.name,
      current_working_directory: job.workDir,
      standard_output: job.stdout,
      standard_error: job.stderr,
      environment: job.env,
      tasks: 1,
      cpus_per_task: job.cpus,
      hold: job.hold,
    };
    if (job.partition) props.partition = job.partition;
    if (job.memoryMb !== null) props.memory_per_node = job.memoryMb;
    if (job.timeMinutes !== null) props.time_limit = job.timeMinutes;
    if (job.gpus > 0) props.gpus = String(job.gpus);
    if (job.array) props.array = job.array;
    try {
      const data = await this.call<{ job_id?: number }>(as, 'POST', '/job/submit', { script: job.script, job: props });
      if (typeof data.job_id !== 'number') throw new DaqError('InternalError', 'slurmrestd returned no job id');
      return data.job_id;
    } catch (err) {
      // a held job is accepted with the "error" ESLURM_JOB_HELD beside its id
      const id = (err as RestError).data && ((err as RestError).data as { job_id?: number }).job_id;
      if (err instanceof RestError && job.hold && typeof id === 'number' && /held state/i.test(err.message)) return id;
      if (err instanceof RestError && job.gpus > 0 && /Failure during parsing/i.test(err.message)) {
        // slurmrestd 22.05 cannot parse a GPU request on a cluster without GPU gres
        throw slurmRefused(`${err.message} (gpus: does this cluster define GPUs? sbatch says "Invalid generic resource (gres) specification")`, 'gpus');
      }
      if (err instanceof RestError) throw slurmRefused(err.message);
      throw err;
    }
  }

  async jobs(as: JobUser): Promise<SlurmJobRecord[]> {
    try {
      const data = await this.call<{ jobs?: SlurmJobRecord[] }>(as, 'GET', '/jobs');
      return data.jobs ?? [];
    } catch (err) {
      // slurmrestd says only "Failed while looking for jobs" when slurmctld is away: ask it
      if (!(err instanceof RestError)) throw err;
      await this.ping();
      throw new DaqError('InternalError', `slurmrestd could not list jobs: ${err.message}`);
    }
  }

  private async control(as: JobUser, what: string, method: string, jobId: number, body?: unknown): Promise<void> {
    try {
      await this.call(as, method, `/job/${jobId}`, body);
    } catch (err) {
      if (err instanceof RestError) throw new DaqError('StateError', `${what} job ${jobId}: ${err.message}`);
      throw err;
    }
  }

  cancel(as: JobUser, jobId: number): Promise<void> {
    return this.control(as, 'cancel', 'DELETE', jobId);
  }

  hold(as: JobUser, jobId: number): Promise<void> {
    return this.control(as, 'hold', 'POST', jobId, { hold: true });
  }

  release(as: JobUser, jobId: number): Promise<void> {
    return this.control(as, 'release', 'POST', jobId, { hold: false });
  }

  async partitions(as: JobUser): Promise<PartitionInfo[]> {
    type P = { name: string; flags?: string[]; max_time_limit?: number | null; maximum_cpus_per_node?: number | null; state?: string };
    const data = await this.call<{ partitions?: P[] }>(as, 'GET', '/partitions');
    const limit = (v: number | null | undefined) => (typeof v === 'number' && v >= 0 && v < 0xfffffffe ? v : null);
    return (data.partitions ?? []).map((p) => ({
      name: p.name,
      default: (p.flags ?? []).some((f) => /default/i.test(f)),
      max_time: limit(p.max_time_limit),
      max_cpus_per_node: limit(p.maximum_cpus_per_node),
      state: p.state ?? 'UNKNOWN',
    }));
  }
}

class RestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly data: unknown = null,
  ) {
    super(message);
  }
}
