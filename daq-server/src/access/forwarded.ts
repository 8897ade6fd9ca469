/**
 * Identities forwarded by Jupyter. The Jupyter server extension (kernel-bridge/daqlab/h5server) knows
 * which user Jupyter authenticated (JupyterHub's user, behind jupyter-server-proxy too) and asks this
 * server on that user's behalf. It proves it may assert users with a shared secret that only it holds
 * (`$DAQLAB_JUPYTER_SECRET` on both sides): never the connection token, which Jupyter hands to
 * browsers (labconfig.py), so no browser can claim to be someone else. Without the secret configured
 * here, an asserted user is refused rather than believed.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { DaqError } from '../protocol/index.js';
import type { AccessControl, Principal } from './principal.js';

export const USER_HEADER = 'x-daqlab-user';
export const SECRET_HEADER = 'x-daqlab-jupyter-secret';
/** a secret shorter than this is refused at start (guessable) */
export const MIN_SECRET = 16;

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const one = (v: string | string[] | undefined): string | null => (Array.isArray(v) ? (v.length === 1 ? v[0] : null) : (v ?? null));

/**
 * The Jupyter user a request asserts, null when it asserts none; AuthError when it asserts one
 * without the right secret (or this server has none). Used for `/access/path` and for WebSocket
 * connections that the extension's relay (kernel-bridge/daqlab/wsproxy.py) opens for a browser.
 */
export function forwardedUser(secret: string | null, headers: IncomingHttpHeaders): string | null {
  const user = one(headers[USER_HEADER]);
  const given = one(headers[SECRET_HEADER]);
  if (user === null && given === null) return null;
  if (secret === null) throw new DaqError('AuthError', `${USER_HEADER}: this server accepts no forwarded users (start it with $DAQLAB_JUPYTER_SECRET)`);
  if (given === null || !same(given, secret)) throw new DaqError('AuthError', `${SECRET_HEADER}: missing or wrong`);
  if (user === null || user.length === 0 || user.length > 256) throw new DaqError('ParameterError', `${USER_HEADER}: the Jupyter user name is missing`);
  return user;
}

/** The principal of the Jupyter user a request asserts (forwardedUser), null when it asserts none. */
export function forwardedPrincipal(access: AccessControl, secret: string | null, headers: IncomingHttpHeaders): Principal | null {
  const user = forwardedUser(secret, headers);
  return user === null ? null : access.byName(user);
}
