/**
 * A detector run whose frames go to receiver hosts: the control server drives the detector as usual (arm,
 * trigger, stop, its watchdog) through the wrapped run, which opened no socket on the stream here; the frames
 * the acquisition counts are the hosts' processed frames (data-less markers from the RemotePool), and the
 * series is over when the pool says every host finished.
 */
import type { DetectorRun, PushedSource, ReceivedFrame, Receiver } from '../../../detectors/plugin.js';
import type { RemotePool } from './remote-pool.js';

export class RemoteRun implements DetectorRun, PushedSource {
  readonly pushed: PushedSource = this;
  private closed = false;

  constructor(
    private readonly inner: DetectorRun & { pushed: PushedSource },
    private readonly pool: RemotePool,
  ) {
    pool.seriesId = () => inner.pushed.seriesId?.() ?? null;
  }

  get config(): Record<string, unknown> {
    return this.inner.config;
  }
  get shape(): number[] {
    return this.inner.shape;
  }
  get dtype() {
    return this.inner.dtype;
  }
  get minPeriod(): number {
    return this.inner.minPeriod;
  }
  receiver(rank: number, count: number): Receiver {
    return this.inner.receiver(rank, count);
  }
  describe(): Record<string, unknown> {
    return this.inner.describe();
  }

  start(): Promise<void> {
    const started = this.inner.pushed.start();
    void this.announceSeries();
    return started;
  }

  /** Once the detector answered the arm (start() itself lasts the whole series): its series id to the hosts. */
  private async announceSeries(): Promise<void> {
    if (!this.inner.pushed.seriesId) return;
    for (let k = 0; k < 3000 && !this.closed; k++) {
      const id = this.inner.pushed.seriesId?.() ?? null;
      if (id !== null) return this.pool.announceSeries(id);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  trigger(): Promise<void> {
    return this.inner.pushed.trigger();
  }
  stop(): Promise<void> {
    return this.inner.pushed.stop();
  }
  abort(): Promise<void> {
    return this.inner.pushed.abort();
  }
  take(max: number): ReceivedFrame[] {
    return this.pool.takeMarkers(max);
  }
  takeMaps() {
    return this.inner.pushed.takeMaps();
  }
  /** the detector's own fault (it stopped answering, went to error), else the hosts' end of the series */
  get ended(): { fault: string | null } | null {
    const own = this.inner.pushed.ended;
    if (own?.fault) return own;
    return this.pool.done ? { fault: null } : null;
  }
  onReady(listener: () => void): void {
    this.inner.pushed.onReady(listener);
    this.pool.onReady(listener);
  }
  describeSeries(): Record<string, unknown> {
    return { ...this.inner.pushed.describeSeries(), receiver_hosts: this.pool.describe(), leftovers_of_other_series: this.pool.leftovers };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // a run that ends before the hosts finished (a host lost, processing failed): the detector stops streaming
    if (!this.pool.done) void this.inner.pushed.abort().catch(() => undefined);
    this.inner.close();
  }
}
