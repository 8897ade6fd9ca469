/** `GET /doi/<doi>`: the landing page a DOI resolves to (public for registered and findable DOIs; drafts need a token that may read them). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalogue } from '../catalogue/service.js';
import { PUBLIC } from '../access/index.js';

export const LANDING_PREFIX = '/doi/';

export async function handleLanding(catalogue: Catalogue, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  let doi: string;
  try {
    doi = decodeURIComponent(url.pathname.slice(LANDING_PREFIX.length));
  } catch {
    doi = '';
  }
  const m = req.headers.authorization?.match(/^(?:bearer|token)\s+(.+)$/i);
  const token = m ? m[1].trim() : url.searchParams.get('access_token');
  // no token is the public, also on a server without a users file (where resolve(null) would be the operator)
  const who = token && catalogue.access.known(token) ? catalogue.access.resolve(token) : PUBLIC;
  let html: string | null = null;
  try {
    html = req.method === 'GET' || req.method === 'HEAD' ? await catalogue.dois.landing(who, doi) : null;
  } catch {
    html = null;
  }
  const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'", 'x-content-type-options': 'nosniff' };
  if (html === null) {
    res.writeHead(404, headers);
    res.end('<!doctype html><title>No such DOI</title><p>No such DOI that you may read.</p>');
    return;
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : html);
}
