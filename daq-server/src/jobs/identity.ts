/**
 * Who a client is, for the jobs service. With `--users FILE`
 * (`{"tokens": {"<token>": {"user": "alice", "staff": false}}}`) each token maps
 * to a unix user; without it every client acts as the unix user the server
 * runs as. Users are looked up in the system's passwd database (getent).
 */
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { DaqError } from '../protocol/index.js';
import type { JobUser } from './types.js';
import { readUsersFile } from '../access/users-file.js';

interface UserEntry {
  user: string;
  staff: boolean;
}

/** The passwd entry of `user` (uid, gid, home), or null when there is none. */
export function lookupUser(user: string): { uid: number; gid: number; home: string } | null {
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(user)) return null;
  try {
    const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', timeout: 5000 }).trim();
    const f = line.split(':');
    return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
  } catch {
    return null;
  }
}

export class Identities {
  private readonly tokens: Map<string, UserEntry> | null;
  private readonly cache = new Map<string, JobUser>();
  readonly self: string;

  constructor(usersFile: string | null, self = userInfo().username) {
    this.self = self;
    this.tokens = usersFile ? Identities.load(usersFile) : null;
  }

  /** The users file (access/users-file.ts, shared with the catalogue); every user must exist on this machine. */
  static load(path: string): Map<string, UserEntry> {
    const out = new Map<string, UserEntry>();
    for (const [token, e] of readUsersFile(path)) {
      if (!lookupUser(e.user)) throw new Error(`--users ${path}: no unix user ${JSON.stringify(e.user)} on this machine`);
      out.set(token, { user: e.user, staff: e.staff });
    }
    return out;
  }

  /** Tokens of the users file (the server also accepts these as connection tokens). */
  accepts(token: string | null): boolean {
    return token !== null && this.tokens !== null && this.tokens.has(token);
  }

  /** The unix user a token maps to in the users file (no passwd lookup), or null. */
  userOf(token: string): string | null {
    return this.tokens?.get(token)?.user ?? null;
  }

  get mapped(): boolean {
    return this.tokens !== null;
  }

  /** The passwd entry of a named user (for checks on files a job wrote). */
  resolveUser(user: string): JobUser {
    const key = `${user}\0passwd`;
    let u = this.cache.get(key);
    if (!u) {
      const pw = lookupUser(user);
      if (!pw) throw new DaqError('NotFoundError', `no unix user ${user}`);
      u = { user, staff: false, ...pw };
      this.cache.set(key, u);
    }
    return u;
  }

  /** The user behind a connection's token; AuthError when a users file exists and does not know it. */
  resolve(token: string | null): JobUser {
    let entry: UserEntry;
    if (this.tokens) {
      const e = token !== null ? this.tokens.get(token) : undefined;
      if (!e) throw new DaqError('AuthError', 'this connection has no user for jobs: connect with a token listed in the server\'s --users file');
      entry = e;
    } else entry = { user: this.self, staff: false };
    const key = `${entry.user}\0${entry.staff}`;
    let u = this.cache.get(key);
    if (!u) {
      const pw = lookupUser(entry.user);
      if (!pw) throw new DaqError('AuthError', `no unix user ${entry.user} on the server's machine`);
      u = { user: entry.user, staff: entry.staff, ...pw };
      this.cache.set(key, u);
    }
    return u;
  }
}
