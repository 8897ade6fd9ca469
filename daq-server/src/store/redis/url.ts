/** The `--store` option: `memory` (the embedded store) or `redis://[USER:PASSWORD@]HOST:PORT[/DB]`. */
import { isIP } from 'node:net';

export type StoreChoice = { kind: 'memory' } | { kind: 'redis'; url: string; host: string; port: number; db: number };

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Parse and check a store choice; errors name `field` (the option or config key). Redis off
 * loopback needs a password (an ACL user's or `requirepass`), in the URL (config file) or in
 * $DAQLAB_REDIS_PASSWORD (`envPassword`; kept off the command line): the data would otherwise be
 * open to anyone on the network.
 */
export function parseStore(text: string, field = '--store', envPassword = false): StoreChoice {
  if (text === 'memory') return { kind: 'memory' };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`${field}: expected memory or redis://HOST:PORT/DB, got ${JSON.stringify(text.replace(/[^\s/]*@/g, '***@'))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${field}: expected memory or a redis:// URL, got the scheme ${u.protocol}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new Error(`${field}: the database number must be 0–15, got ${JSON.stringify(path)}`);
  if (u.search || u.hash) throw new Error(`${field}: a redis URL takes no query or fragment`);
  const host = u.hostname;
  if (!isLoopbackHost(host) && !u.password && !envPassword) {
    throw new Error(`${field}: Redis off loopback (${host}) needs a password: redis://USER:PASSWORD@${host}:${port}/${db} (an ACL user, or default with requirepass) or $DAQLAB_REDIS_PASSWORD`);
  }
  return { kind: 'redis', url: text, host, port, db };
}
