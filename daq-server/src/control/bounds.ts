/**
 * Queue lengths a client names, bounded at prepare by the memory they imply: frames waiting for a
 * free receiver (processing.max_pending) and frames waiting for the writers (saving.max_queued_frames).
 * The schema alone allowed 10⁹ pending frames, petabytes of a 500k detector's frames.
 */
import type { FieldError } from '../protocol/index.js';
import { fmtBytes, serverMemoryLimit } from '../processing/limits.js';

export interface QueueParams {
  processing?: Record<string, unknown>;
  saving?: Record<string, unknown>;
}

/** Field errors for the queues of `params` whose frames of `frameBytes` each would pass the server's limit. */
export function queueProblems(params: QueueParams, frameBytes: number, limit = serverMemoryLimit()): FieldError[] {
  const errors: FieldError[] = [];
  const check = (field: string, frames: unknown, what: string): void => {
    if (typeof frames !== 'number' || !Number.isFinite(frames)) return;
    const bytes = frames * frameBytes;
    if (bytes <= limit) return;
    errors.push({
      field,
      message:
        `${frames} ${what} of ${fmtBytes(frameBytes)} each may hold ${fmtBytes(bytes)}, more than the server's limit of ${fmtBytes(limit)} ` +
        `(half the machine memory): at most ${Math.floor(limit / frameBytes)} frames`,
    });
  };
  check('processing.max_pending', params.processing?.max_pending, 'frames waiting for a receiver');
  if (params.saving?.enabled) check('saving.max_queued_frames', params.saving.max_queued_frames, 'frames waiting for the writers');
  return errors;
}
