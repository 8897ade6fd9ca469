/**
 * The network face of the service: one HTTP server carrying the WebSocket
 * endpoint /ws and the HTTP endpoints. Binds to loopback unless told
 * otherwise, and refuses to listen elsewhere without a token.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { CLOSE_UNRESPONSIVE, HEARTBEAT_INTERVAL_MS, HEARTBEAT_MISSES, MAX_REQUEST_BYTES } from '../protocol/index.js';
import type { DaqService } from '../service.js';
import { handleHttp } from './http.js';
import { Session } from './session.js';
import { requestProblem } from './origin.js';
import { log } from '../log.js';
import { forwardedUser, MIN_SECRET } from '../access/index.js';
import { ACCESS_PATH, handleAccessPath } from './access-http.js';
import { SCICAT_PREFIXES, handleScicat } from './scicat/router.js';
import { LANDING_PREFIX, handleLanding } from './landing.js';

export interface ListenOptions {
  host: string;
  port: number;
  token: string | null;
  /** further tokens to accept (the jobs service's users file) */
  acceptToken?: (token: string) => boolean;
  /** browser origins allowed besides loopback ones (config --allow-origin) */
  allowOrigins?: string[];
  /** the unix user a token stands for (the --users file), recorded as who prepared an acquisition */
  userOf?: (token: string) => string | null;
  /** the Jupyter server extension's shared secret: it may assert users on /access/path (access/forwarded.ts) */
  jupyterSecret?: string | null;
  /** how often clients are pinged (ms; default HEARTBEAT_INTERVAL_MS) */
  heartbeatMs?: number;
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The token a request carries: the `Authorization: token T` (or `Bearer T`) header, else the
 * `?token=` query (browsers cannot set headers on a WebSocket; queries end up in proxies' logs).
 */
function tokenOf(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  const m = auth?.match(/^(?:token|bearer)\s+(.+)$/i);
  if (m) return m[1].trim();
  const url = new URL(req.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') || null;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface RunningServer {
  http: Server;
  url: string;
  sessions: Set<Session>;
  close(): Promise<void>;
}

export async function listen(service: DaqService, options: ListenOptions): Promise<RunningServer> {
  if (!isLoopback(options.host) && !options.token && !options.acceptToken) {
    throw new Error(
      `refusing to listen on ${options.host} without a token: anyone on the network could drive the detector. Pass --token (or bind 127.0.0.1).`,
    );
  }
  if (options.jupyterSecret != null && options.jupyterSecret.length < MIN_SECRET) {
    throw new Error(`$DAQLAB_JUPYTER_SECRET: at least ${MIN_SECRET} characters`);
  }
  const accepted = (given: string | null): boolean => {
    if (given !== null && options.acceptToken?.(given)) return true;
    if (!options.token) return isLoopback(options.host);
    return given !== null && same(given, options.token);
  };
  const authorized = (req: IncomingMessage): boolean => accepted(tokenOf(req));
  const checked = { bound: options.host, allowOrigins: options.allowOrigins ?? [] };
  const sessions = new Set<Session>();
  const http = createServer((req, res) => {
    const problem = requestProblem(req, checked);
    if (problem) {
      log('warn', 'refused an HTTP request', { remote: req.socket.remoteAddress, problem, origin: req.headers.origin, host: req.headers.host });
      res.writeHead(403, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: { type: 'AuthError', message: problem } }));
      return;
    }
    // the SciCat-compatible endpoints authenticate on their own (their login tokens, access_token)
    const lower = (req.url ?? '').toLowerCase();
    if (service.catalogue && SCICAT_PREFIXES.some((p) => lower.startsWith(p))) {
      void handleScicat({ catalogue: service.catalogue, anonymousAllowed: !options.token && isLoopback(options.host) }, req, res);
      return;
    }
    if (new URL(req.url ?? '/', 'http://localhost').pathname === ACCESS_PATH) {
      void handleAccessPath({ service, jupyterSecret: options.jupyterSecret ?? null, authorized, tokenOf }, req, res);
      return;
    }
    // DOI landing pages are public (a DOI resolves for anyone); drafts only with a token that may read them
    if (service.catalogue && lower.startsWith(LANDING_PREFIX)) {
      void handleLanding(service.catalogue, req, res);
      return;
    }
    handleHttp(
      {
        service,
        authorized,
        accepted,
        clients: () => [...sessions].map((s) => ({ session: s.id, remote: s.remote, subscriptions: s.subscriptions.size })),
      },
      req,
      res,
    );
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES, perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/ws' && path !== '/ws/') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nthe WebSocket endpoint is /ws\n');
      return;
    }
    const problem = requestProblem(req, checked);
    if (problem) {
      log('warn', 'refused a WebSocket upgrade', { remote: req.socket.remoteAddress, problem, origin: req.headers.origin, host: req.headers.host });
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${problem}\n`);
      return;
    }
    // the Jupyter extension's relay opens connections for the user Jupyter authenticated, proven by the
    // shared secret (access/forwarded.ts): such a connection acts for that user, never for a token
    let jupyterUser: string | null;
    try {
      jupyterUser = forwardedUser(options.jupyterSecret ?? null, req.headers);
    } catch (err) {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${(err as Error).message}\n`);
      return;
    }
    if (jupyterUser === null && !authorized(req)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n\r\nmissing or wrong token\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      const token = jupyterUser === null ? tokenOf(req) : null;
      const session = new Session(ws, service, remote, token, token !== null ? (options.userOf?.(token) ?? null) : null, jupyterUser);
      sessions.add(session);
      ws.on('pong', () => missed.delete(ws));
      ws.on('message', () => missed.delete(ws));
      log('info', 'client connected', { session: session.id, remote });
      ws.on('close', (code) => {
        sessions.delete(session);
        log('info', 'client disconnected', { session: session.id, code });
      });
    });
  });
  // heartbeat: a client that answers none of HEARTBEAT_MISSES pings in a row (and sends nothing) is
  // closed, so half-open connections do not keep their subscriptions; clients see the pings as liveness
  const missed = new WeakMap<object, number>();
  const heartbeat = setInterval(() => {
    for (const s of sessions) {
      const n = missed.get(s.ws) ?? 0;
      if (n >= HEARTBEAT_MISSES) {
        log('warn', 'closing a client that does not answer pings', { session: s.id, remote: s.remote, missed: n });
        s.ws.close(CLOSE_UNRESPONSIVE, 'daqlab: no answer to pings');
        setTimeout(() => s.ws.terminate(), 2000).unref();
        continue;
      }
      missed.set(s.ws, n + 1);
      try {
        s.ws.ping();
      } catch {
        // closing already
      }
    }
  }, options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  return {
    http,
    url: `ws://${host}:${port}/ws`,
    sessions,
    close: async () => {
      clearInterval(heartbeat);
      for (const s of sessions) s.ws.close(1001, 'server shutting down');
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections?.();
    },
  };
}
