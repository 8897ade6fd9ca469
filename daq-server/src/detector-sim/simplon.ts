/**
 * The SIMPLON REST API over HTTP:
 *   GET  /<subsystem>/api/version/                        → {"value": "1.8.0", "value_type": "string"}
 *   GET  /<subsystem>/api/1.8.0/<config|status>/keys      → list of parameter names
 *   GET  /<subsystem>/api/1.8.0/<config|status>/<param>   → {value, value_type, access_mode, min, max, unit, allowed_values}
 *   PUT  /<subsystem>/api/1.8.0/config/<param> {"value"}  → list of the parameters that changed
 *   PUT  /<subsystem>/api/1.8.0/command/<command>         → {"sequence id": N} (arm, disarm, cancel, abort) or null
 * Errors answer a plain-text message: 400 bad value or state, 404 unknown path, 405 method, 413 body too large.
 * <param> may contain slashes (threshold/1/energy).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { API_VERSION, SUBSYSTEMS, type SimDetector, type Subsystem } from './detector.js';
import { SimplonError } from './params.js';
import { readBoundedBody } from '../api/body.js';

/** Largest request body (a header appendix is the largest thing a client sends). */
const MAX_BODY = 1 << 20;

export function createSimplonServer(det: SimDetector): Server {
  return createServer((req, res) => {
    handle(det, req, res).catch((err: unknown) => {
      const status = err instanceof SimplonError ? err.status : 500;
      reply(res, status, (err as Error).message, 'text/plain');
    });
  });
}

function reply(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  if (res.headersSent) return;
  const text = type === 'application/json' ? JSON.stringify(body) : `${String(body)}\n`;
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const text = (await readBoundedBody(req, MAX_BODY, () => new SimplonError(413, `request body larger than ${MAX_BODY} bytes`))).trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new SimplonError(400, 'request body is not JSON (expected {"value": ...})');
  }
}

async function handle(det: SimDetector, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const parts = path.split('/').filter(Boolean);
  const [sub, api, version, kind, ...rest] = parts;
  if (!SUBSYSTEMS.includes(sub as Subsystem) || api !== 'api') throw new SimplonError(404, `${path}: not a SIMPLON path`);
  const s = sub as Subsystem;
  if (version === 'version' && parts.length === 3) {
    if (req.method !== 'GET') throw new SimplonError(405, `${path}: GET only`);
    return reply(res, 200, { value: API_VERSION, value_type: 'string' });
  }
  if (version !== API_VERSION) throw new SimplonError(404, `${path}: this detector serves SIMPLON API ${API_VERSION}`);
  const name = rest.join('/');
  const body = req.method === 'PUT' || req.method === 'POST' ? await readBody(req) : undefined;
  if (kind === 'config' || kind === 'status') {
    const params = det.sections[s][kind];
    if (req.method === 'GET') {
      det.syncStatus();
      if (name === 'keys') return reply(res, 200, params.names());
      return reply(res, 200, params.describe(name));
    }
    if (req.method === 'PUT' && kind === 'config') {
      if (body === null || typeof body !== 'object' || !('value' in body)) throw new SimplonError(400, `${sub}/config/${name}: the body must be {"value": ...}`);
      return reply(res, 200, det.putConfig(s, name, (body as { value: unknown }).value));
    }
    throw new SimplonError(405, `${path}: ${kind === 'config' ? 'GET or PUT' : 'GET'} only`);
  }
  if (kind === 'command') {
    if (req.method !== 'PUT' && req.method !== 'POST') throw new SimplonError(405, `${path}: commands are PUT`);
    const value = body !== null && typeof body === 'object' && 'value' in body ? (body as { value: unknown }).value : undefined;
    return reply(res, 200, await det.command(s, name, value));
  }
  throw new SimplonError(404, `${path}: expected config, status or command after the version`);
}
