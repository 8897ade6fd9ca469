/**
 * Who writes in the logbook. A small interface so that the identity model of
 * access/ (users, roles, proposals) can replace today's: the token map of the
 * `--users` file (jobs/identity.ts), else the unix user the server runs as.
 */
import type { Identities } from '../jobs/identity.js';

export interface LogbookAuthors {
  /** the name recorded as the author of what a connection with this token writes */
  authorOf(token: string | null): string;
}

export function authorsFromUsers(identities: Identities): LogbookAuthors {
  return { authorOf: (token) => (token !== null ? identities.userOf(token) : null) ?? identities.self };
}
