/**
 * Workflows attached to scans: each waits for its scan (prepared, or ended with its master final),
 * then runs its ewoks graph on the master — locally, a bounded subprocess, at most
 * WORKFLOW_LIMITS.maxRunning at once, the rest in line; or as a Slurm job of the `ewoks` template,
 * for the user who asked. Its outputs join the store as a derived scan (jobs/derived.ts); its state
 * is `info.workflow` of the scan and the `workflow.state` event. A failing graph is said there, the
 * scan itself is left as it was.
 */
import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DaqError } from '../protocol/index.js';
import { WORKFLOW_LIMITS, type WorkflowStatus } from '../protocol/workflows.js';
import type { Scan, ScanStore } from '../store/types.js';
import type { JobsService } from '../jobs/service.js';
import { registerDerived, type DerivedResult } from '../jobs/derived.js';
import { isFinal } from '../jobs/types.js';
import { log } from '../log.js';
import { parseWorkflow, type WorkflowSpec } from './request.js';
import { ewoksPython, runLocal } from './local.js';

/** How often a workflow waiting for its scan's end looks again. */
const POLL_MS = 200;
/** Workflows kept for `workflow.status` after they end. */
const KEEP = 256;

export interface WorkflowOptions {
  store: ScanStore;
  dataRoots: readonly string[];
  workflowsDir: string;
  jobs: JobsService | null;
  python?: string;
  /** the proposal a file belongs to (the catalogue's), for a derived scan whose source left the store */
  proposalOf?: (path: string) => string | null;
}

interface Run {
  spec: WorkflowSpec;
  scan: Scan;
  token: string | null;
  status: WorkflowStatus;
  done: Promise<void>;
  settle: () => void;
}

/** The master a scan saved, once final: its path, an error, or null while not yet. */
function masterOf(scan: Scan): { path: string } | { error: string } | null {
  const info = scan.info as { saving?: Record<string, unknown>; saving_error?: unknown };
  const saving = info.saving ?? {};
  if (typeof info.saving_error === 'string') return { error: `the scan's file failed: ${info.saving_error}` };
  if (saving.layout === 'bliss') return scan.state === 'CLOSED' ? { path: String(saving.master) } : null; // step scans: closed = final
  if (saving.finished !== true) return null;
  if (saving.done !== true) return { error: `the scan's master is incomplete: ${String(saving.error ?? saving.master_error ?? 'saving did not finish')}` };
  return { path: String(saving.master) };
}

export class WorkflowService extends EventEmitter<{ state: [WorkflowStatus] }> {
  private readonly runs = new Map<string, Run>();
  private readonly line: Run[] = [];
  private running = 0;
  private readonly python: string;
  /** fires at shutdown: running graphs are killed, waiting ones stop looking */
  private readonly stopping = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: WorkflowOptions) {
    super();
    this.python = o.python ?? ewoksPython();
  }

  /** Check `raw` as a workflow request (field `workflow`): at prepare, before the scan starts. */
  check(raw: unknown, saved: boolean): Promise<WorkflowSpec> {
    if (!saved) {
      throw new DaqError('ParameterError', 'workflow: runs on the scan\'s saved master; save the scan (save_dir, or saving.enabled)', [
        { field: 'workflow', message: 'the scan must be saved' },
      ]);
    }
    if (this.pending() >= WORKFLOW_LIMITS.maxPending) {
      throw new DaqError('StateError', `workflow: ${WORKFLOW_LIMITS.maxPending} workflows are waiting already; try again when some have run`);
    }
    return parseWorkflow(raw, { workflowsDir: this.o.workflowsDir, dataRoots: this.o.dataRoots, slurm: this.o.jobs?.configured === true });
  }

  private pending(): number {
    return [...this.runs.values()].filter((r) => r.status.state === 'WAITING' || r.status.state === 'QUEUED').length;
  }

  /** Attach a checked workflow to a scan just prepared. */
  attach(scan: Scan, spec: WorkflowSpec, token: string | null): WorkflowStatus {
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    const run: Run = {
      spec, scan, token, done, settle,
      status: { scan: scan.key, graph: spec.graph, on: spec.on, where: spec.where, state: 'WAITING', error: null, derived: null, output: null, job_id: null, start_time: null, end_time: null },
    };
    this.runs.set(scan.key, run);
    while (this.runs.size > KEEP) this.runs.delete(this.runs.keys().next().value!);
    this.update(run, {});
    const timer = setInterval(() => {
      const m = spec.on === 'prepared' ? masterOfPrepared(scan) : masterOf(scan);
      if (!m) return;
      clearInterval(timer);
      this.timers.delete(timer);
      if ('error' in m) return this.end(run, 'FAILED', m.error);
      void this.start(run, m.path);
    }, POLL_MS);
    timer.unref();
    this.timers.add(timer);
    return run.status;
  }

  private update(run: Run, change: Partial<WorkflowStatus>): void {
    Object.assign(run.status, change);
    try {
      run.scan.annotate('workflow', { ...run.status });
    } catch (err) {
      log('warn', 'workflow state not kept in the scan info', { scan: run.scan.key, error: (err as Error).message });
    }
    this.emit('state', { ...run.status });
  }

  private end(run: Run, state: 'DONE' | 'FAILED', error: string | null, change: Partial<WorkflowStatus> = {}): void {
    this.update(run, { ...change, state, error, end_time: new Date().toISOString() });
    log(state === 'DONE' ? 'info' : 'warn', `workflow ${state.toLowerCase()}`, { scan: run.scan.key, graph: run.spec.graph, error });
    run.settle();
  }

  /** Where a workflow's outputs go: a folder beside the scan's master (inside the data roots as it is). */
  private outputOf(run: Run, master: string): { dir: string; prefix: string } {
    const stem = basename(master).replace(/\.(h5|hdf5|nxs)$/i, '');
    return { dir: join(dirname(master), `${stem}_workflow`), prefix: basename(run.spec.graph).replace(/\.json$/i, '') };
  }

  private async start(run: Run, master: string): Promise<void> {
    const { dir, prefix } = this.outputOf(run, master);
    const spec = { graph: run.spec.graph, inputs: run.spec.inputs, filename: master, scan: run.scan.identity.number ?? 1, prefix, source_key: run.scan.key, on: run.spec.on };
    try {
      // a Slurm job runs as its user: its outputs go to its job folder, which the jobs service makes theirs
      if (run.spec.where === 'slurm') return await this.submit(run, spec);
      await mkdir(dir, { recursive: true });
      const specFile = join(dir, `${prefix}.spec.json`);
      await writeFile(specFile, JSON.stringify({ ...spec, output_dir: dir }));
      this.update(run, { state: 'QUEUED' });
      this.line.push(run);
      this.next();
    } catch (err) {
      this.end(run, 'FAILED', (err as Error).message);
    }
  }

  private next(): void {
    while (this.running < WORKFLOW_LIMITS.maxRunning && this.line.length) {
      const run = this.line.shift()!;
      this.running++;
      void this.runOne(run).finally(() => {
        this.running--;
        this.next();
      });
    }
  }

  private async runOne(run: Run): Promise<void> {
    const master = masterOfAny(run.scan)!;
    const { dir, prefix } = this.outputOf(run, master);
    this.update(run, { state: 'RUNNING', start_time: new Date().toISOString() });
    const r = await runLocal(this.python, join(dir, `${prefix}.spec.json`), dir, run.spec.timeout, this.stopping.signal);
    if (!r.ok) return this.end(run, 'FAILED', r.error);
    const output = join(dir, `${prefix}.h5`);
    try {
      const derived = this.register(run, master, output, `local-${run.scan.key}`);
      this.end(run, 'DONE', null, { derived: derived.key, output });
    } catch (err) {
      this.end(run, 'FAILED', `the graph ran, but its outputs were not registered: ${(err as Error).message}`, { output });
    }
  }

  /** The derived scan of a workflow's outputs, as the job templates register theirs. */
  private register(run: Run, source: string, output: string, id: string): Scan {
    const d: DerivedResult = {
      job_id: id, user: '', job_name: basename(run.spec.graph), template: 'ewoks',
      manifest: output.replace(/\.h5$/, '.derived.json'), master: output, source, source_key: run.scan.key,
      frames: null, params: { graph: run.spec.graph, inputs: run.spec.inputs }, created: new Date().toISOString(),
    };
    return registerDerived(this.o.store, d, this.o.proposalOf);
  }

  /** A Slurm job of the `ewoks` template, for the user who asked; its derived scan comes through the jobs service. */
  private async submit(run: Run, spec: Record<string, unknown>): Promise<void> {
    const jobs = this.o.jobs!;
    const minutes = Math.max(1, Math.ceil(run.spec.timeout / 60));
    const time = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00`;
    const job = await jobs.submit(run.token, { template: 'ewoks', name: `wf-${run.scan.identity.number ?? 0}`, params: { spec }, time });
    this.update(run, { state: 'RUNNING', job_id: job.id, start_time: new Date().toISOString() });
    const stop = jobs.watch(run.token, (info) => {
      if (info.id !== job.id || !isFinal(info.state)) return;
      stop();
      if (info.state !== 'COMPLETED') return this.end(run, 'FAILED', `Slurm job ${job.id} ${info.state}${info.reason ? ` (${info.reason})` : ''}; its stderr: ${info.stderr ?? '?'}`);
      void this.derivedOf(job.id).then((derived) => {
        if (!derived) return this.end(run, 'FAILED', `Slurm job ${job.id} completed but no derived scan was registered (its manifest is missing?)`);
        this.end(run, 'DONE', null, { derived: derived.key, output: (derived.info as { saving?: { master?: string } }).saving?.master ?? null });
      });
    });
  }

  /** The derived scan the jobs service registers for a completed job (it may come a poll after the job's end). */
  private async derivedOf(jobId: string): Promise<Scan | null> {
    for (let i = 0; i < 100; i++) {
      const found = this.o.store.search({}).find((s) => (s.info as { derived?: { job_id?: string } }).derived?.job_id === jobId);
      if (found) return found;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return null;
  }

  /** The server stops: kill the graphs running, stop waiting for scans (nothing is started any more). */
  shutdown(): void {
    this.stopping.abort();
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.line.length = 0;
  }

  status(scan: unknown): WorkflowStatus {
    return { ...this.run_(scan).status };
  }

  /** Wait until the scan's workflow has ended or `timeout` seconds passed (at most maxWait). */
  async wait(scan: unknown, timeout: number): Promise<WorkflowStatus> {
    const run = this.run_(scan);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, Math.min(timeout, WORKFLOW_LIMITS.maxWait)) * 1000)));
    await Promise.race([run.done, limit]);
    clearTimeout(timer);
    return { ...run.status };
  }

  private run_(scan: unknown): Run {
    if (typeof scan !== 'string') throw new DaqError('ParameterError', 'scan: must be the key of a scan with a workflow', [{ field: 'scan', message: 'must be a scan key' }]);
    const run = this.runs.get(scan);
    if (!run) throw new DaqError('NotFoundError', `no workflow on scan ${JSON.stringify(scan.slice(0, 80))} (the last ${KEEP} are kept)`);
    return run;
  }
}

/** on "prepared": the master as soon as its path is known (the graph follows the file as it grows). */
function masterOfPrepared(scan: Scan): { path: string } | null {
  const m = masterOfAny(scan);
  return m ? { path: m } : null;
}

function masterOfAny(scan: Scan): string | null {
  const master = (scan.info as { saving?: { master?: unknown } }).saving?.master;
  return typeof master === 'string' ? master : null;
}
