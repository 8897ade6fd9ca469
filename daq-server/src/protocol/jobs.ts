/**
 * Jobs on a Slurm cluster (`jobs.*` operations, `jobs.state` event): what a
 * client sends and sees. docs/PROTOCOL.md, "Jobs (Slurm)".
 */

/** Normalised job states (Slurm's own state is kept in `slurm_state`). */
export const JOB_STATES = [
  'PENDING',
  'RUNNING',
  'SUSPENDED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'UNKNOWN',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves. */
export const JOB_FINAL_STATES: readonly JobState[] = [
  'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE',
];

export const JOB_LOG_STREAMS = ['stdout', 'stderr'] as const;
export type JobLogStream = (typeof JOB_LOG_STREAMS)[number];

/** One job (or one task of an array) as `jobs.list` / `jobs.get` / `jobs.state` report it. */
export interface JobInfo {
  /** "123", an array task "123_4", or the not yet started tasks of an array "123_[5-9]" */
  id: string;
  /** Slurm's numeric job id of this record */
  job_id: number;
  array_job_id: number | null;
  array_task_id: number | null;
  /** array tasks not started yet (Slurm's task string), else null */
  array_pending: string | null;
  name: string;
  user: string;
  state: JobState;
  /** Slurm's state, verbatim */
  slurm_state: string;
  /** pending because held (jobs.hold) */
  held: boolean;
  /** why it is pending or why it failed (Slurm's reason) */
  reason: string | null;
  description: string | null;
  /** exit code of the batch script, once final */
  exit_code: number | null;
  /** the signal that ended it, if any */
  signal: number | null;
  partition: string | null;
  cpus: number | null;
  memory_mb: number | null;
  /** minutes */
  time_limit: number | null;
  submit_time: string | null;
  start_time: string | null;
  end_time: string | null;
  work_dir: string | null;
  stdout: string | null;
  stderr: string | null;
  /** the template it was made from (jobs submitted through this server) */
  template: string | null;
  job_dir: string | null;
  /** for templates producing a derived scan: {manifest, master?, source?, ...} once it exists */
  result: Record<string, unknown> | null;
}

/** `jobs.get`: the job, and for an array every task. */
export interface JobDetail extends JobInfo {
  tasks: JobInfo[];
}

/** A template parameter as `jobs.templates` describes it. */
export interface TemplateParam {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'path';
  description: string;
  required?: boolean;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

export interface TemplateInfo {
  name: string;
  description: string;
  params: Record<string, TemplateParam>;
  /** resources used when the request gives none */
  defaults: { cpus?: number; time?: string };
  /** writes a derived scan whose manifest `job.result` reads */
  derived_scan: boolean;
}

/** `jobs.cluster`: whether a cluster is configured, how it is reached, who you are to it. */
export interface ClusterInfo {
  configured: boolean;
  backend: 'rest' | 'cli' | null;
  message: string;
  user: string | null;
  staff: boolean;
  partitions: { name: string; default: boolean; max_time: number | null; max_cpus_per_node: number | null; state: string }[];
}
