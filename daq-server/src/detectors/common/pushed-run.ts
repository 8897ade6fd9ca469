/**
 * What a run of a detector that pushes its frames over ZeroMQ (dectris, jungfraujoch) does the same way whatever
 * the detector: the series assembler's frames and state, no frame pulled by index, a watchdog while it runs, closing.
 */
import { DaqError, type DType } from '../../protocol/index.js';
import type { DetectorInfo, ReceivedFrame, Receiver } from '../plugin.js';
import type { SeriesAssembler } from '../dectris/series.js';

/** How often a running series checks that the detector still answers and is not in error (ms). */
export const WATCHDOG_MS = 1000;

/** The shared part of a DetectorRun that is its own PushedSource (the subclass says `implements` both). */
export abstract class PushedSeriesRun {
  readonly shape: number[];
  readonly dtype: DType;
  readonly minPeriod: number;
  protected closed = false;
  private watchdog: NodeJS.Timeout | null = null;

  protected constructor(
    detector: DetectorInfo,
    protected readonly series: SeriesAssembler,
    /** who pushes the frames, in the error of a pull (`a DECTRIS detector`) */
    private readonly pusher: string,
  ) {
    this.shape = [...detector.shape];
    this.dtype = detector.dtype;
    this.minPeriod = 1 / detector.max_frame_rate;
  }

  get ended(): { fault: string | null } | null {
    return this.series.ended;
  }

  receiver(rank: number): Receiver {
    // frames are pushed (see PushedSource): nothing is pulled by index
    return {
      rank,
      receive: (): ReceivedFrame => {
        throw new DaqError('StateError', `${this.pusher} pushes its frames`);
      },
      close: () => undefined,
    };
  }

  losses(): { detector_dropped: number | null; missing_image_ids: number } {
    return { detector_dropped: this.series.detectorDropped, missing_image_ids: this.series.counters.missing_image_ids };
  }

  takeMaps() {
    return this.series.takeMaps();
  }

  onReady(listener: () => void): void {
    this.series.onReady(listener);
  }

  /** Runs `check` every WATCHDOG_MS until the series ends or the run closes; `check` faults the series when it must. */
  protected startWatchdog(check: () => Promise<void>): void {
    const tick = async (): Promise<void> => {
      if (this.closed || this.series.ended) return;
      await check();
      if (!this.closed && !this.series.ended) this.watchdog = setTimeout(() => void tick(), WATCHDOG_MS);
    };
    this.watchdog = setTimeout(() => void tick(), WATCHDOG_MS);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.series.close();
  }
}
