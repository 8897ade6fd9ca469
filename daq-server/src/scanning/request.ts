/**
 * Check a `scanning.run` request field by field: every problem is a ParameterError naming its
 * field; sizes (points, positions, count time) are bounded before anything is built.
 */
import { DaqError, type FieldError } from '../protocol/index.js';
import { SCAN_LIMITS, STEP_SCAN_TYPES, type ScanAxisSpec, type StepScanRequest, type StepScanType } from '../protocol/scanning.js';

/** How many axes each type scans, and whether they form a mesh or move together. */
export const SHAPES: Record<StepScanType, { axes: number; mesh?: boolean; relative?: boolean; lookup?: boolean; intervals?: boolean; npoints?: boolean }> = {
  ct: { axes: 0 },
  ascan: { axes: 1, intervals: true },
  dscan: { axes: 1, intervals: true, relative: true },
  a2scan: { axes: 2, intervals: true },
  d2scan: { axes: 2, intervals: true, relative: true },
  amesh: { axes: 2, mesh: true },
  dmesh: { axes: 2, mesh: true, relative: true },
  lookupscan: { axes: -1, lookup: true },
  timescan: { axes: 0, npoints: true },
  loopscan: { axes: 0, npoints: true },
};

const IDENTITY = ['name', 'session', 'sample', 'proposal'] as const;
const KNOWN = new Set(['id', 'op', 'type', 'axes', 'intervals', 'npoints', 'count_time', 'sleep_time', 'counters', 'backnforth', 'save_dir', ...IDENTITY]);

export function parseStepScan(raw: Record<string, unknown>): StepScanRequest {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });
  const unknown = Object.keys(raw).filter((k) => !KNOWN.has(k));
  for (const k of unknown) fail(k, `unknown field; known: ${[...KNOWN].filter((x) => x !== 'id' && x !== 'op').join(', ')}`);

  const type = raw.type as StepScanType;
  if (!(STEP_SCAN_TYPES as readonly unknown[]).includes(type)) {
    throw new DaqError('ParameterError', `type: must be one of ${STEP_SCAN_TYPES.join(', ')}, got ${JSON.stringify(String(raw.type).slice(0, 40))}`, [
      { field: 'type', message: `must be one of ${STEP_SCAN_TYPES.join(', ')}` },
    ]);
  }
  const shape = SHAPES[type];
  const number = (field: string, v: unknown, min: number, max: number, integer = false): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v)) || v < min || v > max) {
      fail(field, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)?.slice(0, 40)}`);
      return NaN;
    }
    return v;
  };

  const countTime = number('count_time', raw.count_time, 0, SCAN_LIMITS.maxCountTime);
  const req: StepScanRequest = { type, count_time: countTime };
  if (raw.sleep_time !== undefined) req.sleep_time = number('sleep_time', raw.sleep_time, 0, SCAN_LIMITS.maxCountTime);
  if (shape.intervals) req.intervals = number('intervals', raw.intervals, 1, SCAN_LIMITS.maxPoints - 1, true);
  else if (raw.intervals !== undefined) fail('intervals', `${type} takes no intervals`);
  if (shape.npoints) req.npoints = number('npoints', raw.npoints ?? (type === 'timescan' ? 0 : undefined), type === 'timescan' ? 0 : 1, SCAN_LIMITS.maxPoints, true);
  else if (raw.npoints !== undefined) fail('npoints', `${type} takes no npoints`);
  if (raw.backnforth !== undefined) {
    if (!shape.mesh) fail('backnforth', `only mesh scans go back and forth, not ${type}`);
    else if (typeof raw.backnforth !== 'boolean') fail('backnforth', 'must be true or false');
    else req.backnforth = raw.backnforth;
  }
  if (raw.counters !== undefined) {
    if (!Array.isArray(raw.counters) || raw.counters.length > 256 || !raw.counters.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128)) {
      fail('counters', 'must be a list of at most 256 counter names');
    } else req.counters = [...new Set(raw.counters as string[])];
  }
  if (raw.save_dir !== undefined) {
    if (typeof raw.save_dir !== 'string' || raw.save_dir.length === 0 || raw.save_dir.length > 4096) fail('save_dir', 'must be an absolute folder path');
    else req.save_dir = raw.save_dir;
  }
  for (const f of IDENTITY) {
    if (raw[f] === undefined) continue;
    if (typeof raw[f] !== 'string' || (raw[f] as string).length > 256) fail(f, 'must be a string of at most 256 characters');
    else req[f] = raw[f] as string;
  }

  const axes = raw.axes ?? [];
  if (!Array.isArray(axes)) fail('axes', 'must be a list of {axis, start, stop[, intervals]} or {axis, positions}');
  else if (shape.axes >= 0 && axes.length !== shape.axes) fail('axes', `${type} scans ${shape.axes} axis(es), got ${axes.length}`);
  else if (shape.lookup && (axes.length < 1 || axes.length > 16)) fail('axes', `lookupscan scans 1 to 16 axes, got ${axes.length}`);
  else {
    req.axes = axes.map((a: unknown, k: number): ScanAxisSpec => {
      const at = `axes[${k}]`;
      if (typeof a !== 'object' || a === null || Array.isArray(a)) {
        fail(at, 'must be an object');
        return { axis: '' };
      }
      const o = a as Record<string, unknown>;
      if (typeof o.axis !== 'string' || o.axis.length === 0 || o.axis.length > 128) fail(`${at}.axis`, 'must be an axis name');
      const spec: ScanAxisSpec = { axis: String(o.axis) };
      if (shape.lookup) {
        const p = o.positions;
        if (!Array.isArray(p) || p.length < 1 || p.length > SCAN_LIMITS.maxPositions || !p.every((x) => typeof x === 'number' && Number.isFinite(x))) {
          fail(`${at}.positions`, `must be a list of 1 to ${SCAN_LIMITS.maxPositions} finite numbers`);
        } else spec.positions = p as number[];
      } else {
        spec.start = number(`${at}.start`, o.start, -1e9, 1e9);
        spec.stop = number(`${at}.stop`, o.stop, -1e9, 1e9);
        if (shape.mesh) spec.intervals = number(`${at}.intervals`, o.intervals, 1, SCAN_LIMITS.maxPoints - 1, true);
      }
      return spec;
    });
    const names = req.axes.map((a) => a.axis);
    if (new Set(names).size !== names.length) fail('axes', `an axis appears twice: ${names.join(', ')}`);
    if (shape.lookup && req.axes.every((a) => a.positions) && new Set(req.axes.map((a) => a.positions!.length)).size > 1) {
      fail('axes', 'every axis of a lookupscan needs as many positions');
    }
    if (shape.mesh && req.axes.every((a) => Number.isFinite(a.intervals))) {
      const n = (req.axes[0].intervals! + 1) * (req.axes[1].intervals! + 1);
      if (n > SCAN_LIMITS.maxPoints) fail('axes', `the mesh has ${n} points (at most ${SCAN_LIMITS.maxPoints})`);
    }
  }
  if (errors.length) {
    throw new DaqError('ParameterError', `scanning.run ${type}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  return req;
}
