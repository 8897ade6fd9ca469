/**
 * `GET /access/path?path=ABS`: may the caller read this file? The one decision (catalogue
 * `pathVisible`) asked by whoever serves files outside this server — the Jupyter server extension's
 * HDF5 endpoints, for the user Jupyter authenticated (forwarded with the shared secret,
 * access/forwarded.ts), or any client for itself (its token). The answer says yes or no and nothing
 * about whether the file or its proposal exists.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute } from 'node:path';
import { forwardedPrincipal, OPERATOR, type Principal } from '../access/index.js';
import { DaqError, toErrorBody } from '../protocol/index.js';
import type { DaqService } from '../service.js';

export const ACCESS_PATH = '/access/path';
const MAX_PATH = 4096;

export interface AccessHttpContext {
  service: DaqService;
  /** the shared secret of the Jupyter server extension (null: users are not forwarded here) */
  jupyterSecret: string | null;
  /** does the request carry an accepted connection token (or need none)? */
  authorized: (req: IncomingMessage) => boolean;
  tokenOf: (req: IncomingMessage) => string | null;
}

const STATUS: Record<string, number> = { ParameterError: 400, AuthError: 401, TimeoutError: 503 };

export async function handleAccessPath(ctx: AccessHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let status = 200;
  let body: unknown;
  try {
    if (req.method !== 'GET') throw new DaqError('ParameterError', `method ${req.method}: ${ACCESS_PATH} answers GET only`);
    const catalogue = ctx.service.catalogue;
    let who: Principal | null = forwardedPrincipal(catalogue?.access ?? NO_USERS, ctx.jupyterSecret, req.headers);
    if (!who) {
      if (!ctx.authorized(req)) throw new DaqError('AuthError', 'missing or wrong token');
      who = catalogue ? catalogue.access.resolve(ctx.tokenOf(req)) : OPERATOR;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').searchParams.get('path');
    if (path === null || path.length === 0 || path.length > MAX_PATH || path.includes('\0') || !isAbsolute(path)) {
      throw new DaqError('ParameterError', `path: an absolute file path (at most ${MAX_PATH} characters) is required`, [{ field: 'path', message: 'an absolute file path' }]);
    }
    body = { readable: !catalogue || (await catalogue.canReadPath(who, path)), user: who.name };
  } catch (err) {
    const e = toErrorBody(err);
    status = STATUS[e.type] ?? 500;
    body = { error: e };
  }
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Without a catalogue there is no users model to look a name up in: everyone reads everything. */
const NO_USERS = { byName: () => OPERATOR } as unknown as Parameters<typeof forwardedPrincipal>[0];
