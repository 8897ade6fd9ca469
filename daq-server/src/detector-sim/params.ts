/**
 * SIMPLON parameters of one subsystem section (detector/config,
 * stream/status, ...): GET answers {value, value_type, access_mode, and
 * where they apply min, max, unit, allowed_values}; PUT checks the value
 * against them and answers 400 with a message naming the parameter.
 */

export type ValueType = 'float' | 'int' | 'uint' | 'string' | 'bool' | 'list' | 'date' | 'any';

/** An HTTP error answered with a plain-text message (SIMPLON answers 400 for bad values). */
export class SimplonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ParamSpec {
  type: ValueType;
  value: unknown;
  /** 'rw' (default for config) or 'r' */
  access?: 'rw' | 'r';
  unit?: string;
  min?: number;
  max?: number;
  allowed?: readonly (string | number | boolean)[];
}

/** Longest string value a client may set. */
const MAX_STRING = 4096;

export class Params {
  private readonly specs = new Map<string, ParamSpec>();

  constructor(
    readonly section: string,
    specs: Record<string, ParamSpec>,
  ) {
    for (const [k, s] of Object.entries(specs)) this.specs.set(k, { access: 'rw', ...s });
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  private spec(name: string): ParamSpec {
    const s = this.specs.get(name);
    if (!s) throw new SimplonError(404, `${this.section}/${name}: no such parameter`);
    return s;
  }

  get<T>(name: string): T {
    return this.spec(name).value as T;
  }

  /** Set a value from inside the simulator (status values, dependent parameters); true when it changed. */
  set(name: string, value: unknown): boolean {
    const s = this.spec(name);
    const changed = JSON.stringify(s.value) !== JSON.stringify(value);
    s.value = value;
    return changed;
  }

  /** Change a limit of a parameter (frame_time's minimum follows the model, count_time's maximum follows frame_time). */
  limit(name: string, limits: Pick<ParamSpec, 'min' | 'max'>): void {
    Object.assign(this.spec(name), limits);
  }

  /** The GET answer. */
  describe(name: string): Record<string, unknown> {
    const s = this.spec(name);
    const out: Record<string, unknown> = { value: s.value, value_type: s.type === 'any' ? 'string' : s.type, access_mode: s.access };
    if (s.min !== undefined) out.min = s.min;
    if (s.max !== undefined) out.max = s.max;
    if (s.unit !== undefined) out.unit = s.unit;
    if (s.allowed !== undefined) out.allowed_values = [...s.allowed];
    return out;
  }

  /** The value a client PUT, checked (SimplonError 400 naming the parameter when it is not acceptable). */
  check(name: string, value: unknown): unknown {
    const s = this.spec(name);
    const bad = (why: string): SimplonError => new SimplonError(400, `${this.section}/${name}: ${why} (got ${short(value)})`);
    if (s.access !== 'rw') throw new SimplonError(400, `${this.section}/${name}: parameter is read only`);
    switch (s.type) {
      case 'float':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('value must be a finite number');
        break;
      case 'int':
      case 'uint':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw bad('value must be an integer');
        if (s.type === 'uint' && value < 0) throw bad('value must be >= 0');
        break;
      case 'bool':
        if (typeof value !== 'boolean') throw bad('value must be true or false');
        break;
      case 'string':
        if (typeof value !== 'string') throw bad('value must be a string');
        if (value.length > MAX_STRING) throw bad(`value must have at most ${MAX_STRING} characters`);
        break;
      case 'list':
        if (!Array.isArray(value)) throw bad('value must be a list');
        break;
      default:
        break;
    }
    if (typeof value === 'number') {
      if (s.min !== undefined && value < s.min) throw bad(`value must be >= ${s.min}`);
      if (s.max !== undefined && value > s.max) throw bad(`value must be <= ${s.max}`);
    }
    if (s.allowed !== undefined && !s.allowed.includes(value as string)) {
      throw bad(`value must be one of ${s.allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    return value;
  }

  /** All values, {name: value} (the detector configuration part of a stream v1 header). */
  values(): Record<string, unknown> {
    return Object.fromEntries([...this.specs].map(([k, s]) => [k, s.value]));
  }
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
