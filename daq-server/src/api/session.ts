/**
 * One client connection: parses control messages, runs their handlers
 * concurrently, and owns the client's subscriptions. Whatever a client sends,
 * it gets a typed error back; nothing it does can stop other clients.
 */
import type { WebSocket, RawData } from 'ws';
import {
  DaqError,
  MAX_INFLIGHT_REQUESTS,
  MAX_MESSAGE_DEPTH,
  OPS,
  toErrorBody,
  type EventMessage,
  type Op,
  type Request,
  type RequestId,
} from '../protocol/index.js';
import { leadingId, textDeeperThan } from './json-bounds.js';
import type { DaqService } from '../service.js';
import { Outbox } from './outbox.js';
import { eventVisible } from './scan-access.js';
import { HANDLERS } from './handlers.js';
import type { Subscription } from './subscription.js';
import type { Actor } from '../control/controller.js';
import { log } from '../log.js';
import { OPERATOR, type Principal } from '../access/index.js';

let nextSession = 1;

/**
 * Operations that can hold server resources while they run (wait, stream data, configure a
 * detector, call Slurm): these count against MAX_INFLIGHT_REQUESTS. The others answer at once.
 */
const HOLDING = new Set<string>(['acq.prepare', 'detector.calibration', 'scans.wait_next', 'stream.read', 'axis.wait', 'scanning.run', 'scanning.wait', 'scanning.abort', 'workflow.wait']);
const HOLDS = (op: string): boolean => HOLDING.has(op) || op.startsWith('jobs.');

/** Identities of the connections open now (an identity may have several), for acquisition ownership. */
const present = new Map<string, number>();
const enter = (id: string): void => void present.set(id, (present.get(id) ?? 0) + 1);
const leave = (id: string): void => {
  const n = (present.get(id) ?? 1) - 1;
  if (n > 0) present.set(id, n);
  else present.delete(id);
};
export const isPresent = (id: string): boolean => present.has(id);

export class Session {
  readonly id = nextSession++;
  readonly out: Outbox;
  readonly subscriptions = new Map<string, Subscription>();
  private nextSub = 1;
  /** requests of HOLDING ops being handled now (bounded by MAX_INFLIGHT_REQUESTS) */
  private inflight = 0;
  private client: string | null = null;
  private closed = false;
  private readonly onEvent: (e: EventMessage) => void;

  constructor(
    readonly ws: WebSocket,
    readonly service: DaqService,
    readonly remote: string,
    /** the token the client connected with: who it is for the jobs service */
    readonly token: string | null = null,
    /** the unix user the token maps to in the --users file, if any */
    readonly user: string | null = null,
    /** the user Jupyter authenticated, when the connection came through Jupyter (access/forwarded.ts) */
    readonly jupyterUser: string | null = null,
  ) {
    this.out = new Outbox(ws, `session ${this.id} (${remote})`);
    // events about scans this client may not see are not sent (api/scan-access.ts)
    this.onEvent = (e) => {
      if (eventVisible(this, e)) this.out.json(e);
    };
    service.on('event', this.onEvent);
    enter(this.identity);
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('close', () => this.close());
    ws.on('error', (err) => log('warn', 'client socket error', { session: this.id, error: err.message }));
  }

  /**
   * Who this connection acts for, recorded as the owner of what it prepares: the token's user when
   * the --users file maps one, else the client id sent in `hello`, else this connection.
   */
  get identity(): string {
    if (this.jupyterUser) return `user ${this.jupyterUser}`;
    if (this.user) return `user ${this.user}`;
    if (this.client) return `client ${this.client}`;
    return `connection ${this.id} (${this.remote})`;
  }

  /**
   * Whom this connection's reads and writes are decided for (access/): the Jupyter user it was opened
   * for, else its token's; the operator where there is no catalogue (no identity model).
   */
  principal(): Principal {
    const c = this.service.catalogue;
    if (!c) return OPERATOR;
    return this.jupyterUser !== null ? c.access.byName(this.jupyterUser) : c.access.resolve(this.token);
  }

  /** The client id named in `hello` (clients keep theirs across reconnects). */
  get clientId(): string | null {
    return this.client;
  }

  set clientId(id: string | null) {
    if (this.closed) return;
    leave(this.identity);
    this.client = id;
    enter(this.identity);
  }

  /** Who this connection acts for in a command on an acquisition (`force`: the request's). */
  actor(force: boolean): Actor {
    return { id: this.identity, force, present: isPresent };
  }

  newSubscriptionId(): string {
    return `s${this.id}.${this.nextSub++}`;
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.out.json({
        id: null,
        ok: false,
        error: { type: 'ProtocolError', message: 'binary messages are not accepted from clients; send JSON control messages as text' },
      });
      return;
    }
    let req: Request;
    try {
      req = parseRequest(data.toString());
    } catch (err) {
      const id = err instanceof DaqError && 'id' in err.extra ? (err.extra.id as RequestId) : null;
      this.out.json({ id, ok: false, error: toErrorBody(err) });
      return;
    }
    if (HOLDS(req.op) && this.inflight >= MAX_INFLIGHT_REQUESTS) {
      this.out.json({
        id: req.id,
        ok: false,
        error: toErrorBody(
          new DaqError('LimitError', `${req.op}: this connection already has ${this.inflight} requests in flight (at most ${MAX_INFLIGHT_REQUESTS}); wait for their replies`, undefined, {
            limit: 'requests',
            max: MAX_INFLIGHT_REQUESTS,
          }),
        ),
      });
      return;
    }
    void this.dispatch(req);
  }

  private async dispatch(req: Request): Promise<void> {
    const counted = HOLDS(req.op);
    if (counted) this.inflight++;
    try {
      const result = await HANDLERS[req.op](this, req);
      this.out.json({ id: req.id, ok: true, result: result ?? null });
    } catch (err) {
      if (!(err instanceof DaqError)) log('error', 'handler failed', { op: req.op, error: String(err && (err as Error).stack) });
      this.out.json({ id: req.id, ok: false, error: toErrorBody(err) });
    } finally {
      if (counted) this.inflight--;
    }
  }

  close(): void {
    if (!this.closed) leave(this.identity);
    this.closed = true;
    this.service.off('event', this.onEvent);
    for (const sub of this.subscriptions.values()) sub.close();
    this.subscriptions.clear();
  }
}

/** Parse and check the envelope of a control message; the op handler checks its own fields. */
export function parseRequest(text: string): Request {
  // depth first, on the text: parsing a deep message is the costly part, and no reply needs its value
  if (textDeeperThan(text, MAX_MESSAGE_DEPTH)) {
    const id = leadingId(text);
    throw new DaqError('ProtocolError', `message nests deeper than ${MAX_MESSAGE_DEPTH} levels`, undefined, id === null ? {} : { id });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DaqError('ProtocolError', `message is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DaqError('ProtocolError', 'a control message must be a JSON object with "id" and "op"');
  }
  const msg = value as Record<string, unknown>;
  const id = msg.id;
  if (!(typeof id === 'number' || (typeof id === 'string' && id.length > 0 && id.length <= 128))) {
    throw new DaqError('ProtocolError', 'field "id" must be a number or a non-empty string (≤128 chars)');
  }
  if (typeof msg.op !== 'string' || !(OPS as readonly string[]).includes(msg.op)) {
    throw new DaqError('ProtocolError', `unknown op ${JSON.stringify(msg.op)}; known: ${OPS.join(', ')}`, undefined, { id });
  }
  return msg as Request & { op: Op };
}
