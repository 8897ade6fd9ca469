/**
 * Check a fly-scan `scanning.run` request (fscan, fmesh) field by field: every problem is a
 * ParameterError naming its field; points, rates and counts are bounded before anything moves.
 */
import { DaqError, type FieldError } from '../../protocol/index.js';
import { FLY_LIMITS, FLY_SCAN_MODES, FLY_SCAN_TYPES, SCAN_LIMITS, type FlyAxisSpec, type FlyScanRequest, type FlyScanType } from '../../protocol/scanning.js';

const IDENTITY = ['name', 'session', 'sample', 'proposal'] as const;
const KNOWN = new Set(['id', 'op', 'type', 'axes', 'acq_time', 'scan_mode', 'counters', 'fast_counters', 'fast_rate', 'backnforth', 'processing', 'save_dir', ...IDENTITY]);

export const isFlyType = (t: unknown): t is FlyScanType => (FLY_SCAN_TYPES as readonly unknown[]).includes(t);

const names = (v: unknown, max: number): string[] | null =>
  Array.isArray(v) && v.length <= max && v.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128) ? [...new Set(v as string[])] : null;

export function parseFlyScan(raw: Record<string, unknown>): FlyScanRequest {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });
  for (const k of Object.keys(raw).filter((k) => !KNOWN.has(k))) fail(k, `unknown field; known: ${[...KNOWN].filter((x) => x !== 'id' && x !== 'op').join(', ')}`);
  const type = raw.type as FlyScanType;
  const number = (field: string, v: unknown, min: number, max: number, integer = false): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v)) || v < min || v > max) {
      fail(field, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)?.slice(0, 40)}`);
      return NaN;
    }
    return v;
  };
  const acqTime = number('acq_time', raw.acq_time, FLY_LIMITS.minAcqTime, SCAN_LIMITS.maxCountTime);
  const mode = raw.scan_mode ?? 'TIME';
  if (!(FLY_SCAN_MODES as readonly unknown[]).includes(mode)) fail('scan_mode', `must be one of ${FLY_SCAN_MODES.join(', ')}, got ${JSON.stringify(String(mode).slice(0, 40))}`);
  const req: FlyScanRequest = { type, axes: [], acq_time: acqTime, scan_mode: mode as FlyScanRequest['scan_mode'] };

  const want = type === 'fmesh' ? 2 : 1;
  if (!Array.isArray(raw.axes) || raw.axes.length !== want) fail('axes', `${type} flies ${want} axis(es): [{axis, start, step, npoints}]${want === 2 ? ' (the first fast)' : ''}`);
  else {
    req.axes = raw.axes.map((a: unknown, k: number): FlyAxisSpec => {
      const at = `axes[${k}]`;
      const o = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
      if (typeof o.axis !== 'string' || o.axis.length === 0 || o.axis.length > 128) fail(`${at}.axis`, 'must be an axis name');
      const step = number(`${at}.step`, o.step, -1e9, 1e9);
      if (step === 0) fail(`${at}.step`, 'must not be 0');
      return { axis: String(o.axis), start: number(`${at}.start`, o.start, -1e9, 1e9), step, npoints: number(`${at}.npoints`, o.npoints, 1, SCAN_LIMITS.maxPoints, true) };
    });
    if (want === 2 && req.axes[0].axis === req.axes[1].axis) fail('axes', `an axis appears twice: ${req.axes[0].axis}`);
    const total = req.axes.reduce((n, a) => n * a.npoints, 1);
    if (total > SCAN_LIMITS.maxPoints) fail('axes', `the scan has ${total} points (at most ${SCAN_LIMITS.maxPoints})`);
    if (req.axes[0].npoints < 2 && Number.isFinite(req.axes[0].npoints)) fail('axes[0].npoints', 'a fly line needs at least 2 points');
  }
  if (Number.isFinite(acqTime) && 1 / acqTime > FLY_LIMITS.maxTriggerRate) fail('acq_time', `the trigger rate 1/acq_time = ${1 / acqTime} Hz exceeds ${FLY_LIMITS.maxTriggerRate} Hz`);
  if (raw.counters !== undefined) {
    const c = names(raw.counters, 256);
    if (!c) fail('counters', 'must be a list of at most 256 counter names');
    else req.counters = c;
  }
  if (raw.fast_counters !== undefined) {
    const c = names(raw.fast_counters, FLY_LIMITS.maxFastCounters);
    if (!c) fail('fast_counters', `must be a list of at most ${FLY_LIMITS.maxFastCounters} names (counters, or <axis>_interf)`);
    else req.fast_counters = c;
  }
  if (raw.fast_rate !== undefined) req.fast_rate = number('fast_rate', raw.fast_rate, 1, FLY_LIMITS.maxFastRate);
  if (raw.backnforth !== undefined) {
    if (type !== 'fmesh') fail('backnforth', 'only fmesh flies back and forth');
    else if (typeof raw.backnforth !== 'boolean') fail('backnforth', 'must be true or false');
    else req.backnforth = raw.backnforth;
  }
  if (raw.processing !== undefined) {
    if (typeof raw.processing !== 'object' || raw.processing === null || Array.isArray(raw.processing)) fail('processing', 'must be an object (a detector prepare `processing` section)');
    else req.processing = raw.processing as Record<string, unknown>;
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
  if (errors.length) throw new DaqError('ParameterError', `scanning.run ${type}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  return req;
}
