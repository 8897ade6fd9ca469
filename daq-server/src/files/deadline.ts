/**
 * File-system operations on paths a client names run with a deadline: a hung
 * file system (a stale NFS mount, a FUSE daemon, a /proc oddity) costs the
 * request a timeout, never a frozen prepare. An operation cannot be cancelled:
 * it keeps its libuv thread until it returns. So while a few timed-out
 * operations are still pending, new ones are refused at once instead of
 * taking the last threads of the pool (which the server needs for its own
 * files).
 */

/** Default deadline of one client-named file operation (open, stat, read, mkdir ...). */
export const FS_TIMEOUT_MS = 5000;

/** The deadline in force (tests shorten it). */
export const fsLimits = { timeoutMs: FS_TIMEOUT_MS };

/** Timed-out operations still pending beyond which new ones are refused (libuv's pool has 4 threads). */
const MAX_STUCK = 2;
let stuck = 0;

export class FsTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FsTimeoutError';
  }
}

/** Operations that timed out and have not returned yet. */
export const stuckOperations = (): number => stuck;

/**
 * Run `op` (a promise-returning fs call) with a deadline; `what` says what was attempted, for the error.
 * `late` receives a result that arrives after the deadline (to close a file handle nobody will use).
 */
export async function withDeadline<T>(op: () => Promise<T>, what: string, ms = fsLimits.timeoutMs, late?: (value: T) => void): Promise<T> {
  if (stuck >= MAX_STUCK) {
    throw new FsTimeoutError(`${what}: the file system has not answered earlier requests (${stuck} pending); try again later`);
  }
  const pending = op();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stuck++;
      // once the operation finally settles, its thread is free again
      pending.then(
        (value) => {
          stuck--;
          late?.(value);
        },
        () => stuck--,
      );
      reject(new FsTimeoutError(`${what}: the file system did not answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
