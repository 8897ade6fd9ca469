/**
 * One identity model for every path that reaches data. A principal is who a request acts for, with
 * its roles: operator (the server's own token, or any client when no --users file exists: the
 * single-user setup of today), staff of beamlines, member of proposals, automation, or public.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserEntry } from './users-file.js';

export interface Principal {
  /** a user name, 'operator' or 'public' */
  name: string;
  /** sees and writes everything (the server's token; every client of a server without a users file) */
  operator: boolean;
  /** staff of these beamlines ('*': all) */
  staffOf: string[];
  /** member of these proposals (besides the teams the catalogue records) */
  proposals: string[];
  /** software that writes datasets and logbook entries */
  automation: boolean;
}

export const PUBLIC: Principal = { name: 'public', operator: false, staffOf: [], proposals: [], automation: false };
export const OPERATOR: Principal = { name: 'operator', operator: true, staffOf: ['*'], proposals: [], automation: true };

export function principalOf(e: UserEntry): Principal {
  return {
    name: e.user,
    operator: false,
    staffOf: e.staff ? (e.beamlines.length ? e.beamlines : ['*']) : [],
    proposals: e.proposals,
    automation: e.automation,
  };
}

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Login sessions last this long (SciCat's access tokens). */
const LOGIN_TTL_MS = 8 * 3600 * 1000;
const MAX_LOGINS = 10_000;

/**
 * Resolves tokens to principals: the server token, the users file, and tokens issued by a password
 * login. `users` null: no users file, every client that passed the connection check is the operator.
 */
export class AccessControl {
  private readonly logins = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly users: Map<string, UserEntry> | null,
    private readonly serverToken: string | null,
    readonly now: () => Date = () => new Date(),
  ) {}

  get mapped(): boolean {
    return this.users !== null;
  }

  /** The principal of a token (null token: anonymous). Unknown tokens are public, never an error here. */
  resolve(token: string | null): Principal {
    if (token !== null && this.serverToken !== null && same(token, this.serverToken)) return OPERATOR;
    if (!this.users) return OPERATOR;
    if (token === null) return PUBLIC;
    const e = this.users.get(token);
    if (e) return principalOf(e);
    const l = this.logins.get(token);
    if (l && l.expires > this.now().getTime()) return l.principal;
    return PUBLIC;
  }

  /**
   * The principal of a user named by Jupyter (access/forwarded.ts): the users-file entry of that
   * name, public when there is none. Without a users file everyone is the operator, as for tokens.
   */
  byName(user: string): Principal {
    if (!this.users) return OPERATOR;
    for (const e of this.users.values()) if (e.user === user) return principalOf(e);
    return PUBLIC;
  }

  /** Is this token known (server, users file or a live login)? */
  known(token: string | null): boolean {
    if (token === null) return false;
    if (this.serverToken !== null && same(token, this.serverToken)) return true;
    if (this.users?.has(token)) return true;
    const l = this.logins.get(token);
    return !!l && l.expires > this.now().getTime();
  }

  /** Password login (SciCat auth/login): a fresh token, or null when user or password is wrong. */
  login(user: string, password: string): { token: string; ttlSeconds: number; principal: Principal } | null {
    if (!this.users) return null;
    const digest = createHash('sha256').update(password).digest('hex');
    for (const e of this.users.values()) {
      if (e.user === user && e.passwordSha256 !== null && same(digest, e.passwordSha256)) {
        const now = this.now().getTime();
        if (this.logins.size >= MAX_LOGINS) for (const [t, l] of this.logins) if (l.expires <= now) this.logins.delete(t);
        if (this.logins.size >= MAX_LOGINS) this.logins.delete(this.logins.keys().next().value as string);
        const token = randomBytes(24).toString('base64url');
        const principal = principalOf(e);
        this.logins.set(token, { principal, expires: now + LOGIN_TTL_MS });
        return { token, ttlSeconds: LOGIN_TTL_MS / 1000, principal };
      }
    }
    return null;
  }

  logout(token: string): void {
    this.logins.delete(token);
  }
}
