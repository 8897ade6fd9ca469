/**
 * A simulated axis (motor): moves along a trapezoidal profile in real time, reads back through a
 * quantised encoder, refuses targets outside its software limits, stops in LIMIT where its
 * hardware travel ends and, for tests, in FAULT where `fault_at` says.
 */
import { EventEmitter } from 'node:events';
import { DaqError } from '../protocol/index.js';
import { DEVICE_LIMITS, type AxisInfo, type AxisState } from '../protocol/devices.js';
import { Path } from './profile.js';

export interface AxisConfig {
  name: string;
  unit: string;
  position: number;
  limits: [number, number];
  hardware_limits: [number, number];
  velocity: number;
  acceleration: number;
  backlash: number;
  encoder_resolution: number;
}

/** The settings a client may change (`axis.configure`). */
export const AXIS_SETTINGS = ['limits', 'velocity', 'acceleration', 'backlash', 'fault_at'] as const;
export type AxisSettings = Partial<Pick<AxisInfo, (typeof AXIS_SETTINGS)[number]>>;

interface Motion {
  path: Path;
  started: number;
  /** where and why the path ends early (a limit switch, a simulated fault), if it does */
  halt: { t: number; position: number; state: 'LIMIT' | 'FAULT'; reason: string } | null;
  timer: NodeJS.Timeout;
  done: Promise<void>;
  resolve: () => void;
}

const seconds = (): number => performance.now() / 1000;

export class SimAxis extends EventEmitter<{ state: [AxisInfo] }> {
  readonly kind = 'axis' as const;
  readonly name: string;
  readonly unit: string;
  private resting: number;
  private target: number;
  private motion: Motion | null = null;
  private _state: AxisState = 'READY';
  private reason: string | null = null;
  private limits: [number, number];
  readonly hardwareLimits: [number, number];
  private velocity: number;
  private acceleration: number;
  private backlash: number;
  private faultAt: number | null = null;
  readonly encoderResolution: number;

  constructor(config: AxisConfig, private readonly now: () => number = seconds) {
    super();
    this.name = config.name;
    this.unit = config.unit;
    this.resting = this.target = config.position;
    this.limits = [...config.limits];
    this.hardwareLimits = [...config.hardware_limits];
    this.velocity = config.velocity;
    this.acceleration = config.acceleration;
    this.backlash = config.backlash;
    this.encoderResolution = config.encoder_resolution;
  }

  get state(): AxisState {
    return this._state;
  }

  get position(): number {
    const m = this.motion;
    if (!m) return this.resting;
    return m.path.positionAt(this.now() - m.started);
  }

  /** The encoder's reading: the true position quantised to the encoder's resolution. */
  get encoder(): number {
    return Math.round(this.position / this.encoderResolution) * this.encoderResolution;
  }

  /** The move under way (its profile and when it started, in the axis's clock), for fly scans' triggers. */
  trajectory(): { path: Path; started: number; now: number; halt: { t: number; state: string } | null } | null {
    const m = this.motion;
    return m ? { path: m.path, started: m.started, now: this.now(), halt: m.halt } : null;
  }

  /** The configured speed and acceleration (a fly scan plans its ramps with them). */
  get dynamics(): { velocity: number; acceleration: number } {
    return { velocity: this.velocity, acceleration: this.acceleration };
  }

  info(): AxisInfo {
    return {
      name: this.name,
      kind: 'axis',
      unit: this.unit,
      position: this.position,
      encoder: this.encoder,
      encoder_resolution: this.encoderResolution,
      target: this.target,
      state: this._state,
      reason: this.reason,
      limits: [...this.limits],
      hardware_limits: [...this.hardwareLimits],
      velocity: this.velocity,
      acceleration: this.acceleration,
      backlash: this.backlash,
      fault_at: this.faultAt,
    };
  }

  /** Refuse a target outside the software limits, naming the axis (before anything moves). */
  checkTarget(target: number, field = 'position'): void {
    if (typeof target !== 'number' || !Number.isFinite(target)) {
      throw new DaqError('ParameterError', `${field}: ${this.name} needs a finite number as target, got ${String(target)}`, [
        { field, message: `${this.name}: must be a finite number` },
      ]);
    }
    const [lo, hi] = this.limits;
    if (target < lo || target > hi) {
      throw new DaqError('ParameterError', `${field}: ${this.name} target ${target} is outside its limits [${lo}, ${hi}]`, [
        { field, message: `${this.name}: ${target} is outside the limits [${lo}, ${hi}]` },
      ]);
    }
  }

  /**
   * Start a move to `target`; resolves when the axis stops (arrived, stopped, LIMIT or FAULT).
   * `velocity` (fly scans): this move's cruise speed instead of the configured one (at most it).
   */
  move(target: number, velocity?: number): Promise<void> {
    if (this._state === 'FAULT') {
      throw new DaqError('StateError', `${this.name} is in FAULT (${this.reason}); reset it first (axis.reset)`);
    }
    if (this.motion) throw new DaqError('StateError', `${this.name} is MOVING (to ${this.target}); stop it or wait`);
    this.checkTarget(target);
    const from = this.resting;
    this.target = target;
    this.reason = null;
    const speed = velocity === undefined ? this.velocity : Math.min(velocity, this.velocity);
    const path = new Path(from, target, speed, this.acceleration, this.backlash);
    const halt = this.haltOn(path);
    const started = this.now();
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => this.finish(), Math.max(0, (halt?.t ?? path.duration) * 1000));
    this.motion = { path, started, halt, timer, done, resolve };
    this.setState('MOVING');
    return done;
  }

  /** The first thing on the path that stops the axis early: the hardware travel's end or the simulated fault. */
  private haltOn(path: Path): Motion['halt'] {
    const stops: NonNullable<Motion['halt']>[] = [];
    for (const edge of this.hardwareLimits) {
      const t = path.firstCrossing(edge);
      if (t !== null) stops.push({ t, position: edge, state: 'LIMIT', reason: `${this.name} hit its hardware limit at ${edge}` });
    }
    if (this.faultAt !== null) {
      const t = path.firstCrossing(this.faultAt);
      if (t !== null) stops.push({ t, position: this.faultAt, state: 'FAULT', reason: `${this.name}: simulated fault at ${this.faultAt}` });
    }
    return stops.sort((a, b) => a.t - b.t)[0] ?? null;
  }

  private finish(): void {
    const m = this.motion;
    if (!m) return;
    this.motion = null;
    if (m.halt) {
      this.resting = m.halt.position;
      this.reason = m.halt.reason;
      this.setState(m.halt.state);
    } else {
      this.resting = m.path.to;
      this.setState('READY');
    }
    m.resolve();
  }

  /** Stop where the axis is now (the simulation stops at once, with no deceleration ramp). */
  stop(): void {
    const m = this.motion;
    if (!m) return;
    clearTimeout(m.timer);
    this.resting = this.position;
    this.target = this.resting;
    this.motion = null;
    this.setState('READY');
    m.resolve();
  }

  /** Resolves once the axis is not moving. */
  async waitIdle(): Promise<void> {
    while (this.motion) await this.motion.done;
  }

  /** Clear FAULT or LIMIT (a limit switch stays pressed: moving further the same way stops again). */
  reset(): void {
    if (this.motion) throw new DaqError('StateError', `${this.name} is MOVING; stop it before a reset`);
    this.reason = null;
    this.setState('READY');
  }

  configure(settings: AxisSettings): void {
    if (this.motion) throw new DaqError('StateError', `${this.name} is MOVING; configure it at rest`);
    const bad = (field: string, message: string) => new DaqError('ParameterError', `${field}: ${this.name} ${message}`, [{ field, message: `${this.name}: ${message}` }]);
    const finite = (v: unknown, field: string, min: number): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > DEVICE_LIMITS.maxMagnitude || v < min) {
        throw bad(field, `needs a finite number ≥ ${min} (|x| ≤ ${DEVICE_LIMITS.maxMagnitude}), got ${String(v)}`);
      }
      return v;
    };
    const next = { limits: this.limits, velocity: this.velocity, acceleration: this.acceleration, backlash: this.backlash, faultAt: this.faultAt };
    if (settings.limits !== undefined) {
      const l = settings.limits as unknown;
      if (!Array.isArray(l) || l.length !== 2) throw bad('limits', 'limits are [low, high]');
      const lo = finite(l[0], 'limits', -DEVICE_LIMITS.maxMagnitude);
      const hi = finite(l[1], 'limits', -DEVICE_LIMITS.maxMagnitude);
      if (lo > hi) throw bad('limits', `low ${lo} is above high ${hi}`);
      next.limits = [lo, hi];
    }
    if (settings.velocity !== undefined) next.velocity = finite(settings.velocity, 'velocity', Number.MIN_VALUE);
    if (settings.acceleration !== undefined) next.acceleration = finite(settings.acceleration, 'acceleration', Number.MIN_VALUE);
    if (settings.backlash !== undefined) next.backlash = finite(settings.backlash, 'backlash', 0);
    if (settings.fault_at !== undefined) next.faultAt = settings.fault_at === null ? null : finite(settings.fault_at, 'fault_at', -DEVICE_LIMITS.maxMagnitude);
    // all checked: apply together
    this.limits = next.limits;
    this.velocity = next.velocity;
    this.acceleration = next.acceleration;
    this.backlash = next.backlash;
    this.faultAt = next.faultAt;
    this.emit('state', this.info());
  }

  private setState(state: AxisState): void {
    this._state = state;
    this.emit('state', this.info());
  }

  shutdown(): void {
    this.stop();
  }
}
