/**
 * Where a run's receivers go when `processing.receiver_hosts` names receiver hosts (or "all" registered
 * ones): every named host must be registered now, and `nb_receivers` is spread over them (at least one
 * each, the first hosts take the remainder). A host that registers later waits for the next prepare.
 */
import type { FieldError } from '../../../protocol/index.js';
import type { HostChannel } from './channel.js';
import type { ReceiverRegistry } from './registry.js';

export interface Placement {
  names: string[];
  channels: HostChannel[];
  /** receivers (PULL sockets and pipeline threads) on each host */
  counts: number[];
}

const FIELD = 'processing.receiver_hosts';

export function placeReceivers(requested: unknown, nbReceivers: number, registry: ReceiverRegistry | null): { placement: Placement | null; errors: FieldError[] } {
  if (requested === undefined || requested === null) return { placement: null, errors: [] };
  const err = (field: string, message: string) => ({ placement: null, errors: [{ field, message }] });
  if (!registry) return err(FIELD, 'this server is not a control server: start it with --role control (or a topology file) for receiver hosts');
  const registered = registry.list().map((h) => h.name);
  const names = requested === 'all' ? registered : (requested as string[]);
  if (!names.length) return err(FIELD, 'no receiver host is registered with this control server');
  const missing = names.filter((n) => registry.channel(n) === null);
  if (missing.length) return err(FIELD, `not registered: ${missing.join(', ')} (registered: ${registered.join(', ') || 'none'})`);
  if (nbReceivers < names.length) return err('processing.nb_receivers', `${nbReceivers} receivers cannot cover ${names.length} receiver hosts: give at least one per host`);
  const counts = names.map((_, k) => Math.floor(nbReceivers / names.length) + (k < nbReceivers % names.length ? 1 : 0));
  return { placement: { names, channels: names.map((n) => registry.channel(n)!), counts }, errors: [] };
}
