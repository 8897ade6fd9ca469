/**
 * The jobs service: submits, lists, follows and controls Slurm jobs for the
 * user behind each connection, through a SlurmBackend (REST or CLI).
 *
 * Security model: every operation resolves the connection's user first
 * (identity.ts); a job is visible and controllable only by its Slurm owner
 * unless the user is staff. Job folders live under `<jobs dir>/<user>/`
 * (the user folder root-owned, each job folder owned by the user); the server
 * writes the script and the params JSON before handing the folder over, and
 * reads logs only from files inside that user's folder that the user owns.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { DaqError, JOB_LOG_STREAMS, type ClusterInfo, type JobDetail, type JobInfo, type JobLogStream, type TemplateInfo } from '../protocol/index.js';
import { CliBackend } from './cli.js';
import { Identities } from './identity.js';
import { RestBackend } from './rest.js';
import { TEMPLATES, REPO, checkTemplateParams, defaultPython, describeTemplates, type JobTemplate } from './templates.js';
import { isFinal, toJobInfo, type BackendSubmit, type JobUser, type SlurmBackend, type SlurmJobRecord } from './types.js';
import { Problems, checkArray, checkEnv, checkInt, checkName, checkPath, parseMemory, parseTime, shellWord } from './validate.js';
import { log } from '../log.js';
import type { DerivedResult } from './derived.js';
import { blockedFor } from './access.js';
import { completedJobs } from './jobcomp.js';

export type SlurmMode = 'rest' | 'cli' | 'auto' | 'off';

export interface JobsOptions {
  mode: SlurmMode;
  /** slurmrestd's base URL, e.g. http://127.0.0.1:6820 */
  restUrl: string | null;
  /** slurm.conf (SLURM_CONF for the tools), null: their default */
  conf: string | null;
  /** partition used when a request names none (null: Slurm's default) */
  partition: string | null;
  /** root of the job folders (scripts, params, logs) */
  jobsDir: string;
  usersFile: string | null;
  /** the Python of the notebook template */
  python?: string;
  /** how often watched jobs are polled */
  pollMs?: number;
}

interface JobMeta {
  job_id: number;
  user: string;
  template: string | null;
  job_dir: string;
  manifest: string | null;
  /** the job's name (names the derived scan) */
  name?: string;
}

export interface LogChunk {
  job: string;
  stream: JobLogStream;
  data: string;
  offset: number;
  size: number;
  /** the job has ended and everything was read */
  done: boolean;
  state: string;
}

const SNAPSHOT_MS = 400;
const MAX_LOG_CHUNK = 1024 * 1024;
/** newest records of the job completion file that jobs.list adds (the file only grows) */
const MAX_COMPLETED = 500;
/** how far back a restarted server registers the results of template jobs found in the completion file */
const RECENT_DERIVED_MS = 7 * 24 * 3600 * 1000;

export class JobsService {
  readonly backend: SlurmBackend | null;
  readonly identities: Identities;
  private readonly meta = new Map<number, JobMeta>();
  private readonly finals = new Map<string, JobInfo>();
  private snap: { at: number; records: Promise<SlurmJobRecord[]> } | null = null;
  private compSnap: { at: number; records: Promise<SlurmJobRecord[]> } | null = null;
  private readonly watchers = new Set<{ as: JobUser; fn: (job: JobInfo) => void }>();
  private readonly lastSeen = new Map<string, string>();
  private poller: NodeJS.Timeout | null = null;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly python: string;
  readonly whyOff: string;
  /** template jobs whose derived scan is not registered yet (job ids) */
  private readonly pendingDerived = new Set<number>();
  private derivedPoller: NodeJS.Timeout | null = null;
  private readonly derivedListeners = new Set<(d: DerivedResult) => void>();
  /**
   * May the client of `token` read `path`? Set by the service when a catalogue guards the proposals'
   * folders (access/); null: every path the job's unix user can read is fine.
   */
  mayRead: ((token: string | null, path: string) => Promise<boolean>) | null = null;

  constructor(readonly options: JobsOptions) {
    this.identities = new Identities(options.usersFile);
    this.python = options.python ?? defaultPython();
    const mode = options.mode === 'auto' ? (options.restUrl ? 'rest' : options.conf || existsSync('/etc/slurm/slurm.conf') ? 'cli' : 'off') : options.mode;
    this.backend =
      mode === 'rest'
        ? new RestBackend({ url: options.restUrl ?? 'http://127.0.0.1:6820', conf: options.conf, asRoot: this.asRoot, self: this.identities.self })
        : mode === 'cli'
          ? new CliBackend({ conf: options.conf, asRoot: this.asRoot })
          : null;
    this.whyOff =
      options.mode === 'off'
        ? 'no Slurm cluster is configured on this daqlab server (started with --slurm off)'
        : 'no Slurm cluster is configured on this daqlab server: start it with --slurm rest --slurmrestd URL or --slurm cli (and --slurm-conf), or DAQLAB_SLURM=local npm start';
    if (this.backend) {
      mkdirSync(options.jobsDir, { recursive: true, mode: 0o755 });
      mkdirSync(join(options.jobsDir, '.index'), { recursive: true, mode: 0o700 });
      this.loadIndex();
    }
  }

  get configured(): boolean {
    return this.backend !== null;
  }

  private need(): SlurmBackend {
    if (!this.backend) throw new DaqError('SlurmUnavailable', `SlurmUnavailable: ${this.whyOff}`, undefined, { configured: false });
    return this.backend;
  }

  // ------------------------------------------------------------------ reads
  async cluster(token: string | null): Promise<ClusterInfo> {
    if (!this.backend) return { configured: false, backend: null, message: this.whyOff, user: null, staff: false, partitions: [] };
    const as = this.identities.resolve(token);
    const partitions = await this.backend.partitions(as);
    return {
      configured: true,
      backend: this.backend.kind,
      message: `Slurm through ${this.backend.kind === 'rest' ? `slurmrestd (${this.options.restUrl})` : 'its command-line tools'}`,
      user: as.user,
      staff: as.staff,
      partitions,
    };
  }

  templates(): TemplateInfo[] {
    return describeTemplates();
  }

  /** Every record slurmctld knows, shared by concurrent callers for a moment. */
  private records(as: JobUser, fresh = false): Promise<SlurmJobRecord[]> {
    const backend = this.need();
    const now = Date.now();
    if (!fresh && this.snap && now - this.snap.at < SNAPSHOT_MS) return this.snap.records;
    const records = backend.jobs(as);
    this.snap = { at: now, records };
    records.catch(() => {
      if (this.snap?.records === records) this.snap = null;
    });
    return records;
  }

  /** Ended jobs slurmctld has forgotten, from the job completion file (`sacct -c`), shared for a moment. */
  private completed(): Promise<SlurmJobRecord[]> {
    const now = Date.now();
    if (this.compSnap && now - this.compSnap.at < 2000) return this.compSnap.records;
    const records = completedJobs(this.options.conf).then((rs) =>
      rs.map((r) => {
        // the file records no log paths: ours are known for the job folders this server made
        const m = this.meta.get(r.job_id);
        return m ? { ...r, standard_output: join(m.job_dir, 'stdout.log'), standard_error: join(m.job_dir, 'stderr.log') } : r;
      }),
    );
    this.compSnap = { at: now, records };
    return records;
  }

  private decorate(info: JobInfo): JobInfo {
    const m = this.meta.get(info.array_job_id ?? info.job_id);
    if (m) {
      info.template = m.template;
      info.job_dir = m.job_dir;
      if (m.manifest) info.result = info.state === 'COMPLETED' ? this.readManifest(m) : { manifest: m.manifest };
      if (this.pendingDerived.has(m.job_id) && info.array_job_id === null && isFinal(info.state)) this.settleDerived(m, info);
    }
    if (isFinal(info.state)) this.finals.set(info.id, info);
    return info;
  }

  private visible(as: JobUser, info: JobInfo): boolean {
    return as.staff || info.user === as.user;
  }

  async list(token: string | null, options: { all?: boolean } = {}): Promise<JobInfo[]> {
    const as = this.identities.resolve(token);
    const all = options.all === true;
    if (all && !as.staff) throw new DaqError('AuthError', `all: only staff may list every user's jobs (${as.user} is not staff)`);
    const records = await this.records(as);
    const seen = new Set<string>();
    const out: JobInfo[] = [];
    for (const r of records) {
      const info = this.decorate(toJobInfo(r));
      seen.add(info.id);
      if (all ? true : info.user === as.user) out.push(info);
    }
    // finished jobs slurmctld has already forgotten, as last seen by this server
    for (const [id, info] of this.finals) {
      if (seen.has(id)) continue;
      seen.add(id);
      if (all || info.user === as.user) out.push(info);
    }
    // ... and those that ended before it started (or that it never saw)
    for (const r of (await this.completed()).slice(-MAX_COMPLETED)) {
      if (seen.has(String(r.job_id)) || !(all || r.user_name === as.user)) continue;
      out.push(this.decorate(toJobInfo(r)));
    }
    return out.sort((a, b) => b.job_id - a.job_id);
  }

  /** The records of job `id` ("12", "12_3"), checked for ownership. */
  private async find(as: JobUser, id: unknown, fresh = false): Promise<{ main: JobInfo; tasks: JobInfo[] }> {
    if (typeof id !== 'string' && typeof id !== 'number') throw new DaqError('ParameterError', 'job: must be a job id like "123" or "123_4"', [{ field: 'job', message: 'must be a job id' }]);
    const m = /^(\d{1,10})(?:_(\d{1,7}))?$/.exec(String(id));
    if (!m) throw new DaqError('ParameterError', `job: must be a job id like "123" or "123_4", got ${JSON.stringify(id)}`, [{ field: 'job', message: 'must be a job id like "123" or "123_4"' }]);
    const jobId = Number(m[1]);
    const task = m[2] === undefined ? null : Number(m[2]);
    const infos = (await this.records(as, fresh)).map((r) => this.decorate(toJobInfo(r)));
    let tasks = infos.filter((i) => i.array_job_id === jobId && (task === null || i.array_task_id === task));
    // a task not started yet is still inside the array's pending record ("12_[3-9]")
    if (tasks.length === 0 && task !== null) tasks = infos.filter((i) => i.array_job_id === jobId && i.array_pending !== null).slice(0, 1);
    if (tasks.length === 0 && task === null) tasks = infos.filter((i) => i.job_id === jobId);
    if (tasks.length === 0) {
      const key = task === null ? String(jobId) : `${jobId}_${task}`;
      const old = this.finals.get(key) ?? [...this.finals.values()].filter((i) => i.array_job_id === jobId && task === null)[0];
      if (old) tasks = task === null && old.array_job_id !== null ? [...this.finals.values()].filter((i) => i.array_job_id === jobId) : [old];
    }
    // a job newer than the shared snapshot: ask slurmctld again before saying there is none
    if (tasks.length === 0 && !fresh) return this.find(as, id, true);
    if (tasks.length === 0 && task === null) {
      const r = (await this.completed()).find((c) => c.job_id === jobId);
      if (r) tasks = [this.decorate(toJobInfo(r))];
    }
    if (tasks.length === 0) throw new DaqError('NotFoundError', `no job ${id} (unknown to slurmctld, or finished long ago)`);
    if (!tasks.every((t) => this.visible(as, t))) throw new DaqError('AuthError', `job ${id} belongs to ${tasks[0].user}, not to ${as.user}`);
    tasks.sort((a, b) => (a.array_task_id ?? -1) - (b.array_task_id ?? -1));
    const isArray = tasks[0].array_job_id !== null && task === null;
    return { main: isArray ? summariseArray(jobId, tasks) : tasks[0], tasks: isArray ? tasks : [] };
  }

  async get(token: string | null, id: unknown): Promise<JobDetail> {
    const as = this.identities.resolve(token);
    const { main, tasks } = await this.find(as, id);
    return { ...main, tasks };
  }

  // ------------------------------------------------------------------ control
  private async control(token: string | null, id: unknown, what: 'cancel' | 'hold' | 'release'): Promise<JobDetail> {
    const backend = this.need();
    const as = this.identities.resolve(token);
    const { main } = await this.find(as, id, true);
    const target = main.array_job_id !== null && main.array_task_id === null ? main.array_job_id : main.job_id;
    if (what !== 'cancel' && main.state !== 'PENDING') {
      throw new DaqError('StateError', `${what}: job ${main.id} is ${main.state}; only pending jobs can be held or released`, undefined, { state: main.state });
    }
    await backend[what](as, target);
    log('info', `job ${what}`, { job: main.id, user: as.user });
    this.snap = null;
    return this.get(token, id);
  }

  cancel(token: string | null, id: unknown): Promise<JobDetail> {
    return this.control(token, id, 'cancel');
  }

  hold(token: string | null, id: unknown): Promise<JobDetail> {
    return this.control(token, id, 'hold');
  }

  release(token: string | null, id: unknown): Promise<JobDetail> {
    return this.control(token, id, 'release');
  }

  // ------------------------------------------------------------------ submit
  async submit(token: string | null, req: Record<string, unknown>): Promise<JobDetail> {
    const backend = this.need();
    const as = this.identities.resolve(token);
    if (!this.asRoot && as.user !== this.identities.self) {
      throw new DaqError('AuthError', `this server runs as ${this.identities.self}, not root: it cannot submit jobs for ${as.user}`);
    }
    const p = new Problems();
    const hasTemplate = req.template !== undefined && req.template !== null;
    const hasScript = req.script !== undefined && req.script !== null;
    let template: JobTemplate | null = null;
    if (hasTemplate === hasScript) p.add('template', 'give either a template name or a script (exactly one)');
    if (hasTemplate) {
      template = typeof req.template === 'string' ? (TEMPLATES.get(req.template) ?? null) : null;
      if (!template) p.add('template', `unknown template ${JSON.stringify(req.template)}; known: ${[...TEMPLATES.keys()].join(', ')}`);
    }
    if (hasScript && (typeof req.script !== 'string' || req.script.length === 0 || req.script.length > 1024 * 1024 || req.script.includes('\0'))) {
      p.add('script', 'must be the text of a job script (at most 1 MiB, no NUL)');
    }
    const given = req.params ?? {};
    if (typeof given !== 'object' || given === null || Array.isArray(given)) p.add('params', 'must be an object');
    const params = template ? checkTemplateParams(p, template, given as Record<string, unknown>) : (given as Record<string, unknown>);
    const name = checkName(p, 'name', req.name ?? template?.name ?? 'script');
    const partition = req.partition === undefined || req.partition === null ? this.options.partition : checkName(p, 'partition', req.partition);
    const cpus = checkInt(p, 'cpus', req.cpus ?? template?.defaults.cpus ?? 1, 1, 4096);
    const gpus = checkInt(p, 'gpus', req.gpus ?? 0, 0, 64);
    const memoryMb = req.memory === undefined || req.memory === null ? null : parseMemory(p, 'memory', req.memory);
    const timeSpec = req.time ?? template?.defaults.time;
    const timeMinutes = timeSpec === undefined || timeSpec === null ? null : parseTime(p, 'time', timeSpec);
    const workDir = req.workdir === undefined || req.workdir === null ? null : checkPath(p, 'workdir', req.workdir);
    const userEnv = checkEnv(p, 'env', req.env);
    const array = req.array === undefined || req.array === null ? null : checkArray(p, 'array', req.array);
    if (req.hold !== undefined && typeof req.hold !== 'boolean') p.add('hold', 'must be true or false');
    if (template && this.mayRead) {
      // a template's required paths are what the job reads (source, notebook): the reader's proposal rules apply
      for (const [k, spec] of Object.entries(template.params)) {
        const v = params[k];
        if (spec.type === 'path' && spec.required && typeof v === 'string' && !(await this.mayRead(token, v))) {
          p.add(`params.${k}`, `no file that ${as.user} may read at this path`);
        }
      }
    }
    p.throwIfAny('jobs.submit: invalid job');

    const jobDir = this.makeJobDir(as, name!);
    const paramsFile = join(jobDir, 'params.json');
    let script: string;
    let paramsContent: unknown = params;
    let manifest: string | null = null;
    if (template) {
      const build = template.build(params, { jobDir, paramsFile, jobName: name!, repo: REPO, node: process.execPath, python: this.python });
      const blocked = blockedFor(build.argv[0], as);
      if (blocked) {
        rmSync(jobDir, { recursive: true, force: true });
        throw new DaqError('ParameterError', `template ${template.name} runs ${build.argv[0]}, but ${as.user} cannot reach ${blocked} (no search/execute permission): jobs run as their user; install daqlab where job users can run it (e.g. a venv made from a system Python)`, [{ field: 'template', message: `${as.user} cannot run ${build.argv[0]}` }]);
      }
      paramsContent = build.params;
      manifest = build.manifest;
      for (const dir of build.outputDirs) if (dir.startsWith(jobDir + sep)) mkdirSync(dir, { recursive: true });
      script = [
        '#!/bin/sh',
        `# daqlab job from template "${template.name}"; its parameters are in params.json`,
        `exec ${build.argv.map(shellWord).join(' ')}`,
        '',
      ].join('\n');
    } else {
      script = (req.script as string).startsWith('#!') ? (req.script as string) : `#!/bin/bash\n${req.script as string}`;
    }
    const scriptPath = join(jobDir, 'job.sh');
    writeFileSync(paramsFile, `${JSON.stringify(paramsContent, null, 1)}\n`, { mode: 0o644 });
    writeFileSync(scriptPath, script, { mode: 0o755 });
    const suffix = array ? '-%a' : '';
    const spec: BackendSubmit = {
      script,
      scriptPath,
      name: name!,
      partition,
      cpus: cpus!,
      gpus: gpus!,
      memoryMb,
      timeMinutes,
      workDir: workDir ?? jobDir,
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        LANG: 'C.UTF-8',
        HOME: as.home,
        USER: as.user,
        LOGNAME: as.user,
        ...userEnv,
        DAQLAB_JOB_DIR: jobDir,
        DAQLAB_JOB_PARAMS: paramsFile,
      },
      stdout: join(jobDir, `stdout${suffix}.log`),
      stderr: join(jobDir, `stderr${suffix}.log`),
      array,
      hold: req.hold === true,
    };
    this.handOver(as, jobDir);
    const jobId = await backend.submit(as, spec);
    const meta: JobMeta = { job_id: jobId, user: as.user, template: template?.name ?? null, job_dir: jobDir, manifest, name: name! };
    this.meta.set(jobId, meta);
    if (manifest && !array) this.awaitDerived(jobId);
    writeFileSync(join(this.options.jobsDir, '.index', `${jobId}.json`), JSON.stringify(meta), { mode: 0o600 });
    log('info', 'job submitted', { job: jobId, user: as.user, template: meta.template, backend: backend.kind });
    this.snap = null;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.get(token, String(jobId));
      } catch (err) {
        // slurmctld lists a job a moment after accepting it
        if (!(err instanceof DaqError && err.type === 'NotFoundError') || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 100));
        this.snap = null;
      }
    }
  }

  /** `<jobs dir>/<user>/<time>-<name>-<random>`, made by the server; the user folder stays the server's. */
  private makeJobDir(as: JobUser, name: string): string {
    const userDir = join(this.options.jobsDir, as.user);
    mkdirSync(userDir, { recursive: true, mode: 0o755 });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const dir = join(userDir, `${stamp}-${name}-${randomBytes(3).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 }); // the user's alone once handed over (the server reads as root)
    return dir;
  }

  /** Give the job folder and what the server wrote into it to the user (slurmstepd writes logs there as the user). */
  private handOver(as: JobUser, jobDir: string): void {
    if (!this.asRoot) return;
    const walk = (path: string): void => {
      chownSync(path, as.uid, as.gid);
      if (statSync(path).isDirectory()) for (const entry of readdir(path)) walk(join(path, entry));
    };
    walk(jobDir);
  }

  private loadIndex(): void {
    const dir = join(this.options.jobsDir, '.index');
    for (const f of readdir(dir)) {
      try {
        const m = JSON.parse(readFileSync(join(dir, f), 'utf8')) as JobMeta;
        if (!Number.isSafeInteger(m.job_id)) continue;
        this.meta.set(m.job_id, m);
        // registered again after a restart (the store is in memory): from slurmctld, or the completion file
        if (m.manifest) this.pendingDerived.add(m.job_id);
      } catch {
        // a half-written entry: ignore it
      }
    }
  }

  // ------------------------------------------------------------------ files
  /**
   * Open a file a job wrote (log, manifest) only if `user` owns it: the server may run as root,
   * and a job's recorded output path (sbatch -o, outside daqlab too) must not make it read a file
   * its user could not. The real path is opened, without following a last-moment symlink.
   */
  private openUserFile(user: string, path: string): { fd: number; size: number } | null {
    let owner: number;
    let real: string;
    try {
      owner = this.identities.resolveUser(user).uid;
      real = realpathSync(path);
    } catch {
      return null;
    }
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return null;
    }
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== owner) {
      closeSync(fd);
      return null;
    }
    return { fd, size: st.size };
  }

  private readManifest(m: JobMeta): Record<string, unknown> {
    const out: Record<string, unknown> = { manifest: m.manifest };
    const f = m.manifest ? this.openUserFile(m.user, m.manifest) : null;
    if (!f) return out;
    try {
      const buf = Buffer.alloc(Math.min(f.size, 1024 * 1024));
      readSync(f.fd, buf, 0, buf.length, 0);
      const doc = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
      for (const k of ['source', 'source_key', 'template', 'params', 'master', 'created', 'frames']) if (k in doc) out[k] = doc[k];
    } catch {
      // not (yet) a manifest
    } finally {
      closeSync(f.fd);
    }
    return out;
  }

  /** Read a job's stdout/stderr from `offset`; with `wait` seconds, wait for new text or the job's end. */
  async logs(token: string | null, id: unknown, stream: unknown, offset: number, maxBytes: number, wait: number): Promise<LogChunk> {
    const as = this.identities.resolve(token);
    if (typeof stream !== 'string' || !(JOB_LOG_STREAMS as readonly string[]).includes(stream)) {
      throw new DaqError('ParameterError', `stream: must be stdout or stderr, got ${JSON.stringify(stream)}`, [{ field: 'stream', message: 'must be stdout or stderr' }]);
    }
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const { main, tasks } = await this.find(as, id);
      if (tasks.length > 1) throw new DaqError('ParameterError', `job: ${main.id} is an array: ask for the logs of one task, e.g. ${tasks[0].id}`, [{ field: 'job', message: 'an array: name one task' }]);
      const job = tasks[0] ?? main;
      const pattern = stream === 'stdout' ? job.stdout : job.stderr;
      const path = pattern
        ?.replaceAll('%A', String(job.array_job_id ?? job.job_id))
        .replaceAll('%a', String(job.array_task_id ?? 0))
        .replaceAll('%j', String(job.job_id));
      const done = isFinal(job.state);
      let chunk: { data: Buffer; size: number } = { data: Buffer.alloc(0), size: 0 };
      if (path) {
        const f = this.openUserFile(job.user, path);
        if (f) {
          try {
            const n = Math.max(0, Math.min(f.size - offset, maxBytes));
            const buf = Buffer.alloc(n);
            const read = n > 0 ? readSync(f.fd, buf, 0, n, offset) : 0;
            chunk = { data: utf8Prefix(buf.subarray(0, read), read < f.size - offset), size: f.size };
          } finally {
            closeSync(f.fd);
          }
        } else if (existsSync(path)) {
          throw new DaqError('AuthError', `${stream} of job ${job.id} (${path}) is not a file owned by ${job.user}: the server does not read it`);
        }
      }
      const end = offset + chunk.data.length;
      if (chunk.data.length > 0 || done || Date.now() >= deadline) {
        return { job: job.id, stream: stream as JobLogStream, data: chunk.data.toString('utf8'), offset: end, size: chunk.size, done: done && end >= chunk.size, state: job.state };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // ------------------------------------------------------------------ watching
  /** Call `fn` with every state change of the jobs this connection may see; returns the remover. */
  watch(token: string | null, fn: (job: JobInfo) => void): () => void {
    this.need();
    const entry = { as: this.identities.resolve(token), fn };
    this.watchers.add(entry);
    if (!this.poller) {
      this.poller = setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
      this.poller.unref();
    }
    return () => {
      this.watchers.delete(entry);
      if (this.watchers.size === 0 && this.poller) {
        clearInterval(this.poller);
        this.poller = null;
      }
    };
  }

  private async poll(): Promise<void> {
    const first = [...this.watchers][0];
    if (!first) return;
    let infos: JobInfo[];
    try {
      infos = (await this.records(first.as)).map((r) => this.decorate(toJobInfo(r)));
    } catch (err) {
      log('debug', 'jobs poll failed', { error: (err as Error).message });
      return;
    }
    for (const info of infos) {
      const key = `${info.state}/${info.held}/${info.exit_code}/${info.reason}`;
      if (this.lastSeen.get(info.id) === key) continue;
      this.lastSeen.set(info.id, key);
      for (const w of this.watchers) if (this.visible(w.as, info)) w.fn(info);
    }
  }

  // ------------------------------------------------------------------ derived scans
  /** Call `fn` with the result of every template job that completes (once per job); returns the remover. */
  onDerived(fn: (d: DerivedResult) => void): () => void {
    this.derivedListeners.add(fn);
    if (this.pendingDerived.size) this.awaitDerived();
    return () => this.derivedListeners.delete(fn);
  }

  /** Poll Slurm while template jobs are running, so their results are registered without a client asking. */
  private awaitDerived(jobId?: number): void {
    if (jobId !== undefined) this.pendingDerived.add(jobId);
    if (this.derivedPoller || !this.backend) return;
    this.derivedPoller = setInterval(() => void this.pollDerived(), this.options.pollMs ?? 1000);
    this.derivedPoller.unref();
  }

  private async pollDerived(): Promise<void> {
    const first = this.meta.get([...this.pendingDerived][0]);
    if (!first) {
      this.pendingDerived.clear();
    } else {
      try {
        const records = await this.records(this.identities.resolveUser(first.user));
        const known = new Set<number>();
        for (const r of records) {
          known.add(r.job_id);
          if (this.pendingDerived.has(r.job_id)) this.decorate(toJobInfo(r));
        }
        // slurmctld forgot it: the job completion file may still say how it ended, else nothing more to learn
        const gone = [...this.pendingDerived].filter((id) => !known.has(id));
        const ended = gone.length ? await this.completed() : [];
        for (const id of gone) {
          // a week back at most: a restart should not bring every result ever made into the scans list
          const r = ended.find((c) => c.job_id === id && (c.end_time ?? 0) * 1000 > Date.now() - RECENT_DERIVED_MS);
          if (r) this.decorate(toJobInfo(r));
          this.pendingDerived.delete(id);
        }
      } catch (err) {
        log('debug', 'derived-scan poll failed', { error: (err as Error).message });
      }
    }
    if (this.pendingDerived.size === 0 && this.derivedPoller) {
      clearInterval(this.derivedPoller);
      this.derivedPoller = null;
    }
  }

  /** A pending template job has ended: hand a completed one's result to the listeners. */
  private settleDerived(m: JobMeta, info: JobInfo): void {
    if (this.derivedListeners.size === 0) return; // nobody registers yet: keep it pending
    this.pendingDerived.delete(m.job_id);
    if (info.state !== 'COMPLETED' || !m.manifest) return;
    const r = this.readManifest(m);
    if (typeof r.master !== 'string' || typeof r.source !== 'string') {
      log('warn', 'completed template job left no readable manifest', { job: info.id, manifest: m.manifest });
      return;
    }
    const frames = Array.isArray(r.frames) && r.frames.length === 2 ? (r.frames as [number, number]) : null;
    const d: DerivedResult = {
      job_id: info.id,
      user: m.user,
      job_name: m.name ?? info.name,
      template: m.template ?? String(r.template),
      manifest: m.manifest,
      master: r.master,
      source: r.source,
      source_key: typeof r.source_key === 'string' ? r.source_key : null,
      frames,
      params: typeof r.params === 'object' && r.params !== null ? (r.params as Record<string, unknown>) : {},
      created: typeof r.created === 'string' ? r.created : null,
    };
    for (const fn of this.derivedListeners) {
      try {
        fn(d);
      } catch (err) {
        log('warn', 'registering a derived scan failed', { job: info.id, error: (err as Error).message });
      }
    }
  }

  shutdown(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    if (this.derivedPoller) clearInterval(this.derivedPoller);
    this.derivedPoller = null;
    this.watchers.clear();
  }
}

function readdir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Cut a chunk before a UTF-8 sequence it splits (only when more bytes follow). */
function utf8Prefix(buf: Buffer, more: boolean): Buffer {
  if (!more) return buf;
  let end = buf.length;
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = buf[end - k];
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    if (b >= 0xc0) {
      const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (k < len) end -= k;
    }
    break;
  }
  return buf.subarray(0, end);
}

/** One summary for a whole array: its most telling state and the worst exit code. */
function summariseArray(arrayId: number, tasks: JobInfo[]): JobInfo {
  const order = ['RUNNING', 'PENDING', 'SUSPENDED', 'FAILED', 'OUT_OF_MEMORY', 'TIMEOUT', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED', 'CANCELLED', 'COMPLETED', 'UNKNOWN'];
  const state = order.find((s) => tasks.some((t) => t.state === s)) as JobInfo['state'];
  const final = tasks.every((t) => isFinal(t.state));
  const codes = tasks.map((t) => t.exit_code).filter((c): c is number => c !== null);
  const failed = tasks.find((t) => t.state === state && t.reason);
  return {
    ...tasks[0],
    id: String(arrayId),
    job_id: arrayId,
    array_task_id: null,
    array_pending: tasks.find((t) => t.array_pending)?.array_pending ?? null,
    state,
    slurm_state: state,
    held: tasks.some((t) => t.held),
    reason: failed?.reason ?? null,
    exit_code: final && codes.length ? Math.max(...codes) : null,
    signal: null,
    start_time: tasks.map((t) => t.start_time).filter(Boolean).sort()[0] ?? null,
    end_time: final ? (tasks.map((t) => t.end_time).filter(Boolean).sort().at(-1) ?? null) : null,
    stdout: tasks[0].stdout,
    stderr: tasks[0].stderr,
  };
}
