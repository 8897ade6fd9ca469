/**
 * The geometry of one fly line: the fast axis cruises at |step| / acq_time through the scanned
 * range, its acceleration ramps lying outside it (it starts a ramp's length before the first point
 * and stops a ramp's length after the last point's exposure), and the trigger times along it.
 */
import { DaqError } from '../../protocol/index.js';
import type { FlyAxisSpec, FlyScanMode } from '../../protocol/scanning.js';
import type { Path } from '../../devices/profile.js';

export interface FlyLine {
  /** where the move starts and ends (ramps included) */
  from: number;
  to: number;
  /** cruise speed (units/s) */
  velocity: number;
  /** position of trigger 0, and the signed distance between triggers along this line */
  first: number;
  pitch: number;
  npoints: number;
}

/** Line `reverse` = false flies start → start + (n−1)·step; true flies back. */
export function flyLine(spec: FlyAxisSpec, acqTime: number, dynamics: { velocity: number; acceleration: number }, reverse = false): FlyLine {
  const velocity = Math.abs(spec.step) / acqTime;
  if (velocity > dynamics.velocity) {
    throw new DaqError('ParameterError', `acq_time: ${spec.axis} would fly at ${velocity} units/s (|step| / acq_time), faster than its velocity ${dynamics.velocity}; lengthen acq_time or shorten the step`, [
      { field: 'acq_time', message: `${spec.axis}: ${velocity} units/s exceeds its velocity ${dynamics.velocity}` },
    ]);
  }
  const ramp = (velocity * velocity) / (2 * dynamics.acceleration);
  const last = spec.start + (spec.npoints - 1) * spec.step;
  const first = reverse ? last : spec.start;
  const pitch = reverse ? -spec.step : spec.step;
  const dir = Math.sign(pitch);
  // the last point's exposure ends one pitch after it, then the axis decelerates
  return { from: first - dir * ramp, to: first + spec.npoints * pitch + dir * ramp, velocity, first, pitch, npoints: spec.npoints };
}

/**
 * When each trigger fires, in seconds after the move started: TIME mode every acq_time from the
 * moment the axis reaches the first point; POSITION mode when its path crosses first + k·pitch.
 * At constant speed both agree; they differ where the motion is not what was asked.
 */
export function triggerTimes(line: FlyLine, path: Path, mode: FlyScanMode, acqTime: number): Float64Array {
  const out = new Float64Array(line.npoints);
  const t0 = path.firstCrossing(line.first) ?? 0;
  for (let k = 0; k < line.npoints; k++) {
    out[k] = mode === 'TIME' ? t0 + k * acqTime : (path.firstCrossing(line.first + k * line.pitch) ?? Number.POSITIVE_INFINITY);
  }
  return out;
}
