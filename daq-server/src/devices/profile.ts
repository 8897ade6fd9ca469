/**
 * Motion profiles of a simulated axis: a trapezoidal velocity profile (accelerate, cruise,
 * decelerate; a triangle when the move is too short to reach the velocity), and paths of several
 * such segments (a backlash correction overshoots, then comes back).
 */

export interface Segment {
  from: number;
  to: number;
  /** seconds after the path's start when this segment begins */
  t0: number;
  /** seconds this segment lasts */
  duration: number;
  /** seconds spent accelerating (= decelerating) */
  ramp: number;
  /** peak speed reached */
  peak: number;
  acceleration: number;
}

/** One point-to-point move at most `velocity`, with `acceleration` up and down. */
export function trapezoid(from: number, to: number, velocity: number, acceleration: number, t0 = 0): Segment {
  const d = Math.abs(to - from);
  const full = (velocity * velocity) / acceleration; // distance of a full ramp up and down
  if (d >= full) {
    const ramp = velocity / acceleration;
    return { from, to, t0, duration: 2 * ramp + (d - full) / velocity, ramp, peak: velocity, acceleration };
  }
  const ramp = Math.sqrt(d / acceleration);
  return { from, to, t0, duration: 2 * ramp, ramp, peak: acceleration * ramp, acceleration };
}

/** Distance travelled `t` seconds into the segment (0 … |to − from|). */
function distanceAt(s: Segment, t: number): number {
  const d = Math.abs(s.to - s.from);
  if (t <= 0) return 0;
  if (t >= s.duration) return d;
  if (t < s.ramp) return 0.5 * s.acceleration * t * t;
  const down = s.duration - s.ramp;
  if (t <= down) return 0.5 * s.acceleration * s.ramp * s.ramp + s.peak * (t - s.ramp);
  const left = s.duration - t;
  return d - 0.5 * s.acceleration * left * left;
}

/** Seconds into the segment at which it has travelled `dist` (inverse of distanceAt). */
function timeAtDistance(s: Segment, dist: number): number {
  const d = Math.abs(s.to - s.from);
  if (dist <= 0) return 0;
  if (dist >= d) return s.duration;
  const rampDist = 0.5 * s.acceleration * s.ramp * s.ramp;
  if (dist <= rampDist) return Math.sqrt((2 * dist) / s.acceleration);
  if (dist <= d - rampDist) return s.ramp + (dist - rampDist) / s.peak;
  return s.duration - Math.sqrt((2 * (d - dist)) / s.acceleration);
}

export class Path {
  readonly segments: Segment[];
  readonly duration: number;

  /** `backlash` > 0: moves in the negative direction go `backlash` further, then approach upwards. */
  constructor(from: number, to: number, velocity: number, acceleration: number, backlash = 0) {
    const legs: [number, number][] = backlash > 0 && to < from ? [[from, to - backlash], [to - backlash, to]] : [[from, to]];
    let t = 0;
    this.segments = legs.map(([a, b]) => {
      const s = trapezoid(a, b, velocity, acceleration, t);
      t += s.duration;
      return s;
    });
    this.duration = t;
  }

  get from(): number {
    return this.segments[0].from;
  }

  get to(): number {
    return this.segments[this.segments.length - 1].to;
  }

  /** Position `t` seconds after the start. */
  positionAt(t: number): number {
    for (const s of this.segments) {
      if (t < s.t0 + s.duration) return s.from + Math.sign(s.to - s.from) * distanceAt(s, t - s.t0);
    }
    return this.to;
  }

  /** Velocity `t` seconds after the start (signed), by a central difference of the profile. */
  velocityAt(t: number): number {
    const h = 1e-6;
    return (this.positionAt(t + h) - this.positionAt(Math.max(0, t - h))) / (t + h - Math.max(0, t - h));
  }

  /**
   * The first time the path reaches `x` after leaving its start (null: never). A position equal to
   * the start does not count: an axis resting on a limit may move away from it.
   */
  firstCrossing(x: number): number | null {
    for (const s of this.segments) {
      const lo = Math.min(s.from, s.to);
      const hi = Math.max(s.from, s.to);
      if (x === s.from || x < lo || x > hi) continue;
      return s.t0 + timeAtDistance(s, Math.abs(x - s.from));
    }
    return null;
  }
}
