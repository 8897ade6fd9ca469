/**
 * The one registry of devices (axes, counters, MCAs) that notebooks, panels and scans share.
 * `simulatedDevices(seed)` is the default set: samx, samy, samz, omega; i0, diode; mca.
 */
import { EventEmitter } from 'node:events';
import { DaqError } from '../protocol/index.js';
import type { AxisInfo, DeviceInfo, DeviceKind } from '../protocol/devices.js';
import { SimAxis, type AxisConfig } from './axis.js';
import { SimCounter, SIM_COUNTERS, type Counter } from './counters.js';
import { SimMca } from './mca.js';
import { SimSample } from './sample.js';

export type Device = SimAxis | Counter | SimMca;

export class DeviceRegistry extends EventEmitter<{ state: [AxisInfo] }> {
  private readonly devices = new Map<string, Device>();

  constructor(readonly sample: SimSample | null = null) {
    super();
    this.setMaxListeners(0);
  }

  add(device: Device): void {
    if (this.devices.has(device.name)) throw new Error(`device ${device.name} registered twice`);
    this.devices.set(device.name, device);
    if (device instanceof SimAxis) device.on('state', (s) => this.emit('state', s));
  }

  names(): string[] {
    return [...this.devices.keys()];
  }

  list(): DeviceInfo[] {
    return [...this.devices.values()].map((d) => d.info());
  }

  has(name: string): boolean {
    return this.devices.has(name);
  }

  get(name: unknown, kind?: DeviceKind): Device {
    const d = typeof name === 'string' ? this.devices.get(name) : undefined;
    if (!d || (kind && d.kind !== kind)) {
      const known = [...this.devices.values()].filter((x) => !kind || x.kind === kind).map((x) => x.name);
      throw new DaqError('NotFoundError', `unknown ${kind ?? 'device'} ${JSON.stringify(name)}; ${kind ?? 'device'}s: ${known.join(', ') || 'none'}`);
    }
    return d;
  }

  axis(name: unknown): SimAxis {
    return this.get(name, 'axis') as SimAxis;
  }

  mca(name: unknown): SimMca {
    return this.get(name, 'mca') as SimMca;
  }

  axes(): SimAxis[] {
    return [...this.devices.values()].filter((d): d is SimAxis => d.kind === 'axis');
  }

  /** Counters and MCAs: what a scan can count. */
  countable(): (Counter | SimMca)[] {
    return [...this.devices.values()].filter((d): d is Counter | SimMca => d.kind !== 'axis');
  }

  /** Where the beam meets the sample: the sample stage's x and y (0 where an axis is missing). */
  beam(): { x: number; y: number } {
    const at = (name: string): number => {
      const d = this.devices.get(name);
      return d instanceof SimAxis ? d.position : 0;
    };
    return { x: at('samx'), y: at('samy') };
  }

  shutdown(): void {
    for (const a of this.axes()) a.shutdown();
  }
}

const LINEAR = { unit: 'mm', position: 0, limits: [-10, 10], hardware_limits: [-12, 12], velocity: 10, acceleration: 100, backlash: 0, encoder_resolution: 1e-4 } as const;

/** The default simulated beamline: a sample stage, a rotation, a monitor, a diode, a fluorescence MCA. */
export function simulatedDevices(seed = 1): DeviceRegistry {
  const sample = new SimSample(seed);
  const registry = new DeviceRegistry(sample);
  const axes: AxisConfig[] = [
    { ...LINEAR, limits: [...LINEAR.limits], hardware_limits: [...LINEAR.hardware_limits], name: 'samx' },
    { ...LINEAR, limits: [...LINEAR.limits], hardware_limits: [...LINEAR.hardware_limits], name: 'samy' },
    { ...LINEAR, limits: [-5, 5], hardware_limits: [-6, 6], name: 'samz', backlash: 0.01 },
    { name: 'omega', unit: 'deg', position: 0, limits: [-360, 360], hardware_limits: [-400, 400], velocity: 180, acceleration: 720, backlash: 0, encoder_resolution: 1e-3 },
  ];
  for (const a of axes) registry.add(new SimAxis(a));
  for (const name of SIM_COUNTERS) registry.add(new SimCounter(name, sample));
  registry.add(new SimMca('mca', sample));
  return registry;
}
