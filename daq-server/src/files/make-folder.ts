/**
 * Create a client-named folder (already confined, roots.ts) one component at
 * a time, each mkdir with a deadline. Node's recursive mkdir is not used: on
 * some file systems (/proc) it retries forever, in a libuv thread or, in its
 * synchronous form, on the event loop.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { withDeadline } from './deadline.js';
import { reason } from './read-user-file.js';

export class FolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FolderError';
  }
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

/** Make sure `realPath` is a folder the server can write into, creating what is missing. */
export async function makeFolder(realPath: string): Promise<void> {
  const missing: string[] = [];
  let probe = realPath;
  // walk up to the deepest existing ancestor
  for (;;) {
    try {
      const st = await withDeadline(() => stat(probe), 'checking the folder');
      if (!st.isDirectory()) throw new FolderError(probe === realPath ? 'exists and is not a folder' : 'a component of the path is not a folder');
      break;
    } catch (err) {
      if (err instanceof FolderError || (err as Error).name === 'FsTimeoutError') throw err;
      if (code(err) !== 'ENOENT') throw new FolderError(reason(err));
    }
    missing.push(probe);
    const parent = dirname(probe);
    if (parent === probe) throw new FolderError('no such file system');
    probe = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      await withDeadline(() => mkdir(dir), 'creating the folder');
    } catch (err) {
      if ((err as Error).name === 'FsTimeoutError') throw err;
      if (code(err) !== 'EEXIST') throw new FolderError(`cannot be created (${code(err) ?? 'error'})`);
    }
  }
  try {
    await withDeadline(() => access(realPath, constants.W_OK), 'checking the folder');
  } catch (err) {
    if ((err as Error).name === 'FsTimeoutError') throw err;
    throw new FolderError(`is not writable (${code(err) ?? 'error'})`);
  }
}
