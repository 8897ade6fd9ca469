/**
 * DOIs for datasets and for a proposal's whole session: a draft, then registered, then findable (DataCite's
 * states, only forwards). Members draft; the principal investigator or staff register and make findable.
 * With a DataCite endpoint each step is first sent to DataCite and recorded only once it accepted.
 */
import { randomBytes } from 'node:crypto';
import { canAdminister, canRead, type Principal } from '../../access/index.js';
import { err } from '../errors.js';
import type { Catalogue } from '../service.js';
import { DOI_STATES, type Dataset, type DoiState, type Proposal, type PublishedData } from '../types.js';
import { dataciteRecord, mint, type DataciteConfig } from './datacite.js';
import { landingPage } from './landing.js';

const MAX_DATASETS_PER_DOI = 1000;
const DOI_RE = /^10\.\d{4,9}\/[A-Za-z0-9._-]{1,100}$/;

export interface DoiRequest {
  /** the datasets it cites; or none and `proposal`: the whole session */
  datasets?: unknown;
  proposal?: unknown;
  title?: unknown;
  abstract?: unknown;
  creators?: unknown;
}

function text(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw err('ParameterError', `${field}: expected text (at most ${max} characters)`, field);
  return v;
}

export class Dois {
  constructor(private readonly cat: Catalogue, readonly cfg: DataciteConfig) {}

  private released(prop: Proposal): boolean {
    return new Date(prop.releaseDate) <= this.cat.now();
  }

  /** Draft a DOI for datasets of one proposal, or for a proposal's session. */
  async draft(p: Principal, req: DoiRequest): Promise<PublishedData> {
    let datasets: Dataset[];
    let proposal: Proposal;
    if (req.datasets !== undefined && req.datasets !== null) {
      if (!Array.isArray(req.datasets) || req.datasets.length === 0 || req.datasets.length > MAX_DATASETS_PER_DOI) {
        throw err('ParameterError', `datasets: expected a list of 1 to ${MAX_DATASETS_PER_DOI} dataset pids`, 'datasets');
      }
      datasets = await Promise.all(req.datasets.map((pid) => this.cat.dataset(p, pid)));
      const props = new Set(datasets.map((d) => d.proposal));
      if (props.size !== 1) throw err('ParameterError', 'datasets: a DOI cites datasets of one proposal', 'datasets');
      proposal = await this.cat.proposal(p, [...props][0]);
    } else {
      proposal = await this.cat.proposal(p, req.proposal);
      datasets = (await this.cat.datasets(p, { proposal: proposal.id, limit: MAX_DATASETS_PER_DOI, skip: 0, order: 'created' })).datasets;
      if (!datasets.length) throw err('StateError', `proposal ${proposal.id}: no datasets to cite yet`, 'proposal');
    }
    await this.cat.requireWrite(p, proposal.id);
    const creators = req.creators === undefined || req.creators === null ? proposal.team.filter((m) => m.role !== 'local-contact').map((m) => m.user) : req.creators;
    if (!Array.isArray(creators) || creators.length > 100 || creators.some((c) => typeof c !== 'string' || !c.trim() || c.length > 200)) {
      throw err('ParameterError', 'creators: expected a list (at most 100) of names', 'creators');
    }
    const now = this.cat.now();
    const kind = req.datasets === undefined || req.datasets === null ? 'session' : 'dataset';
    const pub: PublishedData = {
      doi: `${this.cfg.prefix}/daqlab.${proposal.id.toLowerCase()}.${randomBytes(4).toString('hex')}`,
      title: text(req.title, 'title', 1000) ?? (kind === 'session' ? proposal.title : `${proposal.title}: ${datasets.map((d) => d.name).join(', ').slice(0, 500)}`),
      abstract: text(req.abstract, 'abstract', 10_000) ?? proposal.abstract,
      creators: creators.length ? (creators as string[]) : [p.name],
      publisher: `daqlab, beamline ${proposal.beamline}`,
      year: now.getUTCFullYear(),
      datasets: datasets.map((d) => d.pid),
      status: 'draft',
      created: now.toISOString(),
      proposal: proposal.id,
      kind,
      updated: now.toISOString(),
    };
    if (this.cfg.url) await mint(this.cfg, this.recordOf(pub, proposal, datasets), 'draft', false);
    await this.cat.repo.putPublished(pub);
    return pub;
  }

  /** Move a DOI on (draft → registered → findable): its proposal's PI, staff of its beamline, the operator. */
  async advance(p: Principal, doi: unknown, state: unknown): Promise<PublishedData> {
    if (!DOI_STATES.includes(state as DoiState) || state === 'draft') throw err('ParameterError', 'state: expected registered or findable', 'state');
    const pub = await this.get(p, doi);
    const proposal = await this.cat.proposal(p, pub.proposal);
    const pi = proposal.team.some((m) => m.user === p.name && m.role === 'principal-investigator');
    if (!pi && !canAdminister(p, proposal.beamline)) throw err('AuthError', `doi ${pub.doi}: only the principal investigator of ${proposal.id} or staff may register it`, 'doi');
    const from = DOI_STATES.indexOf(pub.status);
    const to = DOI_STATES.indexOf(state as DoiState);
    if (to <= from) throw err('StateError', `doi ${pub.doi}: is ${pub.status}; a DOI only moves draft → registered → findable`, 'state');
    const next: PublishedData = { ...pub, status: state as DoiState, updated: this.cat.now().toISOString() };
    if (this.cfg.url) await mint(this.cfg, await this.record(next), next.status, true);
    await this.cat.repo.putPublished(next);
    return next;
  }

  /** A DOI its reader may see: drafts to whoever may read its proposal; registered and findable ones to everyone. */
  async get(p: Principal, doi: unknown): Promise<PublishedData> {
    const pub = typeof doi === 'string' && DOI_RE.test(doi) ? await this.cat.repo.publishedByDoi(doi) : null;
    if (!pub || (pub.status === 'draft' && !(await this.readable(p, pub)))) throw err('NotFoundError', `doi ${JSON.stringify(doi)}: no such DOI that ${p.name} may read`, 'doi');
    return pub;
  }

  list(p: Principal, limit = 100, skip = 0): Promise<PublishedData[]> {
    return this.cat.repo.published(this.cat.visibility(p), limit, skip);
  }

  private async readable(p: Principal, pub: PublishedData): Promise<boolean> {
    const prop = await this.cat.repo.proposal(pub.proposal);
    return !!prop && canRead(p, { id: prop.id, beamline: prop.beamline, team: prop.team.map((m) => m.user), releaseDate: new Date(prop.releaseDate) }, this.cat.now());
  }

  /** Its datasets as the catalogue holds them (a DOI cites them whatever the reader may otherwise see). */
  private async parts(pub: PublishedData): Promise<{ proposal: Proposal; datasets: Dataset[] }> {
    const proposal = await this.cat.repo.proposal(pub.proposal);
    if (!proposal) throw err('NotFoundError', `doi ${pub.doi}: its proposal ${pub.proposal} is gone`, 'doi');
    const all = { all: true, proposals: [], user: null, beamlines: [], now: this.cat.now().toISOString() };
    const datasets = await Promise.all(pub.datasets.map((pid) => this.cat.repo.dataset(pid, all)));
    return { proposal, datasets: datasets.filter((d): d is Dataset => d !== null) };
  }

  private recordOf(pub: PublishedData, proposal: Proposal, datasets: Dataset[]): Record<string, unknown> {
    return dataciteRecord(pub, proposal, datasets, this.cfg);
  }

  /** The DataCite record of a DOI (as DataCite holds or would hold it). */
  async record(pub: PublishedData): Promise<Record<string, unknown>> {
    const { proposal, datasets } = await this.parts(pub);
    return this.recordOf(pub, proposal, datasets);
  }

  /** The landing page's HTML (null: no DOI the reader may see). Files and the licence show once the proposal is released. */
  async landing(p: Principal, doi: string): Promise<string | null> {
    let pub: PublishedData;
    try {
      pub = await this.get(p, doi);
    } catch {
      return null;
    }
    const { proposal, datasets } = await this.parts(pub);
    return landingPage(pub, proposal, datasets, this.released(proposal));
  }
}
