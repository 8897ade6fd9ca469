/**
 * At most one run per `ms`, and always one after the last request: tools that follow the drawn
 * frame at a bounded rate (histogram, ROI statistics, profile) still end on the frame left on screen.
 */
export class Throttle {
  private last = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly ms: number, private readonly run: () => void, private readonly now = () => performance.now()) {}

  request(): void {
    if (this.timer) return; // a run is due: it will see the newest state
    const wait = this.last + this.ms - this.now();
    if (wait <= 0) return this.fire();
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Run now (a ROI or the line changed: no waiting). */
  flush(): void {
    this.fire();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private fire(): void {
    this.cancel();
    this.last = this.now();
    this.run();
  }
}
