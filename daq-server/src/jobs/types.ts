/**
 * The jobs service's model: who acts (JobUser), what a backend is asked to
 * submit (BackendSubmit), what Slurm reports (SlurmJobRecord, the v0.0.38 job
 * object that both `squeue --json` and slurmrestd return) and what clients see
 * (JobInfo with a normalised state).
 */
import { DaqError } from '../protocol/index.js';
import type { JobInfo, JobState } from '../protocol/index.js';

export type { JobInfo, JobState } from '../protocol/index.js';

/** The unix user a request acts for, resolved from the client's token. */
export interface JobUser {
  user: string;
  uid: number;
  gid: number;
  home: string;
  /** staff see and act on every user's jobs */
  staff: boolean;
}

/** Everything sbatch / slurmrestd need for one submission; values are validated already. */
export interface BackendSubmit {
  /** the job script's text (REST sends it inline) and the file it was written to (CLI) */
  script: string;
  scriptPath: string;
  name: string;
  partition: string | null;
  cpus: number;
  gpus: number;
  /** MiB per node, null: the partition's default (DefMemPerCPU) */
  memoryMb: number | null;
  /** minutes, null: the partition's default */
  timeMinutes: number | null;
  workDir: string;
  /** the job's whole environment (nothing of the server's leaks in) */
  env: Record<string, string>;
  stdout: string;
  stderr: string;
  /** Slurm array specification, e.g. "0-9" or "1,3,5%2" */
  array: string | null;
  hold: boolean;
}

/** The fields of Slurm's v0.0.38 job object this service reads. */
export interface SlurmJobRecord {
  job_id: number;
  array_job_id?: number;
  array_task_id?: number | null;
  array_task_string?: string;
  name: string;
  user_name: string;
  user_id: number;
  job_state: string;
  state_reason?: string;
  state_description?: string;
  exit_code?: number | null;
  partition?: string;
  cpus?: number;
  memory_per_node?: number | null;
  time_limit?: number | null;
  submit_time?: number;
  start_time?: number;
  end_time?: number;
  standard_output?: string;
  standard_error?: string;
  current_working_directory?: string;
  priority?: number;
  tres_req_str?: string;
}

/** One way of talking to Slurm (slurmrestd or the command-line tools). */
export interface SlurmBackend {
  readonly kind: 'rest' | 'cli';
  /** throws SlurmUnavailable when slurmctld cannot be reached */
  ping(): Promise<void>;
  /** submit for `as`; returns the job id (the array's id for arrays) */
  submit(as: JobUser, job: BackendSubmit): Promise<number>;
  /** every job slurmctld still knows (the service filters by owner) */
  jobs(as: JobUser): Promise<SlurmJobRecord[]>;
  cancel(as: JobUser, jobId: number): Promise<void>;
  hold(as: JobUser, jobId: number): Promise<void>;
  release(as: JobUser, jobId: number): Promise<void>;
  partitions(as: JobUser): Promise<PartitionInfo[]>;
}

export interface PartitionInfo {
  name: string;
  default: boolean;
  /** minutes, null: unlimited */
  max_time: number | null;
  max_cpus_per_node: number | null;
  state: string;
}

/** slurmctld (or slurmrestd) cannot be reached: retried on the next call. */
export function slurmUnavailable(message: string, extra: Record<string, unknown> = {}): DaqError {
  return new DaqError('SlurmUnavailable', `SlurmUnavailable: ${message}`, undefined, { configured: true, ...extra });
}

/** Slurm refused a request (bad partition, limits, unknown job): its own reason, verbatim. */
export function slurmRefused(message: string, field?: string): DaqError {
  const fields = field ? [{ field, message }] : undefined;
  return new DaqError('ParameterError', `Slurm refused the job: ${message}`, fields, { slurm_reason: message });
}

/** Messages that mean "the controller is not there", from the tools and from slurmrestd. */
export const UNREACHABLE = /unable to contact slurm controller|connect failure|connection refused|Zero Bytes were transmitted|Socket timed out|slurm_load_jobs error|Unable to establish|Communication connection failure/i;

const FINAL = new Set<JobState>([
  'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE',
]);
export const isFinal = (state: JobState): boolean => FINAL.has(state);

/** Slurm's job_state (possibly with flags, e.g. "COMPLETING") → one of our states. */
export function normaliseState(raw: string): JobState {
  const base = raw.split(/[ ,+]/)[0].toUpperCase();
  switch (base) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
      return 'PENDING';
    case 'RUNNING':
    case 'CONFIGURING':
    case 'COMPLETING':
    case 'RESIZING':
    case 'SIGNALING':
    case 'STAGE_OUT':
      return 'RUNNING';
    case 'SUSPENDED':
    case 'STOPPED':
      return 'SUSPENDED';
    case 'COMPLETED':
    case 'FAILED':
    case 'CANCELLED':
    case 'TIMEOUT':
    case 'OUT_OF_MEMORY':
    case 'NODE_FAIL':
    case 'PREEMPTED':
    case 'BOOT_FAIL':
    case 'DEADLINE':
      return base;
    default:
      return 'UNKNOWN';
  }
}

const iso = (t: number | undefined): string | null => (t && t > 0 ? new Date(t * 1000).toISOString() : null);

/** A Slurm job record as the client sees it (no service metadata yet). */
export function toJobInfo(r: SlurmJobRecord): JobInfo {
  const state = normaliseState(r.job_state);
  const arrayJob = r.array_job_id && r.array_job_id > 0 ? r.array_job_id : null;
  const taskId = arrayJob !== null && typeof r.array_task_id === 'number' ? r.array_task_id : null;
  const pendingTasks = arrayJob !== null && taskId === null && r.array_task_string ? r.array_task_string : null;
  const id = arrayJob === null ? String(r.job_id) : taskId !== null ? `${arrayJob}_${taskId}` : `${arrayJob}_[${pendingTasks ?? ''}]`;
  const status = typeof r.exit_code === 'number' ? r.exit_code : null;
  // the wait status: exit code in the high byte, a terminating signal in the low bits
  const final = isFinal(state);
  const reason = r.state_reason && r.state_reason !== 'None' ? r.state_reason : null;
  const held = state === 'PENDING' && (reason === 'JobHeldUser' || reason === 'JobHeldAdmin');
  return {
    id,
    job_id: r.job_id,
    array_job_id: arrayJob,
    array_task_id: taskId,
    array_pending: pendingTasks,
    name: r.name,
    user: r.user_name,
    state,
    slurm_state: r.job_state,
    held,
    reason: final && state === 'COMPLETED' ? null : reason,
    description: r.state_description || null,
    exit_code: final && status !== null ? (status >> 8) & 0xff : null,
    signal: final && status !== null && (status & 0x7f) !== 0 ? status & 0x7f : null,
    partition: r.partition ?? null,
    cpus: r.cpus ?? null,
    memory_mb: r.memory_per_node ?? null,
    time_limit: typeof r.time_limit === 'number' ? r.time_limit : null,
    submit_time: iso(r.submit_time),
    start_time: iso(r.start_time),
    end_time: final ? iso(r.end_time) : null,
    work_dir: r.current_working_directory ?? null,
    stdout: r.standard_output ?? null,
    stderr: r.standard_error ?? null,
    template: null,
    job_dir: null,
    result: null,
  };
}
