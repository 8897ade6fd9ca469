/** The e-logbook room: open it where the server keeps its state. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Identities } from '../jobs/identity.js';
import { authorsFromUsers } from './identity.js';
import { Logbook } from './logbook.js';
import { SqliteLogbook } from './sqlite.js';

export { Logbook } from './logbook.js';
export { SqliteLogbook } from './sqlite.js';
export type { LogbookAuthors } from './identity.js';
export type { LogbookRepository } from './types.js';

export const LOGBOOK_FILE = 'logbook.sqlite';

/** `<stateDir>/logbook.sqlite`, or an in-memory logbook when the server keeps no state (embedders, tests). */
export function openLogbook(stateDir: string | null, identities: Identities): Logbook {
  let path = ':memory:';
  if (stateDir) {
    mkdirSync(stateDir, { recursive: true });
    path = join(stateDir, LOGBOOK_FILE);
  }
  return new Logbook(new SqliteLogbook(path), authorsFromUsers(identities));
}
