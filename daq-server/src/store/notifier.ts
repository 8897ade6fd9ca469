/**
 * Wake-up without polling: readers wait on a Notifier, producers call notify() after
 * appending / sealing. Every wait ends by notify, timeout or abort, and cleans up its
 * timer and abort listener.
 */

/** setTimeout cannot wait longer than this; longer timeouts count as "forever". */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Waiter {
  settle(notified: boolean): void;
}

export class Notifier {
  private waiters = new Set<Waiter>();

  /** number of pending waits (for tests) */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Wake every current waiter (cheap when nobody waits). */
  notify(): void {
    if (this.waiters.size === 0) return;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w.settle(true);
  }

  /**
   * Resolves true at the next notify(), false when `timeout` ms pass or `signal` aborts.
   * `timeout` undefined (or not finite, or beyond setTimeout's range): no time limit.
   */
  wait(timeout?: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (timeout !== undefined && !(timeout > 0)) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      const waiter: Waiter = {
        settle: (notified) => {
          if (timer !== undefined) clearTimeout(timer);
          if (onAbort) signal!.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(notified);
        },
      };
      if (timeout !== undefined && timeout <= MAX_TIMER_MS) timer = setTimeout(() => waiter.settle(false), timeout);
      if (signal) {
        onAbort = () => waiter.settle(false);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.waiters.add(waiter);
    });
  }
}

/** A deadline in performance.now() time; Infinity for no limit. */
export function deadlineOf(timeout: number | undefined): number {
  if (timeout === undefined || !Number.isFinite(timeout) || timeout > MAX_TIMER_MS) return Infinity;
  return performance.now() + Math.max(0, timeout);
}

/** ms left until `deadline` (undefined: no limit). */
export function remainingUntil(deadline: number): number | undefined {
  return deadline === Infinity ? undefined : deadline - performance.now();
}

/**
 * Wait until `ready()` holds, re-checking at each notify. Resolves to ready() at the end
 * (true as soon as it holds, false after timeout, abort or `giveUp()`).
 */
export async function waitUntil(
  notifier: Notifier,
  ready: () => boolean,
  options: { timeout?: number; signal?: AbortSignal; giveUp?: () => boolean },
): Promise<boolean> {
  const deadline = deadlineOf(options.timeout);
  while (!ready()) {
    if (options.giveUp?.()) return false;
    const remaining = remainingUntil(deadline);
    if (remaining !== undefined && remaining <= 0) return false;
    if (!(await notifier.wait(remaining, options.signal))) return ready();
  }
  return true;
}
