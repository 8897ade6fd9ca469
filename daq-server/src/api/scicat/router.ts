/**
 * A SciCat-compatible subset at /scicat/api/v3/ (what pyscicat and scitacean call), a thin adapter
 * over catalogue/: auth/login, Datasets (filter, fullquery, one, origdatablocks), OrigDatablocks,
 * Proposals, Samples, Instruments, PublishedData; writes: POST Datasets, Datasets/{pid}/origdatablocks
 * and Samples (catalogue/external.ts: the writer must be allowed to write to the proposal).
 * Paths are case-insensitive (pyscicat writes `Datasets`, scicat-sdk-py `datasets`); the token comes
 * as `Authorization: Bearer T` or `?access_token=T`. Refusals never say whether something exists.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DaqError, toErrorBody } from '../../protocol/index.js';
import type { Catalogue } from '../../catalogue/service.js';
import type { Principal } from '../../access/index.js';
import { datasetFilter, fullquery, parseJsonParam } from './filter.js';
import { scicatDataset, scicatOrigDatablock, scicatProposal, scicatPublished, scicatSample } from './model.js';
import { err } from '../../catalogue/errors.js';
import { addOrigDatablock, createDataset, createSample } from '../../catalogue/external.js';

function decodeSegment(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw err('ParameterError', `path: malformed percent-encoding in ${JSON.stringify(p.slice(0, 100))}`, 'path');
  }
}

export const SCICAT_PREFIX = '/scicat/api/v3/';
/** scitacean (≥ 25) speaks v4; the documents below carry the fields both read */
export const SCICAT_PREFIXES = [SCICAT_PREFIX, '/scicat/api/v4/'];
/** a request body: an origdatablock of some thousands of files fits */
const MAX_BODY = 2 * 1024 * 1024;

const STATUS: Record<string, number> = { NotFoundError: 404, ParameterError: 400, AuthError: 401, StateError: 409, LimitError: 413, TimeoutError: 503 };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function tokenOf(req: IncomingMessage, url: URL): string | null {
  const m = req.headers.authorization?.match(/^(?:bearer|token)\s+(.+)$/i);
  if (m) return m[1].trim();
  return url.searchParams.get('access_token') || null;
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      // beyond the limit the rest is read and dropped, so that the client gets the 413
      if (n > MAX_BODY) {
        chunks.length = 0;
        reject(new DaqError('LimitError', `body: larger than ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (n > MAX_BODY) return;
      try {
        resolve(parseJsonParam(Buffer.concat(chunks).toString('utf8') || '{}', 'body'));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

export interface ScicatContext {
  catalogue: Catalogue;
  /** may a request without a known token read public data? (loopback without --token) */
  anonymousAllowed: boolean;
}

export async function handleScicat(ctx: ScicatContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const { catalogue } = ctx;
  try {
    // fixed segments compare case-insensitively; ids keep their case (decoded once)
    let parts = url.pathname.slice(SCICAT_PREFIX.length).split('/').filter(Boolean).map(decodeSegment);
    // v4's anonymous reads (`datasets/public/{pid}`) are the same reads by the public
    if (parts.length >= 2 && parts[0].toLowerCase() === 'datasets' && parts[1].toLowerCase() === 'public') parts = [parts[0], ...parts.slice(2)];
    const seg = parts.map((p) => p.toLowerCase());
    const method = req.method ?? 'GET';
    if (method === 'POST' && seg.join('/') === 'auth/login') {
      const body = await readBody(req);
      const user = typeof body.username === 'string' ? body.username : null;
      const password = typeof body.password === 'string' ? body.password : null;
      if (!user || !password) throw err('ParameterError', 'body: expected {"username": ..., "password": ...}', 'username');
      const login = catalogue.access.login(user, password);
      if (!login) throw new DaqError('AuthError', 'wrong user name or password');
      return send(res, 201, { id: login.token, access_token: login.token, ttl: login.ttlSeconds, created: catalogue.now().toISOString(), userId: user, user: { username: user } });
    }
    const token = tokenOf(req, url);
    if (token !== null && !catalogue.access.known(token)) throw new DaqError('AuthError', 'unknown or expired token');
    if (token === null && !ctx.anonymousAllowed) throw new DaqError('AuthError', 'a token is required (Authorization: Bearer T or ?access_token=T)');
    const who: Principal = catalogue.access.resolve(token);
    /** which of these proposals are released (each read once) */
    const releasedOf = async (proposals: string[]): Promise<(proposal: string) => boolean> => {
      const ids = [...new Set(proposals.filter(Boolean))];
      const props = await Promise.all(ids.map((id) => catalogue.repo.proposal(id)));
      const released = new Set(props.filter((p) => p && new Date(p.releaseDate) <= catalogue.now()).map((p) => p!.id));
      return (proposal) => released.has(proposal);
    };
    if (method === 'POST') {
      // writes need a known token: the public writes nothing
      if (token === null) throw new DaqError('AuthError', 'writing needs a token (Authorization: Bearer T or ?access_token=T)');
      const path = seg.join('/');
      if (path === 'datasets' || path === 'rawdatasets' || path === 'deriveddatasets') {
        const body = await readBody(req);
        if (path !== 'datasets' && body.type === undefined) body.type = path === 'rawdatasets' ? 'raw' : 'derived';
        const d = await createDataset(catalogue, who, body);
        const released = await releasedOf([d.proposal]);
        return send(res, 201, scicatDataset(d, released(d.proposal)));
      }
      if (seg.length === 3 && seg[0] === 'datasets' && seg[2] === 'origdatablocks') {
        const d = await addOrigDatablock(catalogue, who, parts[1], await readBody(req));
        return send(res, 201, scicatOrigDatablock(d));
      }
      if (path === 'datasets/isvalid') {
        // v4 (scitacean asks before uploading files): the same checks, nothing stored
        try {
          await createDataset(catalogue, who, await readBody(req), true);
          return send(res, 200, { valid: true });
        } catch (e) {
          if (!(e instanceof DaqError) || e.type !== 'ParameterError') throw e;
          return send(res, 200, { valid: false, reason: e.message });
        }
      }
      if (path === 'origdatablocks') {
        // v4: the dataset is named in the body
        const body = await readBody(req);
        const pid = body.datasetId;
        if (typeof pid !== 'string') throw err('ParameterError', 'datasetId: required (the pid of the dataset the files belong to)', 'datasetId');
        return send(res, 201, scicatOrigDatablock(await addOrigDatablock(catalogue, who, pid, body)));
      }
      if (path === 'samples') return send(res, 201, scicatSample(await createSample(catalogue, who, await readBody(req))));
      throw new DaqError('ProtocolError', `POST ${url.pathname}: daqlab's SciCat endpoints write Datasets, Datasets/{pid}/origdatablocks and Samples only`);
    }
    if (method !== 'GET') throw new DaqError('ProtocolError', `${method}: daqlab's SciCat endpoints read, and write datasets, their files and samples (POST) only`);
    const ds = async (q: Parameters<Catalogue['datasets']>[1]): Promise<unknown[]> => {
      const { datasets } = await catalogue.datasets(who, q);
      const released = await releasedOf(datasets.map((d) => d.proposal));
      return datasets.map((d) => scicatDataset(d, released(d.proposal)));
    };
    switch (seg[0]) {
      case 'datasets': {
        if (seg.length === 1) return send(res, 200, await ds(datasetFilter(url.searchParams.get('filter'))));
        if (seg.length === 2 && seg[1] === 'fullquery') return send(res, 200, await ds(fullquery(url.searchParams.get('fields'), url.searchParams.get('limits'))));
        if (seg.length === 2 && seg[1] === 'count') return send(res, 200, { count: (await catalogue.datasets(who, { ...datasetFilter(url.searchParams.get('filter')), limit: 0 })).total });
        const d = await catalogue.dataset(who, parts[1]);
        const released = await releasedOf([d.proposal]);
        if (seg.length === 2) {
          // v4: related documents embedded on request (`?include=origdatablocks&include=attachments`)
          const include = new Set(url.searchParams.getAll('include').flatMap((v) => v.toLowerCase().split(',')));
          return send(res, 200, {
            ...scicatDataset(d, released(d.proposal)),
            ...(include.has('origdatablocks') ? { origdatablocks: [scicatOrigDatablock(d)] } : {}),
            ...(include.has('attachments') ? { attachments: [] } : {}),
          });
        }
        if (seg.length === 3 && seg[2] === 'origdatablocks') return send(res, 200, [scicatOrigDatablock(d)]);
        break;
      }
      case 'origdatablocks': {
        if (seg.length === 1) return send(res, 200, (await catalogue.datasets(who, datasetFilter(url.searchParams.get('filter')))).datasets.map(scicatOrigDatablock));
        const pid = parts[1].replace(/-files$/, '');
        if (seg.length === 2) return send(res, 200, scicatOrigDatablock(await catalogue.dataset(who, pid)));
        break;
      }
      case 'proposals': {
        if (seg.length === 1) {
          const f = parseJsonParam(url.searchParams.get('filter'), 'filter');
          const where = (f.where ?? {}) as Record<string, unknown>;
          for (const k of Object.keys(where)) if (k !== 'proposalId') throw err('ParameterError', `filter.where.${k}: daqlab filters proposals on proposalId only`, `filter.where.${k}`);
          if (typeof where.proposalId === 'string') return send(res, 200, [scicatProposal(await catalogue.proposal(who, where.proposalId))]);
          return send(res, 200, (await catalogue.proposals(who, 1000, 0)).map(scicatProposal));
        }
        if (seg.length === 2) return send(res, 200, scicatProposal(await catalogue.proposal(who, parts[1])));
        break;
      }
      case 'samples': {
        if (seg.length === 1) {
          const f = parseJsonParam(url.searchParams.get('filter'), 'filter');
          const where = (f.where ?? {}) as Record<string, unknown>;
          for (const k of Object.keys(where)) if (!['ownerGroup', 'proposalId', 'sampleId'].includes(k)) throw err('ParameterError', `filter.where.${k}: daqlab filters samples on ownerGroup, proposalId, sampleId`, `filter.where.${k}`);
          const proposal = (where.ownerGroup ?? where.proposalId ?? null) as string | null;
          const list = (await catalogue.samples(who, typeof proposal === 'string' ? proposal : null, 1000, 0)).filter((s) => where.sampleId === undefined || s.pid === where.sampleId);
          return send(res, 200, list.map(scicatSample));
        }
        if (seg.length === 2) {
          const s = await catalogue.repo.sampleByPid(parts[1]);
          // readable when its proposal is: the same refusal either way
          if (s) await catalogue.proposal(who, s.proposal);
          if (!s) throw new DaqError('NotFoundError', `sample ${JSON.stringify(parts[1])}: no such sample that ${who.name} may read`);
          return send(res, 200, scicatSample(s));
        }
        break;
      }
      case 'instruments':
        if (seg.length === 1) return send(res, 200, (await catalogue.repo.instruments()).map((i) => ({ pid: i.name, uniqueName: i.name, name: i.title })));
        break;
      case 'publisheddata': {
        if (seg.length === 1) return send(res, 200, (await catalogue.repo.published(catalogue.visibility(who), 1000, 0)).map((x) => scicatPublished(x, catalogue.dois.cfg.landingBase)));
        const p = (await catalogue.repo.published(catalogue.visibility(who), 1000, 0)).find((x) => x.doi === parts.slice(1).join('/'));
        if (!p) throw new DaqError('NotFoundError', `no published data ${JSON.stringify(parts.slice(1).join('/'))} that ${who.name} may read`);
        return send(res, 200, scicatPublished(p, catalogue.dois.cfg.landingBase));
      }
      default:
    }
    throw new DaqError('NotFoundError', `no SciCat endpoint ${url.pathname}; daqlab serves auth/login, Datasets, OrigDatablocks, Proposals, Samples, Instruments, PublishedData`);
  } catch (err) {
    const body = toErrorBody(err);
    const status = STATUS[body.type] ?? (body.type === 'ProtocolError' ? 405 : 500);
    send(res, status, { statusCode: status, error: body.type, message: body.message, ...(body.fields ? { fields: body.fields } : {}) });
  }
}
