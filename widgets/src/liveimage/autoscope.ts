/**
 * What autoscale's levels are taken from. Zooming must not silently change the levels: with scope
 * `frame` (the default) they come from the whole frame. A drawn texture that covers the whole frame gives
 * them itself; while a region is drawn (zoomed in) they come from the whole frame's statistics the server
 * sends with each region (`frame_stats`, per detector pixel), so they follow each new frame; without
 * those (an older server) the last whole frame's levels stay. Either is rescaled to the drawn binning (a
 * binned texture holds sums of b×b pixels: values b² larger). With scope `view` they follow what is
 * drawn, as a user who asks for it expects. Lock range (auto_range off) is decided before: nothing here
 * runs then. Free of DOM (unit tested in Node).
 */
import type { FrameStats } from '@daqlab/daq-server/protocol';
import type { Placement } from './model.js';

export type AutoScope = 'frame' | 'view';
export const AUTO_SCOPES: readonly AutoScope[] = ['frame', 'view'];

/** Whether a drawn texture covers the whole frame of `fullRows` × `fullCols` pixels (binning drops < b edge pixels). */
export function coversFrame(p: Placement, fullRows: number, fullCols: number): boolean {
  const b = Math.max(1, p.binning);
  return p.r0 === 0 && p.c0 === 0 && p.rows * b > fullRows - b && p.cols * b > fullCols - b;
}

export class AutoLevels {
  /** levels of the last whole frame, per binned pixel of binning 1 (divided by b²) */
  private perPixel: [number, number] | null = null;

  /** Forget the whole frame's levels (another scan or stream). */
  reset(): void {
    this.perPixel = null;
  }

  /**
   * The levels for a drawn texture: `computed` are the percentiles of what is drawn (null: none),
   * `frame` the whole frame's statistics sent with it (null: none). Returns null when there is nothing to set.
   */
  levels(
    scope: AutoScope,
    placed: Placement,
    fullRows: number,
    fullCols: number,
    computed: [number, number] | null,
    frame: FrameStats | null = null,
  ): [number, number] | null {
    const b2 = Math.max(1, placed.binning) ** 2;
    const whole = coversFrame(placed, fullRows, fullCols);
    if (whole && computed) this.perPixel = [computed[0] / b2, computed[1] / b2];
    if (scope === 'view' || whole) return computed;
    if (frame) return [frame[2] * b2, frame[3] > frame[2] ? frame[3] * b2 : (frame[2] + 1) * b2];
    if (!this.perPixel) return computed;
    return [this.perPixel[0] * b2, this.perPixel[1] * b2];
  }
}
