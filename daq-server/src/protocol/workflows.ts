/**
 * Workflows at scan end: an ewoks graph run on a scan's master, given as `workflow` to
 * `scanning.run` or `acq.prepare`; its state is `info.workflow` of the scan and the
 * `workflow.state` event, its outputs a derived scan.
 */

/** `workflow` as a client gives it. */
export interface WorkflowRequest {
  /** the graph's JSON file: a name in the workflows folder, or an absolute path inside the data roots */
  graph: string;
  /** values given to the graph's start nodes, beside `filename` (the master) and `scan` (its number) */
  inputs?: Record<string, unknown>;
  /** run when the scan ends (its master final) or as soon as it is prepared */
  on?: 'end' | 'prepared';
  /** a bounded subprocess of the server, or a Slurm job through the jobs service */
  where?: 'local' | 'slurm';
  /** seconds the graph may run (local) or the job's time limit (slurm) */
  timeout?: number;
}

export const WORKFLOW_STATES = ['WAITING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];

/** What `workflow.status`, `workflow.wait`, the `workflow.state` event and `info.workflow` say. */
export interface WorkflowStatus {
  /** the key of the scan it runs on */
  scan: string;
  graph: string;
  on: 'end' | 'prepared';
  where: 'local' | 'slurm';
  state: WorkflowState;
  /** why it failed (the graph's own error, its last lines), null otherwise */
  error: string | null;
  /** the derived scan holding its outputs, once DONE */
  derived: string | null;
  /** the file its outputs were written to */
  output: string | null;
  /** the Slurm job that runs it (where: slurm) */
  job_id: string | null;
  start_time: string | null;
  end_time: string | null;
}

export const WORKFLOW_LIMITS = {
  /** graph files larger than this are refused */
  maxGraphBytes: 1024 * 1024,
  /** the JSON of `inputs`, at most */
  maxInputsBytes: 64 * 1024,
  maxInputs: 64,
  defaultTimeout: 600,
  maxTimeout: 24 * 3600,
  /** local graphs running at once (the rest wait in line) */
  maxRunning: 2,
  /** workflows waiting for their scan or in line, at most */
  maxPending: 64,
  /** stderr kept to explain a failure */
  maxErrorBytes: 8 * 1024,
  /** how long `workflow.wait` holds at most */
  maxWait: 600,
} as const;
