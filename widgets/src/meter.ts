/**
 * Frames drawn per second and their latency (draw time − acquisition time),
 * summed over one reporting period: the median latency is what LiveImage shows.
 */
export class FrameMeter {
  private count = 0;
  private latencies: number[] = [];
  private busyMs = 0;

  /** main-thread time spent drawing one frame (copy to the texture, upload, render call) */
  busy(ms: number): void {
    this.busyMs += ms;
  }

  /** a frame was drawn; `acquiredAt` = its acquisition time, ms since the epoch (undefined: unknown) */
  drawn(acquiredAt: number | undefined, now = Date.now()): void {
    this.count++;
    if (acquiredAt !== undefined && Number.isFinite(acquiredAt) && this.latencies.length < 10000) this.latencies.push(now - acquiredAt);
  }

  /** fps over `seconds` and the median latency in ms (NaN when no frame carried a time); starts a new period */
  take(seconds: number): { fps: number; latency: number; drawMs: number } {
    const fps = this.count / seconds;
    const drawMs = this.count ? this.busyMs / this.count : NaN;
    this.busyMs = 0;
    const l = this.latencies.sort((a, b) => a - b);
    const latency = l.length ? (l.length % 2 ? l[(l.length - 1) / 2] : (l[l.length / 2 - 1] + l[l.length / 2]) / 2) : NaN;
    this.count = 0;
    this.latencies = [];
    return { fps, latency, drawMs };
  }
}
