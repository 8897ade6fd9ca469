/**
 * Read a file a client named (already confined to the data roots, roots.ts)
 * without letting it block or exhaust anything:
 *
 *  - opened with O_NONBLOCK (a FIFO opens at once instead of waiting for a
 *    writer, so it cannot hold a libuv thread) and O_NOFOLLOW (a symlink
 *    swapped in after confinement is not followed);
 *  - fstat on the open descriptor: only a regular file is read (not a FIFO,
 *    a device such as /dev/zero, a socket or a folder), and only up to a size
 *    limit; a file that grows while it is read is cut off at the limit;
 *  - the whole read has a deadline.
 *
 * Errors say what is wrong with the file and never quote its content.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fsLimits, withDeadline } from './deadline.js';

export class UserFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserFileError';
  }
}

export interface ReadLimits {
  /** largest file read, in bytes */
  maxBytes: number;
  /** deadline of the open and of the whole read, in ms */
  timeoutMs?: number;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'is a symbolic link (not followed)',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a component of the path is not a folder',
  ENXIO: 'is not a regular file',
  EIO: 'input/output error',
};

/** What a file-system error means, without its message (which could carry more than the code). */
export function reason(err: unknown): string {
  const c = (err as NodeJS.ErrnoException)?.code;
  return (c && REASONS[c]) ?? `cannot be read (${c ?? 'error'})`;
}

function kind(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** 3 GiB, 1.5 MiB, 200 bytes */
function mib(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size) return `${+(n / size).toFixed(1)} ${unit}`;
  }
  return `${n} bytes`;
}

/**
 * Read a regular file of at most `maxBytes` bytes into shared memory (worker threads then use it without
 * a copy); `realPath` comes from confine(). Throws UserFileError / FsTimeoutError.
 */
export async function readUserFile(realPath: string, limits: ReadLimits): Promise<Uint8Array> {
  const ms = limits.timeoutMs ?? fsLimits.timeoutMs;
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | (constants.O_NOCTTY ?? 0);
  let fh: FileHandle;
  try {
    fh = await withDeadline(() => open(realPath, flags), 'opening the file', ms, (late) => void late.close().catch(() => undefined));
  } catch (err) {
    if ((err as Error).name === 'FsTimeoutError') throw err;
    throw new UserFileError(reason(err));
  }
  try {
    return await withDeadline(() => readAll(fh, limits.maxBytes), 'reading the file', ms);
  } finally {
    void fh.close().catch(() => undefined);
  }
}

async function readAll(fh: FileHandle, maxBytes: number): Promise<Uint8Array> {
  let st;
  try {
    st = await fh.stat();
  } catch (err) {
    throw new UserFileError(reason(err));
  }
  if (!st.isFile()) throw new UserFileError(`is ${kind(st)}, not a regular file`);
  if (st.size > maxBytes) throw new UserFileError(`is ${mib(st.size)}, larger than the ${mib(maxBytes)} this parameter accepts`);
  // one byte more than announced tells a file that grew while being read
  const buf = new Uint8Array(new SharedArrayBuffer(Math.min(st.size + 1, maxBytes + 1)));
  let n = 0;
  for (;;) {
    let got: number;
    try {
      ({ bytesRead: got } = await fh.read(buf, n, buf.length - n, n));
    } catch (err) {
      throw new UserFileError(reason(err));
    }
    if (got === 0) break;
    n += got;
    if (n === buf.length) {
      if (n > maxBytes) throw new UserFileError(`grew beyond the ${mib(maxBytes)} this parameter accepts while it was read`);
      break; // the file grew by a byte but stays under the limit: read what was announced plus that byte
    }
  }
  return buf.subarray(0, n);
}
