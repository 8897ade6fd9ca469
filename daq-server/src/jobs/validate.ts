/**
 * Checks of everything a client may put in a job. Names and paths must match
 * strict patterns because they end up in argv arrays and in the few generated
 * script lines; free text (env values, template parameters) is never parsed
 * by a shell: it travels as JSON or as the job's environment.
 */
import { DaqError, type FieldError } from '../protocol/index.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** characters a path may hold: nothing a shell, sbatch or Slurm's %-patterns would interpret */
export const SAFE_PATH_RE = /^\/[A-Za-z0-9._+@,=/-]*$/;
/** sbatch reads SBATCH_* from its environment as options: a job's env must not set them */
const RESERVED_ENV = /^(SLURM_|SBATCH_|SALLOC_|SRUN_|SPANK_|DAQLAB_JOB)/;
const ARRAY_RE = /^\d{1,6}(-\d{1,6}(:\d{1,6})?)?(,\d{1,6}(-\d{1,6}(:\d{1,6})?)?)*(%\d{1,4})?$/;

export class Problems {
  readonly list: FieldError[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
  throwIfAny(context: string): void {
    if (this.list.length) {
      throw new DaqError('ParameterError', `${context}: ${this.list.map((f) => `${f.field}: ${f.message}`).join('; ')}`, this.list);
    }
  }
}

const show = (v: unknown): string => (v === undefined ? 'missing' : `got ${JSON.stringify(v)?.slice(0, 80)}`);

export function checkName(p: Problems, field: string, v: unknown): string | null {
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    p.add(field, `must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit, ${show(v)}`);
    return null;
  }
  return v;
}

/** An absolute, normalised path of safe characters (no '..', no '%', no spaces or quotes). */
export function checkPath(p: Problems, field: string, v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) {
    p.add(field, `must be an absolute path, ${show(v)}`);
    return null;
  }
  if (!SAFE_PATH_RE.test(v)) {
    p.add(field, `must be an absolute path of letters, digits and . _ + @ , = / - only, ${show(v)}`);
    return null;
  }
  if (v.split('/').some((part) => part === '..' || part === '.')) {
    p.add(field, `must not contain '.' or '..' components, ${show(v)}`);
    return null;
  }
  return v.length > 1 ? v.replace(/\/+$/, '').replace(/\/{2,}/g, '/') : v;
}

export function checkInt(p: Problems, field: string, v: unknown, min: number, max: number): number | null {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    p.add(field, `must be an integer from ${min} to ${max}, ${show(v)}`);
    return null;
  }
  return v;
}

/** Slurm's time formats ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS") or minutes → minutes (rounded up). */
export function parseTime(p: Problems, field: string, v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 525600) return Math.ceil(v);
  if (typeof v === 'string') {
    const m = /^(?:(\d{1,3})-)?(\d{1,5})(?::(\d{1,2}))?(?::(\d{1,2}))?$/.exec(v.trim());
    if (m) {
      const [, d, a, b, c] = m;
      let seconds: number;
      if (d !== undefined) seconds = Number(d) * 86400 + Number(a) * 3600 + Number(b ?? 0) * 60 + Number(c ?? 0);
      else if (c !== undefined) seconds = Number(a) * 3600 + Number(b) * 60 + Number(c);
      else if (b !== undefined) seconds = Number(a) * 60 + Number(b);
      else seconds = Number(a) * 60;
      if (seconds > 0) return Math.ceil(seconds / 60);
    }
  }
  p.add(field, `must be a time limit like "00:10:00", "30", "1-00:00:00" or a number of minutes, ${show(v)}`);
  return null;
}

/** "4G", "500M", "1.5GB" or MiB as a number → MiB. */
export function parseMemory(p: Problems, field: string, v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(v);
    if (m) {
      const mib = Number(m[1]) * 1024 ** ({ '': 0, k: -1, m: 0, g: 1, t: 2 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']);
      if (mib >= 1) return Math.ceil(mib);
    }
  }
  p.add(field, `must be a memory size like "4G" or "500M" or a number of MiB, ${show(v)}`);
  return null;
}

export function checkArray(p: Problems, field: string, v: unknown): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return `0-${v - 1}`;
  if (typeof v === 'string' && ARRAY_RE.test(v)) return v;
  p.add(field, `must be a Slurm array spec like "0-9", "1,3,5", "0-99%4" or a number of tasks, ${show(v)}`);
  return null;
}

/** Environment entries for the job: names of the usual form, values any text without NUL. */
export function checkEnv(p: Problems, field: string, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) {
    p.add(field, `must be an object of NAME: "value", ${show(v)}`);
    return out;
  }
  for (const [k, value] of Object.entries(v)) {
    if (!ENV_KEY_RE.test(k) || RESERVED_ENV.test(k)) {
      p.add(`${field}.${k}`, 'must be a variable name (letters, digits, _) not reserved by Slurm or daqlab (SLURM_*, SBATCH_*, SALLOC_*, SRUN_*, SPANK_*, DAQLAB_JOB*)');
    } else if (typeof value !== 'string' || value.includes('\0') || value.length > 65536) {
      p.add(`${field}.${k}`, `must be a string without NUL characters, ${show(value)}`);
    } else out[k] = value;
  }
  return out;
}

/**
 * A word of a generated script line. Only strings of inert characters are
 * accepted (everything they could hold was checked by the patterns above), and
 * they are single-quoted as well: no value can become shell syntax.
 */
export function shellWord(s: string): string {
  if (!/^[A-Za-z0-9._+@,=/:-]+$/.test(s)) throw new DaqError('InternalError', `refusing to put ${JSON.stringify(s)} in a job script`);
  return `'${s}'`;
}
