/**
 * The view transform of LiveImage: which detector pixel sits where on the screen. Centre (cx, cy)
 * in detector pixels (x = column, y = row), `s` detector pixels per screen pixel; the viewport is
 * the stage's size in CSS pixels. Free of DOM, so it is unit tested in Node.
 */
export interface Viewport {
  width: number;
  height: number;
}

export class ViewTransform {
  cx = 0;
  cy = 0;
  s = 1;
  /** the detector frame, fullRows × fullCols */
  fullRows = 0;
  fullCols = 0;
  fitted = false;
  /** the user zoomed or panned: a resize keeps the view instead of fitting the frame again */
  userMoved = false;

  constructor(private readonly viewport: () => Viewport) {}

  get size(): Viewport {
    return this.viewport();
  }

  /** The whole frame, centred. */
  fit(): void {
    if (!this.fullRows) return;
    const { width, height } = this.viewport();
    this.s = Math.max(this.fullCols / width, this.fullRows / height);
    this.cx = this.fullCols / 2;
    this.cy = this.fullRows / 2;
    this.fitted = true;
    this.userMoved = false;
  }

  /** Screen pixel in the stage → detector coordinates: x = column, y = row. */
  toImage(px: number, py: number): { x: number; y: number } {
    const { width, height } = this.viewport();
    return { x: this.cx + (px - width / 2) * this.s, y: this.cy + (py - height / 2) * this.s };
  }

  toScreen(x: number, y: number): [number, number] {
    const { width, height } = this.viewport();
    return [(x - this.cx) / this.s + width / 2, (y - this.cy) / this.s + height / 2];
  }

  /** Zoom by `factor` (> 1: out) keeping the detector point under (px, py) in place. */
  zoomAt(px: number, py: number, factor: number): void {
    const before = this.toImage(px, py);
    this.s *= factor;
    this.userMoved = true;
    const after = this.toImage(px, py);
    this.cx += before.x - after.x;
    this.cy += before.y - after.y;
  }

  /** A key that changes whenever what is on screen moves (overlays redraw only then). */
  key(): string {
    const { width, height } = this.viewport();
    return `${this.cx}|${this.cy}|${this.s}|${width}|${height}`;
  }
}
