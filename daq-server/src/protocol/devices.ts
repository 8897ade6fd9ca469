/**
 * Devices (`devices.*`, `axis.*`, `mca.*` operations, `device.state` event): what a client
 * sends and sees. docs/PROTOCOL.md, "Devices and step scans".
 */

export const AXIS_STATES = ['READY', 'MOVING', 'FAULT', 'LIMIT'] as const;
export type AxisState = (typeof AXIS_STATES)[number];

export const DEVICE_KINDS = ['axis', 'counter', 'mca'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** An axis (motor) as `device.info` / `axis.*` / `device.state` report it. */
export interface AxisInfo {
  name: string;
  kind: 'axis';
  unit: string;
  /** where the axis is now (interpolated along the motion profile while MOVING) */
  position: number;
  /** the encoder's reading (quantised to `encoder_resolution`) */
  encoder: number;
  encoder_resolution: number;
  /** the last commanded target */
  target: number;
  state: AxisState;
  /** why FAULT or LIMIT; null otherwise */
  reason: string | null;
  /** software limits [low, high]: moves outside are refused */
  limits: [number, number];
  /** the travel of the (simulated) hardware: crossing it stops the axis in LIMIT */
  hardware_limits: [number, number];
  velocity: number;
  acceleration: number;
  /** moves in the negative direction overshoot by this much and come back (0: none) */
  backlash: number;
  /** simulation only: the axis faults when it crosses this position (null: never) */
  fault_at: number | null;
}

export interface CounterInfo {
  name: string;
  kind: 'counter';
  unit: string;
  description: string;
}

/** An energy window of the MCA, integrated into its own channel `<mca>:<name>`. */
export interface McaRoi {
  name: string;
  /** eV, inclusive */
  start: number;
  stop: number;
}

export interface McaInfo {
  name: string;
  kind: 'mca';
  channels: number;
  /** energy (eV) of channel c = offset + gain·c + quadratic·c² */
  calibration: { offset: number; gain: number; quadratic: number };
  /** dead time per counted photon (s): the live fraction is exp(−rate·tau) */
  dead_time_tau: number;
  rois: McaRoi[];
}

export type DeviceInfo = AxisInfo | CounterInfo | McaInfo;

/** Bounds on what a client may ask of a device. */
export const DEVICE_LIMITS = {
  /** ROIs per MCA */
  maxRois: 32,
  /** characters of a ROI name */
  maxRoiName: 32,
  /** largest |position|, velocity, acceleration a client may set (finite, sane numbers) */
  maxMagnitude: 1e9,
} as const;
