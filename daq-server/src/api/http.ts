/** HTTP endpoints beside the WebSocket: health (no token), status, schema, OpenAPI (token). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DaqError, toErrorBody } from '../protocol/index.js';
import type { DaqService } from '../service.js';
import { VERSION } from '../version.js';
import { openapi } from './openapi.js';
import { handleIcatPlus } from './icatplus/routes.js';

export interface HttpContext {
  service: DaqService;
  clients: () => { session: number; remote: string; subscriptions: number }[];
  authorized: (req: IncomingMessage) => boolean;
  /** whether a token (one that travels in a path, as ICAT+'s apiKey) is accepted */
  accepted: (token: string | null) => boolean;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

const STATUS: Record<string, number> = { NotFoundError: 404, ParameterError: 400, AuthError: 401 };

export function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  // ICAT+'s data-acquisition endpoints (POST, the token in the path): api/icatplus/
  if (url.pathname.startsWith('/icatplus/')) return void handleIcatPlus(ctx, req, res, url);
  try {
    if (req.method !== 'GET') throw new DaqError('ProtocolError', `method ${req.method} not allowed; the HTTP endpoints are read-only`);
    if (url.pathname === '/health') return send(res, 200, { ok: true });
    if (!ctx.authorized(req)) throw new DaqError('AuthError', 'missing or wrong token');
    if (url.pathname === '/openapi.json') return send(res, 200, openapi());
    const { service } = ctx;
    switch (url.pathname) {
      case '/status':
        return send(res, 200, {
          server: 'daqlab',
          version: VERSION,
          uptime: (Date.now() - service.started) / 1000,
          detectors: [...service.controllers.values()].map((c) => c.describeState()),
          store: {
            bytes: service.store.bytes,
            memory_budget: service.store.memoryBudget,
            scans: service.store.lastSeq,
            last: service.store.last()?.key ?? null,
          },
          clients: ctx.clients(),
          // a control server's receiver hosts (--role control); absent on other servers
          ...(service.receivers ? { receivers: service.receivers.list() } : {}),
        });
      case '/schema': {
        const name = url.searchParams.get('detector');
        if (name !== null) return send(res, 200, service.detector(name).schema);
        return send(res, 200, Object.fromEntries([...service.controllers].map(([n, c]) => [n, c.schema])));
      }
      default:
        throw new DaqError('NotFoundError', `no endpoint ${url.pathname}; see /openapi.json`);
    }
  } catch (err) {
    const body = toErrorBody(err);
    send(res, STATUS[body.type] ?? (body.type === 'ProtocolError' ? 405 : 500), { error: body });
  }
}
