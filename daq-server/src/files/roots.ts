/**
 * Data roots: the folders a client may name files in (saving `base_path`,
 * `poni`, `*_file` parameters). A client-named path is confined before the
 * server touches it:
 *
 *  - it must be absolute; `..` is resolved lexically, and a path that is not
 *    under a root is refused without any file-system call, so the answer
 *    never says whether something outside the roots exists;
 *  - under a root, the real path of its deepest existing ancestor must still
 *    be under a root (a symlinked folder or file cannot lead out); a symlink
 *    that leads nowhere is refused the same way;
 *  - every file-system call has a deadline (deadline.ts).
 *
 * The result is the real path, which the caller then uses (and opens with
 * O_NOFOLLOW, so a symlink swapped in afterwards is not followed).
 */
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep, dirname, basename } from 'node:path';
import { withDeadline } from './deadline.js';

export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

/** `path` is `root` or inside it (both absolute and normalised). */
export function within(path: string, root: string): boolean {
  if (path === root) return true;
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

const realRoots = new Map<string, string>();

/** A root's real path (cached once it exists; a missing root is taken as written). */
async function realRoot(root: string): Promise<string> {
  const hit = realRoots.get(root);
  if (hit) return hit;
  try {
    const real = await withDeadline(() => realpath(root), `data root ${root}`);
    realRoots.set(root, real);
    return real;
  } catch {
    return resolve(root);
  }
}

const outside = (path: string, roots: readonly string[]): PathError =>
  new PathError(`${path} is outside the data roots (${roots.join(', ') || 'none configured'}); the server reads and writes only there`);

/**
 * Confine a client-named path to the data roots; returns its real path (the
 * real path of the deepest existing ancestor plus the missing components).
 * Throws PathError (or FsTimeoutError) with a message for the client.
 */
export async function confine(path: unknown, roots: readonly string[]): Promise<string> {
  if (typeof path !== 'string' || path === '') throw new PathError('must be a non-empty absolute path');
  if (path.includes('\0')) throw new PathError('must not contain NUL characters');
  if (!isAbsolute(path)) throw new PathError(`must be an absolute path, got ${JSON.stringify(path)}`);
  const abs = resolve(path);
  const reals = await Promise.all(roots.map(realRoot));
  const lexical = roots.map((r) => resolve(r));
  if (![...lexical, ...reals].some((r) => within(abs, r))) throw outside(path, roots);
  // the deepest existing ancestor, by its real path
  let probe = abs;
  const missing: string[] = [];
  for (;;) {
    try {
      const real = await withDeadline(() => realpath(probe), `resolving ${probe}`);
      const full = missing.length ? join(real, ...missing.reverse()) : real;
      if (!reals.some((r) => within(full, r))) throw outside(path, roots);
      return full;
    } catch (err) {
      if (err instanceof PathError || (err as Error).name === 'FsTimeoutError') throw err;
      // missing, not a folder, not searchable (EACCES): judge by the ancestors. An error code is never
      // reported here: through a symlink it could describe something outside the roots.
    }
    // a symlink that leads nowhere (its target may be outside the roots) is refused
    const dangling = await withDeadline(() => lstat(probe), `resolving ${probe}`).then(
      (st) => st.isSymbolicLink(),
      (err: Error) => {
        if (err.name === 'FsTimeoutError') throw err;
        return false;
      },
    );
    if (dangling) throw outside(path, roots);
    const parent = dirname(probe);
    if (parent === probe) throw outside(path, roots);
    missing.push(basename(probe));
    probe = parent;
  }
}
