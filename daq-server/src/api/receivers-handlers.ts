/** Handlers of the `receivers.*` operations: a receiver host registers with its control server (--role control). */
import { DaqError, type Request } from '../protocol/index.js';
import { log } from '../log.js';
import { checkRegistration, pipelineVersions } from '../processing/receivers/remote/registration.js';
import type { ReceiverRegistry } from '../processing/receivers/remote/registry.js';
import { HostChannel } from '../processing/receivers/remote/channel.js';
import type { ResultBatch } from '../processing/receivers/remote/wire.js';
import type { Session } from './session.js';

type ReceiversOp = 'receivers.register' | 'receivers.list' | 'receivers.reply' | 'receivers.results';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

/** sessions whose close already drops their receiver hosts */
const dropping = new WeakSet<Session>();
/** the frame-path channel of each receiver host's session (created at its registration) */
const channels = new WeakMap<Session, HostChannel>();

function channelOf(s: Session, op: string): HostChannel {
  const c = channels.get(s);
  if (!c) throw new DaqError('StateError', `${op}: only a registered receiver host sends this`);
  return c;
}

function registry(s: Session): ReceiverRegistry {
  if (!s.service.receivers) throw new DaqError('StateError', 'receivers.register: this server is not a control server (start it with --role control, or with a topology file)');
  return s.service.receivers;
}

/** the peer address without its port: ::ffff:127.0.0.1:5000 → 127.0.0.1 */
function peerHost(remote: string): string {
  return remote.replace(/:\d+$/, '').replace(/^::ffff:/, '');
}

export const RECEIVERS_HANDLERS: Record<ReceiversOp, Handler> = {
  'receivers.register': (s, r) => {
    const hosts = registry(s);
    const peer = peerHost(s.remote);
    // a receiver off loopback carries the token (the control server only listens off loopback with one)
    if (s.token === null && !(peer === '::1' || /^127\./.test(peer))) {
      throw new DaqError('AuthError', 'receivers.register: a receiver on another host must connect with the token (--token)');
    }
    const reg = checkRegistration(r, pipelineVersions(s.service.steps));
    const channel = channels.get(s) ?? new HostChannel(reg.name, s.ws, (m) => s.out.json(m));
    const host = hosts.register(reg, s.id, s.remote, channel);
    channels.set(s, channel);
    if (!dropping.has(s)) {
      dropping.add(s);
      s.ws.once('close', () => {
        for (const gone of hosts.drop(s.id)) log('warn', 'receiver host left', { name: gone.name, address: gone.address });
      });
    }
    log('info', 'receiver host registered', { name: host.name, address: host.address, port: host.port, from: host.remote });
    return { registered: host, receivers: hosts.list().length };
  },
  'receivers.list': (s) => ({ receivers: registry(s).list() }),
  // the frame path (processing/receivers/remote/wire.ts): a host's answer to a request, and its results
  'receivers.reply': (s, r) => {
    channelOf(s, 'receivers.reply').reply(r.rid, r.chunk, r.chunks, r.text);
    return null;
  },
  'receivers.results': (s, r) => {
    const c = channelOf(s, 'receivers.results');
    const ok = typeof r.run === 'string' && Array.isArray(r.results) && Array.isArray(r.dropped) && Array.isArray(r.items);
    if (!ok) throw new DaqError('ParameterError', 'receivers.results: run (string), results, dropped and items (arrays) are required', [{ field: 'results', message: 'a result batch (wire.ts)' }]);
    c.emit('results', r as unknown as ResultBatch);
    return null;
  },
};
