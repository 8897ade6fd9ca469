/**
 * A receiver host's link to its control server: connect, `hello`, `receivers.register`, and stay connected
 * (the control server counts the host in while this connection lives). A lost connection is retried with
 * a bounded backoff; a refusal (other protocol or pipelines, wrong token, name taken) is final.
 */
import WebSocket from 'ws';
import { log } from '../../../log.js';
import type { ReceiverRegistration } from './registration.js';

export interface ControlLink {
  /** resolves at the first successful registration */
  readonly registered: Promise<void>;
  close(): void;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const REGISTER_ID = 'register';

export function linkToControl(options: {
  control: string;
  token: string | null;
  registration: ReceiverRegistration;
  /** the control server refused this host for good: why */
  onRefused: (reason: string) => void;
}): ControlLink {
  const { control, token, registration } = options;
  let ws: WebSocket | null = null;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | null = null;
  let resolve!: () => void;
  const registered = new Promise<void>((r) => (resolve = r));

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
      let msg: { id?: unknown; ok?: boolean; error?: { type: string; message: string } };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.id !== REGISTER_ID) return; // events the control server broadcasts: not for this host (yet)
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
      if (closed) return;
      log('warn', `control server at ${control} unreachable or gone: retrying in ${retryMs / 1000} s`);
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  };

  connect();
  return {
    registered,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    },
  };
}
