/**
 * "May this client read that file?" for services that take paths from clients (the jobs service's
 * template inputs): the catalogue's rule for proposal folders (`pathVisible`), on the path with its
 * links resolved. The answer depends on the proposal folder only, never on whether the file exists,
 * so it cannot tell another proposal's files apart; elsewhere every path passes, as before (the
 * job's unix user's permissions still apply).
 */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { withDeadline } from '../files/index.js';
import type { Catalogue } from './service.js';

export function readableFile(catalogue: Catalogue): (token: string | null, path: string) => Promise<boolean> {
  return async (token, path) => {
    const given = resolve(path);
    let real: string | null;
    try {
      real = await withDeadline(() => realpath(given), `resolving ${given}`);
    } catch {
      real = null;
    }
    const who = catalogue.access.resolve(token);
    // both the name given and where its links lead (a link out of a proposal folder into another)
    return (await catalogue.canReadPath(who, given)) && (real === null || (await catalogue.canReadPath(who, real)));
  };
}
