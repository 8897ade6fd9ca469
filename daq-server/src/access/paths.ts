/**
 * Which proposal a file belongs to, from where it lies: the data policy puts every file of a proposal
 * under `<root>/<proposal>/<beamline>/...` (catalogue/service.ts), so the first folder below the data
 * root names the proposal. Files elsewhere (outside the root, or directly in it) belong to none and keep
 * the single-user behaviour. The decision itself is the catalogue's `pathVisible` (one rule for files
 * and scans: the proposal's); this only reads the path.
 */
import { isAbsolute, normalize, relative, sep } from 'node:path';

/** The proposal folder `path` (absolute, already resolved by the caller) lies in, or null. */
export function proposalOfPath(root: string, path: string): string | null {
  if (!isAbsolute(path) || !isAbsolute(root)) return null;
  const rel = relative(normalize(root), normalize(path));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  const parts = rel.split(sep);
  // a proposal's files are in its folder: `<root>/<proposal>` itself and `<root>/<file>` name none
  return parts.length >= 2 ? parts[0] : null;
}

/**
 * The proposal whose own folder `path` is (`<root>/<proposal>`), or null. Guarded as its contents are,
 * so that a listing of the root does not tell which other proposals exist.
 */
export function proposalFolderOf(root: string, path: string): string | null {
  if (!isAbsolute(path) || !isAbsolute(root)) return null;
  const rel = relative(normalize(root), normalize(path));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes(sep)) return null;
  return rel;
}
