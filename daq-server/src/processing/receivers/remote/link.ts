/**
 * A receiver host's link to its control server: connect, `hello`, `receivers.register`, and stay connected
 * (the control server counts the host in while this connection lives). A lost connection is retried with
 * a bounded backoff; a refusal (other protocol or pipelines, wrong token, name taken) is final.
 */
import WebSocket from 'ws';
import { log } from '../../../log.js';
import type { ReceiverRegistration } from './registration.js';
import { CONTROL_OPS, type ControlRequest } from './wire.js';

export interface ControlLink {
  /** resolves at the first successful registration */
  readonly registered: Promise<void>;
  /** send a request to the control server; resolves with its result, rejects with its error or when the link drops */
  call(op: string, body: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

/** a request to the control server unanswered this long is failed (the link is presumed dead) */
const CALL_TIMEOUT_MS = 30_000;

/** characters of a reply per message (the control server takes requests up to 1 MiB) */
const REPLY_CHUNK_CHARS = 768 * 1024;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const REGISTER_ID = 'register';

export function linkToControl(options: {
  control: string;
  token: string | null;
  registration: ReceiverRegistration;
  /** the control server refused this host for good: why */
  onRefused: (reason: string) => void;
  /** a `remote.*` request of the control server (the frame path, wire.ts): its result, or a rejection with why */
  onRequest?: (req: ControlRequest) => Promise<unknown>;
  /** the connection to the control server dropped (what runs for it must stop) */
  onLost?: () => void;
}): ControlLink {
  const { control, token, registration } = options;
  let ws: WebSocket | null = null;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | null = null;
  let resolve!: () => void;
  const registered = new Promise<void>((r) => (resolve = r));
  const calls = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextCall = 1;
  const failCalls = (why: string): void => {
    for (const c of calls.values()) {
      clearTimeout(c.timer);
      c.reject(new Error(why));
    }
    calls.clear();
  };

  /** answer a `remote.*` request of the control server */
  const serve = (socket: WebSocket, req: ControlRequest & { rid: unknown }): void => {
    const reply = (body: Record<string, unknown>): void => {
      if (socket.readyState !== WebSocket.OPEN) return;
      // a large answer (accumulated partials: a sum image) goes in pieces, each under the request limit
      const text = JSON.stringify(body);
      const chunks = Math.max(1, Math.ceil(text.length / REPLY_CHUNK_CHARS));
      for (let k = 0; k < chunks; k++) {
        const piece = text.slice(k * REPLY_CHUNK_CHARS, (k + 1) * REPLY_CHUNK_CHARS);
        socket.send(JSON.stringify({ id: `reply-${String(req.rid)}-${k}`, op: 'receivers.reply', rid: req.rid, chunk: k, chunks, text: piece }));
      }
    };
    const handler = options.onRequest;
    if (!handler) return reply({ ok: false, error: 'this receiver host takes no runs' });
    handler(req).then(
      (result) => reply({ ok: true, result: result ?? null }),
      (err: Error) => reply({ ok: false, error: err.message }),
    );
  };

  const refuse = (reason: string): void => {
    if (closed) return;
    closed = true;
    ws?.close();
    options.onRefused(reason);
  };

  const connect = (): void => {
    if (closed) return;
    const socket = new WebSocket(control, { headers: token ? { authorization: `token ${token}` } : {}, handshakeTimeout: 10_000 });
    ws = socket;
    socket.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 401) refuse(`the control server at ${control} refused the token (HTTP 401): pass the topology's --token`);
      else log('warn', 'control server answered the upgrade with an error', { control, status: res.statusCode });
      socket.terminate();
    });
    socket.on('open', () => {
      socket.send(JSON.stringify({ id: 'hello', op: 'hello', client: `receiver ${registration.name}` }));
      socket.send(JSON.stringify({ id: REGISTER_ID, op: 'receivers.register', ...registration }));
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { id?: unknown; op?: unknown; rid?: unknown; ok?: boolean; result?: unknown; error?: { type: string; message: string } };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (typeof msg.op === 'string' && (CONTROL_OPS as readonly string[]).includes(msg.op)) return serve(socket, msg as ControlRequest & { rid: unknown });
      const pending = typeof msg.id === 'string' ? calls.get(msg.id) : undefined;
      if (pending) {
        calls.delete(msg.id as string);
        clearTimeout(pending.timer);
        if (msg.ok) pending.resolve(msg.result);
        else pending.reject(new Error(msg.error?.message ?? 'refused'));
        return;
      }
      if (msg.id !== REGISTER_ID) return; // events the control server broadcasts: not for this host
      if (msg.ok) {
        retryMs = RETRY_MIN_MS;
        log('info', 'registered with the control server', { control, name: registration.name });
        resolve();
      } else {
        refuse(msg.error?.message ?? 'receivers.register failed');
      }
    });
    socket.on('error', (err) => log('debug', 'control link error', { control, error: err.message }));
    socket.on('close', () => {
      failCalls('the connection to the control server closed');
      options.onLost?.();
      if (closed) return;
      log('warn', `control server at ${control} unreachable or gone: retrying in ${retryMs / 1000} s`);
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  };

  connect();
  return {
    registered,
    call: (op, body) =>
      new Promise((res, rej) => {
        if (!ws || ws.readyState !== WebSocket.OPEN) return rej(new Error('not connected to the control server'));
        const id = `c${nextCall++}`;
        const timer = setTimeout(() => {
          calls.delete(id);
          rej(new Error(`${op}: no answer from the control server in ${CALL_TIMEOUT_MS / 1000} s`));
        }, CALL_TIMEOUT_MS);
        calls.set(id, { resolve: res, reject: rej, timer });
        ws.send(JSON.stringify({ ...body, id, op }));
      }),
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    },
  };
}
