/** Handlers of the `receivers.*` operations: a receiver host registers with its control server (--role control). */
import { DaqError, type Request } from '../protocol/index.js';
import { log } from '../log.js';
import { checkRegistration, pipelineVersions } from '../processing/receivers/remote/registration.js';
import type { ReceiverRegistry } from '../processing/receivers/remote/registry.js';
import type { Session } from './session.js';

type ReceiversOp = 'receivers.register' | 'receivers.list';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

/** sessions whose close already drops their receiver hosts */
const dropping = new WeakSet<Session>();

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
    const host = hosts.register(reg, s.id, s.remote);
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
};
