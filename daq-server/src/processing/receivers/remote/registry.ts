/** The control server's registry of receiver hosts: who registered, from where, since when (listed in /status). */
import { DaqError } from '../../../protocol/index.js';
import type { ReceiverRegistration } from './registration.js';
import type { HostChannel } from './channel.js';

/** A registered receiver host as /status and `receivers.list` show it. */
export interface ReceiverHost {
  name: string;
  address: string;
  port: number;
  version: string;
  /** the peer address its connection came from */
  remote: string;
  /** ISO time of its registration */
  since: string;
}

/** at most this many receiver hosts (a bound on what clients can make the control server hold) */
export const MAX_RECEIVER_HOSTS = 64;

export class ReceiverRegistry {
  /** name → host and the connection that registered it (a host is registered while that connection lives) */
  private readonly hosts = new Map<string, { host: ReceiverHost; owner: number; channel: HostChannel | null }>();

  /** Count a host in; a name already held by another live connection is refused. */
  register(reg: ReceiverRegistration, owner: number, remote: string, channel: HostChannel | null = null): ReceiverHost {
    const held = this.hosts.get(reg.name);
    if (held && held.owner !== owner) {
      throw new DaqError('StateError', `receivers.register: a receiver named ${reg.name} is already registered (from ${held.host.remote}); give each host its own --host-name`);
    }
    if (!held && this.hosts.size >= MAX_RECEIVER_HOSTS) {
      throw new DaqError('LimitError', `receivers.register: at most ${MAX_RECEIVER_HOSTS} receiver hosts`, undefined, { limit: 'receiver_hosts', max: MAX_RECEIVER_HOSTS });
    }
    const host: ReceiverHost = { name: reg.name, address: reg.address, port: reg.port, version: reg.version, remote, since: new Date().toISOString() };
    this.hosts.set(reg.name, { host, owner, channel: channel ?? held?.channel ?? null });
    return host;
  }

  /** The connection `owner` closed: its hosts are gone. */
  drop(owner: number): ReceiverHost[] {
    const gone = [...this.hosts.values()].filter((h) => h.owner === owner).map((h) => h.host);
    for (const h of gone) this.hosts.delete(h.name);
    return gone;
  }

  /** The connection to a registered host (the frame path runs over it); null when it is not registered. */
  channel(name: string): HostChannel | null {
    return this.hosts.get(name)?.channel ?? null;
  }

  list(): ReceiverHost[] {
    return [...this.hosts.values()].map((h) => h.host).sort((a, b) => a.name.localeCompare(b.name));
  }
}
