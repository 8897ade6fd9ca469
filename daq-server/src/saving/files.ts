/**
 * How saving creates files. Nothing is ever written through a link or into a
 * file someone else made: data files are created exclusively
 * (O_CREAT|O_EXCL|O_NOFOLLOW, `H5Writer.create`); whole files (the master, the
 * sparse file) are written under a temporary name in the same folder and then
 * moved into place, so their final name only ever shows a complete file.
 * `file_exists_policy` is applied when each file is created, not only at
 * prepare: "abort" refuses an entry that appeared since (the error names it and
 * leaves it untouched), "overwrite" removes the entry (a symlink, not its
 * target) and creates a new file.
 */
import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { H5Writer } from './hdf5/index.js';

export type ExistsPolicy = 'abort' | 'overwrite';

/** The error of `file_exists_policy: "abort"` for a file that appeared after prepare. */
export function existsError(path: string): Error & { code: string } {
  return Object.assign(
    new Error(`file_exists_policy "abort": ${path} already exists (it appeared after prepare); it was left untouched and nothing was written to it`),
    { code: 'EEXIST' },
  );
}

/** Create an HDF5 file under the policy (exclusive, never through a link). */
export function createH5(path: string, policy: ExistsPolicy): H5Writer {
  try {
    return H5Writer.create(path, { overwrite: policy === 'overwrite' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw existsError(path);
    throw e;
  }
}

/**
 * Identity of a file we published, to tell it from one put in its place: the
 * inode (which a new file may reuse), its size and modification time.
 */
export interface FileId {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

function fileId(path: string): FileId | null {
  try {
    const st = lstatSync(path, { bigint: true });
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

const sameFile = (a: FileId, b: FileId): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;

/**
 * Write a whole file: `write(tmp)` fills a fresh temporary in the same folder,
 * which then takes the name `path`. `ours` is the file this saver put there
 * before (replaced without asking); anything else at `path` is handled by the
 * policy. On any error the temporary is removed and `path` is as it was.
 */
export function writeWhole(path: string, policy: ExistsPolicy, ours: FileId | null, write: (tmp: string) => void): FileId {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    write(tmp);
    const id = fileId(tmp)!;
    const there = fileId(path);
    if (there && ((ours && sameFile(there, ours)) || policy === 'overwrite')) {
      renameSync(tmp, path); // replaces the entry itself: a link there is replaced, never followed
    } else if (there) {
      throw existsError(path);
    } else {
      moveNoReplace(tmp, path);
    }
    return id;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* moved into place, or never created */
    }
  }
}

/** Give `tmp` the name `path` unless something took that name meanwhile (a hard link fails with EEXIST). */
function moveNoReplace(tmp: string, path: string): void {
  try {
    linkSync(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw existsError(path);
    // file systems without hard links: the name was free a moment ago
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return renameSync(tmp, path);
    throw e;
  }
}
