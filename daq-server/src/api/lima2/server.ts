/**
 * The LIMA2 conductor's HTTP API on its own port (default 58712, LIMA2's), over one daqlab
 * detector: the routes lima2-client 4.3 calls (lima2/client/services.py), answered as the
 * conductor answers them (lima2/conductor/webservice/*.py): GET → 200, POST → 202, a failure
 * → 400 with LIMA2's error payload, an unknown route → 404 (the client's
 * ConductorEndpointNotFound). Loopback unless told otherwise; off loopback a token is
 * required (`Authorization: Bearer T`), as on daqlab's own port; browser origins are checked.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { MAX_JSON_DEPTH } from '../../protocol/index.js';
import type { DaqService } from '../../service.js';
import { isLoopback } from '../server.js';
import { requestProblem } from '../origin.js';
import { textDeeperThan } from '../json-bounds.js';
import { log } from '../../log.js';
import { CLASSES } from './classes.js';
import { CLASS_VERSIONS, CONDUCTOR_API_VERSION, Lima2Conductor, PLUGIN_VERSION } from './conductor.js';
import { Lima2Error, toLima2Body } from './errors.js';
import { readBoundedBody } from '../body.js';
export { LIMA2_DEFAULT_PORT, parseLima2Spec } from './spec.js';

/** largest request body (prepare with master file metadata) */
const MAX_BODY = 4 * 1024 * 1024;
/** a reduced data stream waits this long for new items before looking at the scan again */
const POLL_MS = 250;

export interface Lima2Options {
  detector: string;
  host: string;
  port: number;
  token: string | null;
  allowOrigins?: string[];
}

export interface Lima2Running {
  detector: string;
  url: string;
  http: Server;
  conductor: Lima2Conductor;
  close(): Promise<void>;
}

class HttpStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBoundedBody(req, MAX_BODY, () => new Lima2Error('Lima2ValueError', `request body larger than ${MAX_BODY} bytes`));
  if (!text) return null;
  if (textDeeperThan(text, MAX_JSON_DEPTH)) throw new Lima2Error('Lima2ValueError', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Lima2Error('Lima2ValueError', 'Invalid JSON payload');
  }
}

function tokenOf(req: IncomingMessage): string | null {
  const m = req.headers.authorization?.match(/^(?:token|bearer)\s+(.+)$/i);
  return m ? m[1].trim() : null;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Stream a reduced data channel: records as they come, until the scan's stream ends (webservice/pipeline.py pipeline_reduced_data_stream). */
async function streamReduced(c: Lima2Conductor, uuid: string, name: string, index: number, res: ServerResponse): Promise<void> {
  const run = c.run(uuid);
  const streamName = c.reducedSource(run, name, index);
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' });
  let pos = 0;
  // each write is one HTTP chunk of whole records: the client decodes every chunk on its own
  while (!abort.signal.aborted) {
    const scan = c.scanOf(run);
    const stream = scan.streams.get(streamName);
    if (stream) {
      if (pos < stream.first) pos = stream.first; // trimmed by the memory budget: what is gone is skipped
      const n = stream.length;
      if (n > pos) {
        const to = Math.min(n, pos + 4096);
        const ok = res.write(Lima2Conductor.encode(name, index, Lima2Conductor.items(stream, pos, to), Lima2Conductor.ringPixels(scan), run.mapped.profiles));
        pos = to;
        // a long backlog is sent a chunk per turn of the event loop, at the pace the client reads
        await new Promise<void>((r) => {
          if (ok) setImmediate(r);
          else {
            res.once('drain', r);
            res.once('close', r);
          }
        });
        continue;
      }
      if (stream.sealed) break;
      await stream.waitFor(pos, POLL_MS, abort.signal);
    } else {
      if (scan.state === 'CLOSED') break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
  res.end();
}

async function route(c: Lima2Conductor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const get = (body: unknown): void => send(res, 200, body);
  const posted = (body: unknown): void => send(res, 202, body);
  const only = (m: string): void => {
    if (method !== m) throw new HttpStatus(405, `${method} ${path}: method not allowed (use ${m})`);
  };
  let m: RegExpExecArray | null;

  switch (path) {
    case '/version/conductor':
      only('GET');
      return get(CONDUCTOR_API_VERSION);
    case '/version/detector_plugin':
      only('GET');
      return get(PLUGIN_VERSION);
    case '/state':
      only('GET');
      return get(c.systemState());
    case '/status':
      only('GET');
      return get({ detector: { model: c.ctl.info().model, sn: c.detector, state: c.ctl.state, plugin: 'daqlab', plugin_version: PLUGIN_VERSION }, conductor: { state: c.systemState().conductor, version: CONDUCTOR_API_VERSION } });
    case '/ping':
      only('POST');
      return posted({ [`${c.detector}/control`]: 0 });
    case '/acquisition/prepare': {
      only('POST');
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Lima2Error('Lima2ValueError', 'prepare expects a JSON object {control, receiver, processing, masterfile_metadata}');
      return posted(await c.prepare(body as Record<string, unknown>));
    }
    case '/acquisition/start':
      only('POST');
      await c.start();
      return posted({});
    case '/acquisition/stop':
      only('POST');
      await c.stop();
      return posted({});
    case '/acquisition/trigger':
      only('POST');
      c.trigger();
      return posted({});
    case '/acquisition/reset':
      only('POST');
      await c.reset();
      return posted({});
    case '/acquisition/state':
      only('GET');
      return get(c.runState());
    case '/acquisition/running':
      only('GET');
      return get(c.runState().name === 'RUNNING');
    case '/acquisition/failed':
      only('GET');
      return get(c.runState().name === 'FAULT');
    case '/acquisition/result':
      only('GET');
      return get(c.result());
    case '/acquisition/default_params':
      only('GET');
      return get(c.defaultParams());
    case '/acquisition/params_schema':
      only('GET');
      return get(c.paramsSchema());
    case '/acquisition/nb_frames_acquired':
      only('GET');
      return get(c.nbFramesAcquired());
    case '/acquisition/nb_frames_xferred':
      only('GET');
      return get(c.nbFramesXferred());
    case '/acquisition/errors':
      only('GET');
      return get(c.errors());
    case '/detector/info':
      only('GET');
      return get(c.detInfo());
    case '/detector/status':
      only('GET');
      return get(c.detStatus());
    case '/detector/capabilities':
      only('GET');
      return get(c.detCapabilities());
    case '/detector/command': {
      only('POST');
      const body = (await readJson(req)) as { name?: unknown } | null;
      throw new Lima2Error('Lima2NotFound', `No detector command ${JSON.stringify(body?.name ?? null)}: daqlab detectors take their configuration in prepare (control params $.det).`);
    }
    case '/pipeline':
      only('GET');
      return get(c.uuids());
    case '/pipeline/class':
      only('GET');
      return get(CLASSES.map((k) => k.name));
    case '/pipeline/clear':
      only('POST');
      return posted({ cleared: [] });
  }
  if ((m = /^\/detector\/attribute\/([^/]+)$/.exec(path))) {
    if (method === 'POST') throw new Lima2Error('Lima2ValueError', `Attribute ${JSON.stringify(decodeURIComponent(m[1]))} is read only: daqlab detectors take their configuration in prepare (control params $.det).`);
    only('GET');
    return get(c.readAttribute(decodeURIComponent(m[1])));
  }
  if ((m = /^\/pipeline\/class\/([^/]+)(?:\/(schema|version))?$/.exec(path))) {
    only('GET');
    const name = decodeURIComponent(m[1]);
    if (m[2] === 'schema') return get(c.classSchema(name));
    if (m[2] === 'version') {
      return get(CLASS_VERSIONS[c.classInfo(name).name]);
    }
    return get(c.classDescription(name));
  }
  if ((m = /^\/pipeline\/([^/]+)(?:\/(.*))?$/.exec(path))) {
    only('GET');
    const uuid = decodeURIComponent(m[1]);
    const rest = m[2] ?? '';
    const run = c.run(uuid);
    let r: RegExpExecArray | null;
    switch (rest) {
      case '':
        return get(c.pipelineInfo(run));
      case 'running':
        return get(c.runningOf(run));
      case 'errors':
        return get(c.pipelineErrors(run));
      case 'progress':
        return get(c.indicator(run));
      case 'progress_counters':
        return get(c.progressCounters(run));
      case 'reduced_data':
        return get(c.reducedChannels(run));
      case 'master_files':
        return get(c.masterFiles(run));
      case 'frames':
        return get(c.frameChannels(run));
    }
    if ((r = /^progress\/([^/]+)$/.exec(rest))) return get(c.channelProgress(run, decodeURIComponent(r[1])));
    if ((r = /^reduced_data\/([^/]+)\/(-?\d{1,9})$/.exec(rest))) return streamReduced(c, uuid, decodeURIComponent(r[1]), Number(r[2]), res);
    if ((r = /^lookup\/([^/]+)\/(-?\d{1,12})$/.exec(rest))) return get(c.lookup(run, decodeURIComponent(r[1]), Number(r[2])));
    if ((r = /^lookup\/(-?\d{1,12})$/.exec(rest))) throw new Lima2Error('Lima2ValueError', 'lookup without a frame source is deprecated in LIMA2 and not offered: use lookup/{source}/{frame_idx}');
  }
  throw new HttpStatus(404, `${path} not found`);
}

export async function listenLima2(service: DaqService, options: Lima2Options): Promise<Lima2Running> {
  if (!isLoopback(options.host) && !options.token) {
    throw new Error(`--lima2 on ${options.host}: a non-loopback address needs --token (LIMA2 clients then send "Authorization: Bearer TOKEN")`);
  }
  const conductor = new Lima2Conductor(service, options.detector);
  const policy = { bound: options.host, allowOrigins: options.allowOrigins ?? [] };
  const http = createServer((req, res) => {
    const problem = requestProblem(req, policy);
    if (problem) return send(res, 403, { detail: problem });
    if (options.token && !(tokenOf(req) !== null && sameToken(tokenOf(req)!, options.token))) return send(res, 401, { detail: 'missing or wrong token' });
    route(conductor, req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpStatus) return send(res, err.status, { detail: err.message });
      const body = toLima2Body(err);
      if (body.code === -1) log('warn', 'LIMA2 request failed', { url: req.url, error: body.message });
      send(res, 400, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  // readers on other hosts (blissdata-lima2) need a name they can resolve: this host's, when bound to every address
  conductor.endpoint = { hostname: options.host === '0.0.0.0' || options.host === '::' ? hostname() : options.host, port };
  return {
    detector: options.detector,
    url: `http://${host}:${port}`,
    http,
    conductor,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
