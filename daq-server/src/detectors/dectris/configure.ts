/**
 * Configure a DECTRIS detector for a run: check every value against what the
 * detector says it accepts (min, max, allowed_values, access mode) before
 * writing any, then PUT them in SIMPLON's order (roi_mode first: it changes
 * the timing) and read back every parameter each PUT says it changed.
 */
import { DaqError, parameterError, type FieldError } from '../../protocol/index.js';
import { SimplonError, type SimplonClient, type SimplonValue } from './simplon.js';

export interface Setting {
  subsystem: 'detector' | 'stream';
  /** SIMPLON parameter, e.g. count_time, threshold/2/energy */
  param: string;
  value: unknown;
  /** the prepare field this setting comes from, for errors */
  field: string;
}

/** What a detector does not accept, or null. */
export function rejection(desc: SimplonValue, value: unknown): string | null {
  if (desc.access_mode === 'r') return 'read-only on this detector';
  if (Array.isArray(desc.allowed_values) && desc.allowed_values.length && !desc.allowed_values.map(String).includes(String(value))) {
    return `the detector accepts ${desc.allowed_values.map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(value)}`;
  }
  if (typeof value === 'number') {
    const unit = desc.unit ? ` ${desc.unit}` : '';
    if (typeof desc.min === 'number' && value < desc.min) return `below the detector's minimum ${desc.min}${unit}: ${value}`;
    if (typeof desc.max === 'number' && value > desc.max) return `above the detector's maximum ${desc.max}${unit}: ${value}`;
  }
  return null;
}

/** Check, then write, `settings`; returns the detector's values of every parameter the writes changed. */
export async function configure(client: SimplonClient, settings: Setting[]): Promise<Record<string, unknown>> {
  const errors: FieldError[] = [];
  await Promise.all(
    settings.map(async (s) => {
      try {
        const why = rejection(await client.get(s.subsystem, 'config', s.param), s.value);
        if (why) errors.push({ field: s.field, message: `${s.subsystem}/config/${s.param}: ${why}` });
      } catch (err) {
        if (err instanceof SimplonError && err.status === 404) errors.push({ field: s.field, message: `this detector has no ${s.subsystem}/config/${s.param}` });
        else throw fault(err);
      }
    }),
  );
  if (errors.length) throw parameterError(errors, `the detector ${client.base} refuses`);
  const applied: Record<string, unknown> = {};
  for (const s of settings) {
    let changed: string[];
    try {
      changed = await client.put(s.subsystem, s.param, s.value);
    } catch (err) {
      if (err instanceof SimplonError && err.status !== null) throw parameterError([{ field: s.field, message: err.message }], `the detector ${client.base} refuses`);
      throw fault(err);
    }
    for (const p of new Set([s.param, ...changed])) {
      try {
        applied[`${s.subsystem}/${p}`] = (await client.get(s.subsystem, 'config', p)).value;
      } catch {
        // a parameter the detector lists but does not serve: nothing to read back
      }
    }
  }
  return applied;
}

/** A detector that did not answer (or answered nonsense) is a fault, with its message. */
export function fault(err: unknown): DaqError {
  if (err instanceof DaqError) return err;
  return new DaqError('FaultError', `detector: ${(err as Error).message}`);
}
