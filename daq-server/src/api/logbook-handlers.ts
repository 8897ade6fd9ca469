/** Handlers of the `logbook.*` operations: the work is in logbook/logbook.ts. */
import { DaqError, type Request } from '../protocol/index.js';
import type { Logbook } from '../logbook/logbook.js';
import { ADD_FIELDS, EDIT_FIELDS, unknownFields } from '../logbook/logbook.js';
import { SEARCH_FIELDS, optName } from '../logbook/validate.js';
import type { Session } from './session.js';

type LogbookOp = 'logbook.add' | 'logbook.edit' | 'logbook.get' | 'logbook.search' | 'logbook.stats' | 'logbook.attachment';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

function logbook(s: Session): Logbook {
  if (!s.service.logbook) throw new DaqError('NotFoundError', 'this server has no logbook');
  return s.service.logbook;
}

/** The author recorded: the Jupyter user a connection acts for, else its token's user. */
const author = (s: Session, lb: Logbook): string => s.jupyterUser ?? lb.authors.authorOf(s.token);

export const LOGBOOK_HANDLERS: Record<LogbookOp, Handler> = {
  // the catalogue's facts of the proposals decided on are read first (lb.know), the decisions are synchronous
  'logbook.add': async (s, r) => {
    unknownFields('logbook.add', r, ADD_FIELDS);
    const lb = logbook(s);
    await lb.know(r, s.principal());
    return { entry: lb.add(r, author(s, lb), [], s.principal()) };
  },
  'logbook.edit': async (s, r) => {
    unknownFields('logbook.edit', r, EDIT_FIELDS);
    const lb = logbook(s);
    await lb.know({ entry: r.entry }, s.principal());
    return { entry: lb.edit(r, author(s, lb), s.principal()) };
  },
  'logbook.get': async (s, r) => {
    unknownFields('logbook.get', r, ['entry', 'versions']);
    const lb = logbook(s);
    const id = lb.entryId(r);
    const who = s.principal();
    await lb.know({ entry: id }, who);
    return r.versions === true ? { entry: lb.get(id, who), versions: lb.versions(id, who) } : { entry: lb.get(id, who) };
  },
  'logbook.search': async (s, r) => {
    unknownFields('logbook.search', r, SEARCH_FIELDS);
    return { entries: await logbook(s).search(r, s.principal()) };
  },
  'logbook.stats': (s, r) => {
    unknownFields('logbook.stats', r, ['proposal']);
    return logbook(s).stats(optName(r, 'proposal'), s.principal());
  },
  'logbook.attachment': async (s, r) => {
    unknownFields('logbook.attachment', r, ['attachment']);
    const id = r.attachment;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw new DaqError('ParameterError', 'attachment: must be an attachment id', [{ field: 'attachment', message: 'must be an attachment id (a positive integer)' }]);
    const lb = logbook(s);
    await lb.know({ attachment: id }, s.principal());
    const { data, ...info } = lb.attachment(id, s.principal());
    return { ...info, base64: data.toString('base64') };
  },
};
