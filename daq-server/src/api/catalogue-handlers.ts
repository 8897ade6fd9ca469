/** Handlers of the `catalogue.*` and `policy.*` operations: field extraction here, the rest in catalogue/service.ts. */
import { DaqError, type Request } from '../protocol/index.js';
import type { Catalogue } from '../catalogue/service.js';
import type { Principal } from '../access/index.js';
import { int, str } from './params.js';
import type { Session } from './session.js';
import { log } from '../log.js';
import { err } from '../catalogue/errors.js';

type CatalogueOp =
  | 'catalogue.datasets' | 'catalogue.dataset' | 'catalogue.proposals' | 'catalogue.proposal' | 'catalogue.put_proposal'
  | 'catalogue.set_release' | 'catalogue.samples' | 'catalogue.whoami'
  | 'catalogue.doi_draft' | 'catalogue.doi_advance' | 'catalogue.doi' | 'catalogue.dois'
  | 'policy.get' | 'policy.new_proposal' | 'policy.new_sample' | 'policy.new_dataset' | 'policy.end_proposal';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

function cat(s: Session): { c: Catalogue; who: Principal } {
  const c = s.service.catalogue;
  if (!c) throw new DaqError('StateError', 'this server has no catalogue (started with --catalogue off, or without a state folder)');
  return { c, who: s.principal() };
}

const optStr = (r: Request, field: string): string | undefined => (str(r, field, null) ?? undefined) as string | undefined;

export const CATALOGUE_HANDLERS: Record<CatalogueOp, Handler> = {
  'catalogue.datasets': (s, r) => {
    const { c, who } = cat(s);
    const type = optStr(r, 'type');
    if (type !== undefined && type !== 'raw' && type !== 'derived') throw err('ParameterError', 'type: expected raw or derived', 'type');
    return c.datasets(who, {
      proposal: optStr(r, 'proposal'),
      sample: optStr(r, 'sample'),
      text: optStr(r, 'text')?.slice(0, 500),
      collection: optStr(r, 'dataset'),
      type,
      limit: int(r, 'limit', 100, 0) as number,
      skip: int(r, 'skip', 0, 0) as number,
    });
  },
  'catalogue.dataset': (s, r) => {
    const { c, who } = cat(s);
    return c.dataset(who, str(r, 'pid'));
  },
  'catalogue.proposals': async (s, r) => {
    const { c, who } = cat(s);
    return { proposals: await c.proposals(who, int(r, 'limit', 100, 0) as number, int(r, 'skip', 0, 0) as number) };
  },
  'catalogue.proposal': (s, r) => {
    const { c, who } = cat(s);
    return c.proposal(who, str(r, 'proposal'));
  },
  'catalogue.put_proposal': (s, r) => {
    const { c, who } = cat(s);
    const { id: _id, op: _op, ...fields } = r as Record<string, unknown>;
    return c.putProposal(who, fields);
  },
  'catalogue.set_release': async (s, r) => {
    const { c, who } = cat(s);
    const before = (await c.repo.proposal(str(r, 'proposal')))?.releaseDate;
    const updated = await c.setRelease(who, str(r, 'proposal'), r.release_date);
    // embargo changes are news of the proposal's logbook (written by daqlab, as its other notifications)
    try {
      s.service.logbook?.add(
        { type: 'notification', category: 'info', tags: ['embargo'], proposal: updated.id, software: 'daqlab',
          content: `Release date of ${updated.id} changed by ${who.name}: ${before?.slice(0, 10) ?? '?'} → ${updated.releaseDate.slice(0, 10)}.` },
        'daqlab',
      );
    } catch (err) {
      log('warn', 'logbook: the embargo change could not be written', { proposal: updated.id, error: String(err) });
    }
    return updated;
  },
  'catalogue.samples': async (s, r) => {
    const { c, who } = cat(s);
    return { samples: await c.samples(who, str(r, 'proposal', null), int(r, 'limit', 100, 0) as number, int(r, 'skip', 0, 0) as number) };
  },
  'catalogue.whoami': (s) => {
    const { c, who } = cat(s);
    return { ...who, beamline: c.beamline, now: c.now().toISOString() };
  },
  'catalogue.doi_draft': (s, r) => {
    const { c, who } = cat(s);
    return c.dois.draft(who, { datasets: r.datasets, proposal: r.proposal, title: r.title, abstract: r.abstract, creators: r.creators });
  },
  'catalogue.doi_advance': (s, r) => {
    const { c, who } = cat(s);
    return c.dois.advance(who, str(r, 'doi'), str(r, 'state'));
  },
  'catalogue.doi': async (s, r) => {
    const { c, who } = cat(s);
    const pub = await c.dois.get(who, str(r, 'doi'));
    return { ...pub, datacite: await c.dois.record(pub), landing_page: `${c.dois.cfg.landingBase}/doi/${pub.doi}` };
  },
  'catalogue.dois': async (s, r) => {
    const { c, who } = cat(s);
    return { dois: await c.dois.list(who, int(r, 'limit', 100, 0) as number, int(r, 'skip', 0, 0) as number) };
  },
  'policy.get': (s) => cat(s).c.policy(),
  'policy.new_proposal': (s, r) => {
    const { c, who } = cat(s);
    return c.newProposal(who, r.proposal);
  },
  'policy.new_sample': (s, r) => {
    const { c, who } = cat(s);
    return c.newSample(who, r.sample, r.description);
  },
  'policy.new_dataset': (s, r) => {
    const { c, who } = cat(s);
    return c.newDataset(who, r.dataset ?? null);
  },
  'policy.end_proposal': (s) => {
    const { c, who } = cat(s);
    return c.endProposal(who);
  },
};
