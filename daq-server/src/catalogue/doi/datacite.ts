/**
 * DataCite: the metadata record of a DOI (the JSON form of schema kernel-4, as DataCite's REST API takes it)
 * and the client that mints DOIs when an endpoint is configured. DataCite is not reachable from every
 * server (not from the test machines): without `DAQLAB_DATACITE_URL` DOIs stay local to daqlab.
 */
import { err } from '../errors.js';
import type { Dataset, Proposal, PublishedData } from '../types.js';

export const CC_BY_4 = { rights: 'Creative Commons Attribution 4.0 International', rightsUri: 'https://creativecommons.org/licenses/by/4.0/legalcode', rightsIdentifier: 'cc-by-4.0', rightsIdentifierScheme: 'SPDX' };

export interface DataciteConfig {
  /** the REST API, e.g. https://api.test.datacite.org (null: DOIs are not minted, only recorded) */
  url: string | null;
  /** the repository's prefix, e.g. 10.5072 */
  prefix: string;
  user: string | null;
  password: string | null;
  /** where landing pages are seen from outside, e.g. https://daqlab.example.org (DOIs resolve to `<base>/doi/<doi>`) */
  landingBase: string;
}

export function dataciteFromEnv(env: NodeJS.ProcessEnv): DataciteConfig {
  const prefix = env.DAQLAB_DATACITE_PREFIX ?? '10.5072';
  if (!/^10\.\d{4,9}$/.test(prefix)) throw new Error(`DAQLAB_DATACITE_PREFIX: expected a DOI prefix like 10.5072, got ${JSON.stringify(prefix)}`);
  const url = env.DAQLAB_DATACITE_URL ? env.DAQLAB_DATACITE_URL.replace(/\/+$/, '') : null;
  if (url !== null && !/^https?:\/\/[^\s]+$/.test(url)) throw new Error(`DAQLAB_DATACITE_URL: expected http(s)://HOST[/PATH], got ${JSON.stringify(url)}`);
  return { url, prefix, user: env.DAQLAB_DATACITE_USER ?? null, password: env.DAQLAB_DATACITE_PASSWORD ?? null, landingBase: (env.DAQLAB_LANDING_BASE ?? 'http://127.0.0.1:8765').replace(/\/+$/, '') };
}

export const landingUrl = (cfg: DataciteConfig, doi: string): string => `${cfg.landingBase}/doi/${doi}`;

/** A person's name as DataCite wants it ("Family, Given" when we can tell). */
function creator(name: string): Record<string, unknown> {
  const parts = name.trim().split(/\s+/);
  if (parts.length >= 2) return { name: `${parts[parts.length - 1]}, ${parts.slice(0, -1).join(' ')}`, nameType: 'Personal', givenName: parts.slice(0, -1).join(' '), familyName: parts[parts.length - 1] };
  return { name, nameType: 'Personal' };
}

/** The DataCite record of a DOI: what DataCite stores, and what the landing page shows. */
export function dataciteRecord(p: PublishedData, proposal: Proposal, datasets: Dataset[], cfg: DataciteConfig): Record<string, unknown> {
  const size = datasets.reduce((n, d) => n + d.size, 0);
  const files = datasets.reduce((n, d) => n + d.files.length, 0);
  return {
    doi: p.doi,
    prefix: p.doi.split('/')[0],
    suffix: p.doi.split('/').slice(1).join('/'),
    url: landingUrl(cfg, p.doi),
    types: { resourceTypeGeneral: 'Dataset', resourceType: p.kind === 'session' ? 'Experimental session' : 'Raw data' },
    creators: p.creators.map(creator),
    titles: [{ title: p.title }],
    publisher: { name: p.publisher },
    publicationYear: String(p.year),
    subjects: [{ subject: `beamline ${proposal.beamline}` }],
    dates: [
      { date: proposal.start.slice(0, 10) + '/' + proposal.end.slice(0, 10), dateType: 'Collected' },
      { date: proposal.releaseDate.slice(0, 10), dateType: 'Available' },
    ],
    alternateIdentifiers: [{ alternateIdentifier: proposal.id, alternateIdentifierType: 'proposal' }],
    sizes: [`${files} files`, `${size} bytes`],
    formats: ['application/x-hdf5'],
    rightsList: [CC_BY_4],
    descriptions: p.abstract ? [{ description: p.abstract, descriptionType: 'Abstract' }] : [],
    schemaVersion: 'http://datacite.org/schema/kernel-4',
  };
}

/** The request DataCite's REST API takes for a state change (JSON:API; `event` moves draft → registered → findable). */
export function mintRequest(cfg: DataciteConfig, record: Record<string, unknown>, state: PublishedData['status'], exists: boolean): { method: 'POST' | 'PUT'; url: string; headers: Record<string, string>; body: string } {
  if (!cfg.url) throw new Error('no DataCite endpoint');
  const event = state === 'registered' ? 'register' : state === 'findable' ? 'publish' : undefined;
  const headers: Record<string, string> = { 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' };
  if (cfg.user) headers.authorization = `Basic ${Buffer.from(`${cfg.user}:${cfg.password ?? ''}`).toString('base64')}`;
  const attributes = event ? { ...record, event } : record;
  const doi = String(record.doi);
  return exists
    ? { method: 'PUT', url: `${cfg.url}/dois/${encodeURIComponent(doi).replace('%2F', '/')}`, headers, body: JSON.stringify({ data: { id: doi, type: 'dois', attributes } }) }
    : { method: 'POST', url: `${cfg.url}/dois`, headers, body: JSON.stringify({ data: { type: 'dois', attributes } }) };
}

const MINT_TIMEOUT_MS = 15_000;

/** Send a state change to DataCite; a refusal or no answer is an error naming DataCite and its reason. */
export async function mint(cfg: DataciteConfig, record: Record<string, unknown>, state: PublishedData['status'], exists: boolean): Promise<void> {
  const req = mintRequest(cfg, record, state, exists);
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(MINT_TIMEOUT_MS) });
  } catch (e) {
    throw err('StateError', `DataCite (${cfg.url}) did not answer: ${(e as Error).message}; the DOI stays ${exists ? 'as it was' : 'unminted'}`, 'doi');
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).slice(0, 500);
    throw err('StateError', `DataCite (${cfg.url}) refused ${req.method} ${state}: HTTP ${res.status} ${text}`, 'doi');
  }
  await res.body?.cancel().catch(() => {});
}
