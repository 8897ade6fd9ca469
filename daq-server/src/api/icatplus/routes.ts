/**
 * ICAT+'s data-acquisition endpoints, as the real `pyicat-plus` client (what BLISS
 * uses) calls them, writing into daqlab's logbook:
 *
 *   POST /icatplus/dataacquisition/{apiKey}/notification?investigationName=&instrumentName=
 *        {type, category, content: [{format: plainText|html, text}], tag: [{name}], datasetName, software, machine, creationDate}
 *   POST /icatplus/dataacquisition/{apiKey}/base64?investigationName=&instrumentName=
 *        {base64: "data:image/png;base64,...", software, machine, creationDate, tag}
 *
 * The apiKey is a daqlab token (the server's --token or one of the --users file). The reply is the
 * entry as an ICAT+ event (pyicat-plus reads it as its `Event` model: `_id`, `type` and `category`
 * echoed). A thin adapter: it maps names onto logbook/ and nothing else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DaqError, LOGBOOK_MAX_ATTACHMENT_BYTES, toErrorBody, type LogbookEntry } from '../../protocol/index.js';
import type { HttpContext } from '../http.js';
import { attachment } from '../../logbook/validate.js';
import { readBoundedBody } from '../body.js';
import { OPERATOR } from '../../access/index.js';

/** A request body: an attachment as base64 (4/3 of its size) plus room for the fields around it. */
export const ICATPLUS_MAX_BODY = Math.ceil((LOGBOOK_MAX_ATTACHMENT_BYTES * 4) / 3) + 1024 * 1024;

const ROUTE = /^\/icatplus\/dataacquisition\/([^/]+)\/(notification|base64)\/?$/;
const STATUS: Record<string, number> = { NotFoundError: 404, ParameterError: 400, AuthError: 401, LimitError: 413, ProtocolError: 400, TimeoutError: 503 };

type Obj = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The JSON body, refused past ICATPLUS_MAX_BODY before it is all read. */
async function readJson(req: IncomingMessage): Promise<Obj> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooBig = (): DaqError =>
    new DaqError('LimitError', `request body over the limit of ${ICATPLUS_MAX_BODY} bytes (an attachment may have at most ${LOGBOOK_MAX_ATTACHMENT_BYTES} bytes)`, undefined, {
      limit: 'body',
      max: ICATPLUS_MAX_BODY,
    });
  if (declared > ICATPLUS_MAX_BODY) throw tooBig();
  const text = await readBoundedBody(req, ICATPLUS_MAX_BODY, tooBig);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DaqError('ProtocolError', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DaqError('ProtocolError', 'the body must be a JSON object');
  return value as Obj;
}

/** ICAT+ tags are [{name}] (or plain strings). */
function tagNames(v: unknown): unknown {
  return Array.isArray(v) ? v.map((t) => (typeof t === 'object' && t !== null ? (t as Obj).name : t)) : v;
}

/** ICAT+ content is a list of {format, text}; the HTML rendering wins over the plain one. */
function contentOf(v: unknown): { format: string; content: unknown } {
  if (v === undefined || v === null) return { format: 'plainText', content: '' };
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'object' || c === null)) {
    throw new DaqError('ParameterError', 'content: must be a list of {format, text}', [{ field: 'content', message: 'must be a list of {format: plainText|html, text}' }]);
  }
  const items = v as Obj[];
  const html = items.find((c) => c.format === 'html');
  if (html) return { format: 'html', content: html.text };
  const bad = items.find((c) => c.format !== 'plainText');
  if (bad) {
    throw new DaqError('ParameterError', `content.format: unknown format ${JSON.stringify(String(bad.format).slice(0, 40))}; one of plainText, html`, [
      { field: 'content.format', message: 'one of plainText, html' },
    ]);
  }
  return { format: 'plainText', content: items.map((c) => c.text).join('\n') };
}

/** An entry as ICAT+ answers it (its Event model). */
function asEvent(e: LogbookEntry): Obj {
  return {
    _id: String(e.id),
    type: e.type,
    category: e.category,
    content: [
      { format: 'html', text: e.html },
      { format: 'plainText', text: e.text },
    ],
    tag: e.tags.map((name) => ({ name })),
    ...(e.proposal ? { investigationName: e.proposal } : {}),
    ...(e.beamline ? { instrumentName: e.beamline } : {}),
    ...(e.dataset ? { datasetName: e.dataset } : {}),
    ...(e.software ? { software: e.software } : {}),
    ...(e.machine ? { machine: e.machine } : {}),
    username: e.author,
    creationDate: e.created,
    ...(e.attachments.length ? { file: e.attachments.map((a) => String(a.id)), filename: e.attachments[0].name, fileSize: e.attachments[0].size, contentType: e.attachments[0].mime } : {}),
  };
}

export async function handleIcatPlus(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    const m = ROUTE.exec(url.pathname);
    if (!m) throw new DaqError('NotFoundError', `no ICAT+ endpoint ${url.pathname}; daqlab serves POST /icatplus/dataacquisition/{apiKey}/notification and /base64`);
    if (req.method !== 'POST') throw new DaqError('ProtocolError', `method ${req.method} not allowed; POST`);
    let apiKey: string;
    try {
      apiKey = decodeURIComponent(m[1]);
    } catch {
      throw new DaqError('AuthError', 'apiKey: not a daqlab token');
    }
    if (!ctx.accepted(apiKey)) throw new DaqError('AuthError', 'apiKey: not a daqlab token accepted by this server');
    const logbook = ctx.service.logbook;
    if (!logbook) throw new DaqError('NotFoundError', 'this server has no logbook');
    const body = await readJson(req);
    const q = url.searchParams;
    const links = {
      proposal: q.get('investigationName') ?? undefined,
      beamline: q.get('instrumentName') ?? undefined,
    };
    const common = {
      ...links,
      tags: tagNames(body.tag ?? body.tags),
      software: body.software,
      machine: body.machine,
      created: body.creationDate,
      dataset: body.datasetName,
    };
    const author = logbook.authors.authorOf(apiKey);
    // the apiKey is also who writes: its principal's rights on the investigation (logbook/access.ts)
    const who = ctx.service.catalogue ? ctx.service.catalogue.access.resolve(apiKey) : OPERATOR;
    await logbook.know({ proposal: links.proposal }, who); // the investigation's facts at hand for the decision
    let entry: LogbookEntry;
    if (m[2] === 'notification') {
      const category = typeof body.category === 'string' ? body.category.toLowerCase() : body.category; // ICAT+ also says commandLine
      entry = logbook.add({ ...common, type: body.type, category, ...contentOf(body.content) }, author, [], who);
    } else {
      const file = attachment('body', { base64: body.base64, name: typeof body.filename === 'string' ? body.filename : undefined });
      entry = logbook.add({ ...common, type: 'notification', category: 'info', format: 'plainText', content: `${file.name} (${file.mime}, ${file.data.length} bytes)` }, author, [file], who);
    }
    send(res, 200, asEvent(entry));
  } catch (err) {
    const body = toErrorBody(err);
    const status = body.type === 'ProtocolError' && /not allowed/.test(body.message) ? 405 : (STATUS[body.type] ?? 500);
    send(res, status, { error: body });
    if (!req.complete) req.resume(); // drain what is left of a refused body so the connection can answer
  }
}
