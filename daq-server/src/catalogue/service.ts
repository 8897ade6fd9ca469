/**
 * The catalogue as the rest of daqlab uses it: every query goes through a principal (access/), every
 * finished scan is captured as a dataset, and the data policy (current proposal, sample, dataset,
 * as BLISS's newproposal/newsample/newdataset) says where files go:
 * `<root>/<proposal>/<beamline>/<sample>/<sample>_<dataset>/`.
 */
import { randomUUID } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { withDeadline } from '../files/index.js';
import { DaqError } from '../protocol/index.js';
import type { Scan } from '../store/types.js';
import { proposalFolderOf, proposalOfPath } from '../access/paths.js';
import { canAdminister, canRead, canWrite, defaultRelease, isMember, type AccessControl, type Principal, type ProposalFacts } from '../access/index.js';
import type { CatalogueRepository } from './repository.js';
import { datasetOfScan } from './capture.js';
import { MAX_LIMIT, TEAM_ROLES, type Dataset, type DatasetQuery, type Proposal, type Sample, type TeamRole, type Visibility } from './types.js';
import { err } from './errors.js';
import { Dois } from './doi/service.js';
import { dataciteFromEnv, type DataciteConfig } from './doi/datacite.js';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** release dates further than this after the session are refused as absurd */
const MAX_EMBARGO_YEARS = 50;
/** captures waiting for a database that does not answer, kept in memory */
const MAX_PENDING = 100_000;
const RETRY_MS = 5000;
/** proposals a logbook search may span for one reader (a beamline's lifetime of proposals fits) */
const MAX_READABLE = 20_000;
/** how long a proposal's facts serve access decisions before they are read again (in the background) */
const FACTS_TTL_MS = 5000;
/** proposals whose facts are kept for access decisions (those of scans in the store and those asked about) */
const MAX_FACTS = 10_000;
/** numbered datasets tried by new_dataset() */
const MAX_DATASETS = 9999;

export interface CatalogueOptions {
  beamline: string;
  /** the data root the policy's folders hang off */
  root: string;
  now?: () => Date;
  /** DOIs: prefix, landing pages' base, DataCite endpoint (default: prefix 10.5072, not minted) */
  datacite?: DataciteConfig;
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

export interface PolicyState {
  proposal: string | null;
  sample: string | null;
  dataset: string | null;
  beamline: string;
  /** the folder files go to (null: no proposal, sample and dataset chosen yet) */
  folder: string | null;
}

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw err('ParameterError', `${field}: expected a name of letters, digits, . _ - (at most 64), got ${JSON.stringify(value)}`, field);
  }
  return value;
}

function isoDate(value: unknown, field: string): Date {
  const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
  if (!d || Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) {
    throw err('ParameterError', `${field}: expected an ISO date, got ${JSON.stringify(value)}`, field);
  }
  return d;
}

export class Catalogue {
  readonly beamline: string;
  readonly root: string;
  private realRoot: string | undefined;
  readonly now: () => Date;
  private readonly log: NonNullable<CatalogueOptions['log']>;
  private policyState: { proposal: string | null; sample: string | null; dataset: string | null } = { proposal: null, sample: null, dataset: null };
  private readonly pending: Scan[] = [];
  private draining: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * Proposals (or null: not registered) as last read, for the access decisions that must answer at once —
   * each event broadcast to each session, each file the Jupyter side serves — without a database round trip
   * on the event loop's path. Filled when a scan enters the store, when a proposal is asked for, and by our
   * own writes; read again when older than FACTS_TTL_MS; kept through a database outage.
   */
  private readonly known = new Map<string, { prop: Proposal | null; at: number }>();
  private readonly learning = new Map<string, Promise<Proposal | null>>();
  /** DOIs of datasets and sessions (doi/) */
  readonly dois: Dois;

  constructor(
    readonly repo: CatalogueRepository,
    readonly access: AccessControl,
    options: CatalogueOptions,
  ) {
    this.beamline = name(options.beamline, 'beamline');
    this.root = options.root;
    this.now = options.now ?? access.now;
    this.log = options.log ?? (() => {});
    repo.putInstrument({ name: this.beamline, title: this.beamline }).catch((e: unknown) => this.log('warn', 'catalogue: the beamline is not registered', { error: String(e) }));
    this.dois = new Dois(this, options.datacite ?? dataciteFromEnv({}));
  }

  // ------------------------------------------------------------------ who sees what

  visibility(p: Principal): Visibility {
    return { all: p.operator, proposals: p.proposals, user: p.name === 'public' ? null : p.name, beamlines: p.staffOf, now: this.now().toISOString() };
  }

  private facts(p: Proposal): ProposalFacts {
    return { id: p.id, beamline: p.beamline, team: p.team.map((m) => m.user), releaseDate: new Date(p.releaseDate) };
  }

  /** Read a proposal from the database (one read at a time per proposal) and remember it for access decisions. */
  private learn(id: string): Promise<Proposal | null> {
    let p = this.learning.get(id);
    if (!p) {
      p = this.repo.proposal(id).then(
        (prop) => {
          this.remember(id, prop);
          return prop;
        },
      ).finally(() => this.learning.delete(id));
      this.learning.set(id, p);
    }
    return p;
  }

  /** A proposal we wrote: at hand at once, its team in the order the database returns it; then read back from it. */
  private wrote(prop: Proposal): void {
    this.remember(prop.id, { ...prop, team: [...prop.team].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)) });
    void this.learn(prop.id).catch(() => {});
  }

  private remember(id: string, prop: Proposal | null): void {
    this.known.delete(id);
    this.known.set(id, { prop, at: Date.now() });
    // the oldest learned goes first (insertion order)
    if (this.known.size > MAX_FACTS) this.known.delete(this.known.keys().next().value as string);
  }

  /**
   * Make sure the facts of these proposals are at hand for the synchronous decisions (scanVisible, pathVisible):
   * waits for those never read; those read more than FACTS_TTL_MS ago serve as they are while they are read
   * again in the background (a database that stops answering delays no decision). Without any facts, the
   * database's error is the caller's.
   */
  async know(ids: Iterable<string>): Promise<void> {
    const now = Date.now();
    const wait: Promise<unknown>[] = [];
    for (const id of new Set(ids)) {
      if (!id || !ID_RE.test(id)) continue;
      const k = this.known.get(id);
      if (k && now - k.at < FACTS_TTL_MS) continue;
      const learned = this.learn(id);
      if (k) void learned.catch(() => {});
      else wait.push(learned);
    }
    await Promise.all(wait);
  }

  /** A proposal's facts as `know` keeps them: read now when never read, otherwise as at hand (read again meanwhile). */
  private async factsOf(id: string): Promise<Proposal | null> {
    if (!ID_RE.test(id)) return null;
    await this.know([id]);
    return this.known.get(id)?.prop ?? null;
  }

  /** A proposal the principal may read; otherwise the same refusal whether it exists or not. */
  private async readable(p: Principal, id: string, field = 'proposal'): Promise<Proposal> {
    const prop = await this.factsOf(id);
    if (!prop || !canRead(p, this.facts(prop), this.now())) {
      throw err('NotFoundError', `${field} ${JSON.stringify(id)}: no such proposal that ${p.name} may read (members, staff of its beamline, or everyone once released)`, field);
    }
    return prop;
  }

  private async writable(p: Principal, id: string): Promise<Proposal> {
    const prop = await this.readable(p, id);
    if (!canWrite(p, this.facts(prop))) throw err('AuthError', `proposal ${id}: ${p.name} may read it but not write to it (members, staff, automation)`, 'proposal');
    return prop;
  }

  /** Refused unless `p` may write to the proposal (members, staff, automation). */
  async requireWrite(p: Principal, id: string): Promise<void> {
    await this.writable(p, id);
  }

  // ------------------------------------------------------------------ proposals and samples

  /** Register or update a proposal (staff of its beamline, the operator). */
  async putProposal(p: Principal, fields: Record<string, unknown>): Promise<Proposal> {
    const id = name(fields.proposal, 'proposal');
    const beamline = fields.beamline === undefined ? this.beamline : name(fields.beamline, 'beamline');
    if (!canAdminister(p, beamline)) throw err('AuthError', `registering proposals on ${beamline} needs staff of that beamline`, 'beamline');
    const start = fields.start === undefined ? this.now() : isoDate(fields.start, 'start');
    const end = fields.end === undefined ? new Date(start.getTime() + 3 * 86400_000) : isoDate(fields.end, 'end');
    if (end < start) throw err('ParameterError', 'end: the session ends before it starts', 'end');
    const release = fields.release_date === undefined || fields.release_date === null ? defaultRelease(end) : this.checkRelease(fields.release_date, end);
    const team: Proposal['team'] = [];
    if (fields.team !== undefined) {
      if (!Array.isArray(fields.team) || fields.team.length > 1000) throw err('ParameterError', 'team: expected a list (at most 1000) of {user, role}', 'team');
      fields.team.forEach((m: { user?: unknown; role?: unknown }, k) => {
        const role = (m?.role ?? 'member') as TeamRole;
        if (!TEAM_ROLES.includes(role)) throw err('ParameterError', `team[${k}].role: expected one of ${TEAM_ROLES.join(', ')}`, `team[${k}].role`);
        team.push({ user: name(m?.user, `team[${k}].user`), role });
      });
    }
    const text = (v: unknown, field: string): string => {
      if (v === undefined) return '';
      if (typeof v !== 'string' || v.length > 10_000) throw err('ParameterError', `${field}: expected text (at most 10000 characters)`, field);
      return v;
    };
    const prop: Proposal = { id, title: text(fields.title, 'title') || id, abstract: text(fields.abstract, 'abstract'), beamline, team, start: start.toISOString(), end: end.toISOString(), releaseDate: release.toISOString() };
    await this.repo.putProposal(prop);
    this.wrote(prop);
    return prop;
  }

  private checkRelease(value: unknown, end: Date): Date {
    const d = isoDate(value, 'release_date');
    if (d.getTime() < this.now().getTime() - 86400_000) throw err('ParameterError', `release_date: ${d.toISOString()} is in the past (to release now, give today's date)`, 'release_date');
    const limit = defaultRelease(end, MAX_EMBARGO_YEARS);
    if (d > limit) throw err('ParameterError', `release_date: ${d.toISOString()} is more than ${MAX_EMBARGO_YEARS} years after the session`, 'release_date');
    return d;
  }

  /** Change the release date (extend the embargo, or release early): the PI, staff, the operator. */
  async setRelease(p: Principal, id: string, value: unknown): Promise<Proposal> {
    const prop = await this.readable(p, id);
    const pi = prop.team.some((m) => m.user === p.name && m.role === 'principal-investigator');
    if (!pi && !canAdminister(p, prop.beamline)) throw err('AuthError', `proposal ${id}: only its principal investigator or staff may change the release date`, 'release_date');
    const release = this.checkRelease(value, new Date(prop.end));
    const updated = { ...prop, releaseDate: release.toISOString() };
    await this.repo.putProposal(updated);
    this.wrote(updated);
    this.log('info', 'release date changed', { proposal: id, by: p.name, from: prop.releaseDate, to: updated.releaseDate });
    return updated;
  }

  async proposal(p: Principal, id: unknown): Promise<Proposal & { released: boolean }> {
    const prop = await this.readable(p, name(id, 'proposal'));
    return { ...prop, released: new Date(prop.releaseDate) <= this.now() };
  }

  proposals(p: Principal, limit = 100, skip = 0): Promise<Proposal[]> {
    return this.repo.proposals(this.visibility(p), limit, skip);
  }

  async samples(p: Principal, proposal: string | null, limit = 100, skip = 0): Promise<Sample[]> {
    if (proposal !== null) await this.readable(p, proposal);
    return this.repo.samples(this.visibility(p), proposal, limit, skip);
  }

  /** Register a sample of a proposal `p` may write to (SciCat's POST Samples, catalogue/external.ts). */
  async addSample(p: Principal, proposal: string, sampleName: string, description = ''): Promise<Sample> {
    await this.requireWrite(p, proposal);
    return this.ensureSample(p, proposal, sampleName, description);
  }

  private async ensureSample(p: Principal, proposal: string, sampleName: string, description = ''): Promise<Sample> {
    const s = await this.repo.sample(proposal, sampleName);
    if (s) return s;
    const sample: Sample = { pid: `sample-${randomUUID()}`, proposal, name: sampleName, description, created: this.now().toISOString() };
    await this.repo.addSample(sample);
    this.log('info', 'sample registered', { proposal, sample: sampleName, by: p.name });
    return sample;
  }

  // ------------------------------------------------------------------ datasets

  async datasets(p: Principal, q: Partial<DatasetQuery>): Promise<{ datasets: Dataset[]; total: number }> {
    if (q.proposal !== undefined) await this.readable(p, q.proposal);
    const query: DatasetQuery = { ...q, limit: Math.min(q.limit ?? 100, MAX_LIMIT), skip: q.skip ?? 0 };
    const v = this.visibility(p);
    const [datasets, total] = await Promise.all([query.limit > 0 ? this.repo.datasets(query, v) : [], this.repo.countDatasets(query, v)]);
    return { datasets, total };
  }

  async dataset(p: Principal, pid: unknown): Promise<Dataset> {
    const d = typeof pid === 'string' && pid.length <= 200 ? await this.repo.dataset(pid, this.visibility(p)) : null;
    if (!d) throw err('NotFoundError', `dataset ${JSON.stringify(pid)}: no such dataset that ${p.name} may read`, 'pid');
    return d;
  }

  // ------------------------------------------------------------------ the data policy

  policy(): PolicyState {
    const { proposal, sample, dataset } = this.policyState;
    const folder = proposal && sample && dataset ? join(this.root, proposal, this.beamline, sample, `${sample}_${dataset}`) : null;
    return { proposal, sample, dataset, beamline: this.beamline, folder };
  }

  async newProposal(p: Principal, id: unknown): Promise<PolicyState> {
    const prop = await this.writable(p, name(id, 'proposal'));
    await this.ensureSample(p, prop.id, 'sample');
    const dataset = await this.nextDataset(prop.id, 'sample');
    this.policyState = { proposal: prop.id, sample: 'sample', dataset };
    return this.policy();
  }

  async newSample(p: Principal, sampleName: unknown, description?: unknown): Promise<PolicyState> {
    const proposal = this.current('proposal');
    await this.writable(p, proposal);
    const s = name(sampleName, 'sample');
    await this.ensureSample(p, proposal, s, typeof description === 'string' ? description.slice(0, 10_000) : '');
    const dataset = await this.nextDataset(proposal, s);
    this.policyState = { proposal, sample: s, dataset };
    return this.policy();
  }

  /** A new dataset (folder) of the current sample: the name given (refused when used) or the next free number. */
  async newDataset(p: Principal, datasetName?: unknown): Promise<PolicyState> {
    const proposal = this.current('proposal');
    const sample = this.current('sample');
    await this.writable(p, proposal);
    let ds: string;
    if (datasetName === undefined || datasetName === null) ds = await this.nextDataset(proposal, sample);
    else {
      ds = name(datasetName, 'dataset');
      if (await this.used(proposal, sample, ds)) {
        throw err('ParameterError', `dataset: ${ds} already exists for sample ${sample} of proposal ${proposal}; new_dataset() without a name picks the next free one`, 'dataset');
      }
    }
    this.policyState = { proposal, sample, dataset: ds };
    return this.policy();
  }

  /** Back to no policy (BLISS's endproposal): scans keep what their own parameters say. */
  async endProposal(p: Principal): Promise<PolicyState> {
    const proposal = this.policyState.proposal;
    if (proposal) await this.writable(p, proposal);
    this.policyState = { proposal: null, sample: null, dataset: null };
    return this.policy();
  }

  private current(what: 'proposal' | 'sample'): string {
    const v = this.policyState[what];
    if (!v) throw err('StateError', `no ${what} chosen: call new_proposal(...)${what === 'sample' ? ' and new_sample(...)' : ''} first`, what);
    return v;
  }

  /** A dataset name is used when the catalogue has datasets in it or its folder exists (files of an earlier server). */
  private async used(proposal: string, sample: string, ds: string): Promise<boolean> {
    if (await this.repo.collectionUsed(proposal, sample, ds)) return true;
    const folder = join(this.root, proposal, this.beamline, sample, `${sample}_${ds}`);
    try {
      await withDeadline(() => lstat(folder), `checking ${folder}`);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err('StateError', `dataset: cannot check ${folder}: ${(e as Error).message}`, 'dataset');
    }
  }

  /** The next free number (bounded: a sample with MAX_DATASETS datasets needs names). */
  private async nextDataset(proposal: string, sample: string): Promise<string> {
    for (let n = 1; n <= MAX_DATASETS; n++) {
      const ds = String(n).padStart(4, '0');
      if (!(await this.used(proposal, sample, ds))) return ds;
    }
    throw new DaqError('LimitError', `sample ${sample}: ${MAX_DATASETS} numbered datasets already; name the next one`);
  }

  /**
   * acq.prepare under the policy: a scan that names no proposal gets the current proposal, sample
   * and dataset, and saving without a folder goes to the policy's folder. Refused when the caller
   * may not write to the proposal.
   */
  async applyPolicy(p: Principal, params: Record<string, unknown>): Promise<void> {
    const st = this.policy();
    const scan = (params.scan ?? {}) as Record<string, unknown>;
    if (typeof scan !== 'object' || scan === null || Array.isArray(scan)) return; // the schema names the problem
    if (!st.proposal) {
      // the scan's own proposal: its facts at hand for the decisions on its events (best effort: the catalogue may be down)
      if (typeof scan.proposal === 'string') await this.know([scan.proposal]).catch(() => {});
      return;
    }
    if (scan.proposal === undefined || scan.proposal === '') {
      await this.writable(p, st.proposal);
      params.scan = { ...scan, proposal: st.proposal, sample: scan.sample ?? st.sample, dataset: scan.dataset ?? st.dataset };
      const saving = params.saving as Record<string, unknown> | undefined;
      if (saving && typeof saving === 'object' && saving.enabled === true && !saving.base_path && st.folder) params.saving = { ...saving, base_path: st.folder };
    }
  }

  // ------------------------------------------------------------------ capture

  /** A scan closed: queue its dataset (written in order; kept and retried while the database fails). */
  capture(scan: Scan): void {
    if (this.closed) return;
    if (this.pending.length >= MAX_PENDING) {
      this.log('warn', 'catalogue queue full: a scan is not catalogued', { key: scan.key });
      return;
    }
    this.pending.push(scan);
    this.drain();
  }

  /** Resolves when every queued capture was written (or failed and waits for a retry). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  get queued(): number {
    return this.pending.length;
  }

  private drain(): void {
    if (this.draining || this.retry) return;
    this.draining = (async () => {
      while (this.pending.length && !this.closed) {
        const scan = this.pending[0];
        try {
          if ((await this.repo.pidOfScan(scan.key)) === null) {
            const d = await datasetOfScan(scan, { beamline: this.beamline, pidOfScan: (k) => this.repo.pidOfScan(k) });
            if (d.proposal && d.sample) await this.ensureSample({ name: 'automation', operator: true, staffOf: [], proposals: [], automation: true }, d.proposal, d.sample);
            await this.repo.addDataset(d);
            this.log('info', 'dataset catalogued', { pid: d.pid, scan: scan.key, files: d.files.length });
          }
          this.pending.shift();
        } catch (err) {
          this.log('warn', 'catalogue write failed: kept and retried', { key: scan.key, queued: this.pending.length, error: String(err) });
          this.retry = setTimeout(() => {
            this.retry = null;
            this.drain();
          }, RETRY_MS);
          this.retry.unref();
          break;
        }
      }
    })().finally(() => {
      this.draining = null;
    });
  }

  /**
   * May `p` see a scan of the store (lists, reads, subscriptions)? Scans of a proposal the catalogue knows
   * follow its rules; scans of no proposal, or of one never registered, stay visible as before the catalogue
   * (the policy is what ties scans to registered proposals). `cache` spares repeated look-ups in one list.
   * Synchronous, from the facts at hand (`know`): a proposal not read yet is hidden (and read in the background)
   * until its facts arrive — fail closed, never a database round trip here.
   */
  scanVisible(p: Principal, proposal: string, cache = new Map<string, boolean>()): boolean {
    if (p.operator || !proposal) return true;
    let ok = cache.get(proposal);
    if (ok === undefined) {
      const k = this.known.get(proposal);
      if (!k || Date.now() - k.at >= FACTS_TTL_MS) void this.know([proposal]).catch(() => {});
      ok = !!k && (!k.prop || canRead(p, this.facts(k.prop), this.now()));
      cache.set(proposal, ok);
    }
    return ok;
  }

  /**
   * May `p` read the file at `path` (absolute, links resolved)? Files in a proposal's folder follow
   * the proposal's rules (as its scans do); files anywhere else are not the catalogue's to guard.
   */
  pathVisible(p: Principal, path: string): boolean {
    const proposal = this.proposalOfFile(path) ?? this.proposalFolder(path);
    return !proposal || this.scanVisible(p, proposal);
  }

  /** pathVisible, with the facts of the path's proposal read first when not at hand. */
  async canReadPath(p: Principal, path: string): Promise<boolean> {
    const proposal = this.proposalOfFile(path) ?? this.proposalFolder(path);
    if (proposal && !p.operator) await this.know([proposal]);
    return this.pathVisible(p, path);
  }

  /** The proposal whose folder `path` (absolute, links resolved) lies in, or null (access/paths.ts). */
  proposalOfFile(path: string): string | null {
    // callers give resolved paths; the root may be named through a link
    return proposalOfPath(this.root, path) ?? proposalOfPath(this.resolvedRoot(), path);
  }

  /** The proposal whose own folder `path` is (`<root>/<proposal>`), or null. */
  private proposalFolder(path: string): string | null {
    return proposalFolderOf(this.root, path) ?? proposalFolderOf(this.resolvedRoot(), path);
  }

  private resolvedRoot(): string {
    if (this.realRoot === undefined) {
      try {
        this.realRoot = realpathSync(this.root);
      } catch {
        this.realRoot = this.root;
      }
    }
    return this.realRoot;
  }

  /**
   * The access facts of a registered proposal, as at hand (the logbook's ProposalDirectory, logbook/access.ts):
   * synchronous, from the facts `know` keeps; a proposal not read yet is null (refused: fail closed) and read in
   * the background. The logbook's handlers `know` the proposals they decide on before asking.
   */
  proposalFacts(id: string): ProposalFacts | null {
    if (!ID_RE.test(id)) return null;
    const k = this.known.get(id);
    if (!k || Date.now() - k.at >= FACTS_TTL_MS) void this.know([id]).catch(() => {});
    return k?.prop ? this.facts(k.prop) : null;
  }

  /** The ids of the proposals `p` may read, at most MAX_READABLE (what a logbook search is confined to). */
  async readableProposalIds(p: Principal): Promise<string[]> {
    const out: string[] = [];
    const v = this.visibility(p);
    while (out.length < MAX_READABLE) {
      const page = await this.repo.proposals(v, MAX_LIMIT, out.length);
      out.push(...page.map((x) => x.id));
      if (page.length < MAX_LIMIT) break;
    }
    return out;
  }

  async isMember(p: Principal, id: string): Promise<boolean> {
    const prop = await this.factsOf(id);
    return !!prop && isMember(p, this.facts(prop));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.repo.close();
  }
}
