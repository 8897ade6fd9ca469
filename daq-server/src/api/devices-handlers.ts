/** Handlers of the device and step-scan operations: field extraction here, the work in devices/ and scanning/. */
import { DaqError, type Request } from '../protocol/index.js';
import { AXIS_SETTINGS } from '../devices/axis.js';
import { bool, num, str } from './params.js';
import type { Session } from './session.js';

type DevicesOp =
  | 'devices.list'
  | 'device.info'
  | 'axis.move'
  | 'axis.wait'
  | 'axis.stop'
  | 'axis.reset'
  | 'axis.configure'
  | 'mca.add_roi'
  | 'mca.remove_roi'
  | 'mca.clear_rois'
  | 'sample.info'
  | 'scanning.run'
  | 'scanning.status'
  | 'scanning.wait'
  | 'scanning.abort';
type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

/** A client may not move an axis the running scan drives. */
function checkFree(s: Session, axis: string): void {
  const busy = s.service.scanning.busyAxis(axis);
  if (busy) throw new DaqError('StateError', `${axis} is driven by scan ${busy.number} (${busy.title}); abort it or wait`);
}

function unknownFields(req: Request, op: string, known: string[]): void {
  const unknown = Object.keys(req).filter((k) => k !== 'id' && k !== 'op' && !known.includes(k));
  if (unknown.length) {
    throw new DaqError('ParameterError', `${op}: unknown field(s) ${unknown.join(', ')}`, unknown.map((f) => ({ field: f, message: `unknown; known: ${known.join(', ')}` })));
  }
}

export const DEVICES_HANDLERS: Record<DevicesOp, Handler> = {
  'devices.list': (s) => ({ devices: s.service.devices.list() }),
  'device.info': (s, r) => s.service.devices.get(str(r, 'device')).info(),
  'axis.move': (s, r) => {
    const axis = s.service.devices.axis(str(r, 'axis'));
    checkFree(s, axis.name);
    const position = num(r, 'position', null, -Infinity);
    if (position === null) throw new DaqError('ParameterError', 'position: missing', [{ field: 'position', message: 'missing' }]);
    const target = bool(r, 'relative', false) ? axis.position + position : position;
    void axis.move(target);
    return axis.info();
  },
  'axis.wait': async (s, r) => {
    const axis = s.service.devices.axis(str(r, 'axis'));
    const timeout = Math.min(num(r, 'timeout', 10) as number, 60);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([axis.waitIdle(), new Promise((res) => (timer = setTimeout(res, timeout * 1000)))]);
    clearTimeout(timer);
    return axis.info();
  },
  'axis.stop': (s, r) => {
    const axis = s.service.devices.axis(str(r, 'axis'));
    checkFree(s, axis.name);
    axis.stop();
    return axis.info();
  },
  'axis.reset': (s, r) => {
    const axis = s.service.devices.axis(str(r, 'axis'));
    checkFree(s, axis.name);
    axis.reset();
    return axis.info();
  },
  'axis.configure': (s, r) => {
    unknownFields(r, 'axis.configure', ['axis', ...AXIS_SETTINGS]);
    const axis = s.service.devices.axis(str(r, 'axis'));
    checkFree(s, axis.name);
    axis.configure(r as never);
    return axis.info();
  },
  'mca.add_roi': (s, r) => {
    unknownFields(r, 'mca.add_roi', ['mca', 'name', 'start', 'stop']);
    const mca = s.service.devices.mca(str(r, 'mca'));
    mca.addRoi(r.name, r.start, r.stop);
    return mca.info();
  },
  'mca.remove_roi': (s, r) => {
    const mca = s.service.devices.mca(str(r, 'mca'));
    mca.removeRoi(str(r, 'name'));
    return mca.info();
  },
  'mca.clear_rois': (s, r) => {
    const mca = s.service.devices.mca(str(r, 'mca'));
    mca.clearRois();
    return mca.info();
  },
  'sample.info': (s) => {
    const sample = s.service.devices.sample;
    if (!sample) throw new DaqError('NotFoundError', 'this server has no simulated sample');
    return sample.truth();
  },
  'scanning.run': async (s, r) => {
    // a workflow is checked before the scan starts, and attached to it once it has a key
    const { workflow, ...scan } = r;
    const spec = workflow === undefined || workflow === null ? null : await s.service.workflows.check(workflow, scan.save_dir !== undefined);
    const status = await s.service.scanning.run(scan);
    if (spec) return { ...status, workflow: s.service.workflows.attach(s.service.store.scan(status.scan), spec, s.token) };
    return status;
  },
  'scanning.status': (s, r) => s.service.scanning.status(str(r, 'scan', null) ?? undefined),
  'scanning.wait': (s, r) => s.service.scanning.wait(str(r, 'scan', null) ?? undefined, num(r, 'timeout', 10) as number),
  'scanning.abort': (s, r) => s.service.scanning.abort(str(r, 'scan', null) ?? undefined),
};
