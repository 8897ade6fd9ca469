/**
 * SIMPLON REST client: `http://DCU/<subsystem>/api/<version>/<config|status|command>/<param>`.
 * Every request has a timeout (a detector that does not answer is a fault, not
 * a hang); an error answer carries DECTRIS's own message. Version 1.8.0
 * (EIGER2, PILATUS4) or 1.6.0 (EIGER1), from /detector/api/version, or probed
 * when the detector does not serve that path.
 */

import { request as httpRequest } from '../common/http.js';

export const SIMPLON_VERSIONS = ['1.8.0', '1.6.0'] as const;
export type SimplonVersion = (typeof SIMPLON_VERSIONS)[number];

/** GET of a parameter: its value and what the detector accepts. */
export interface SimplonValue {
  value: unknown;
  value_type?: string;
  access_mode?: string;
  min?: number;
  max?: number;
  unit?: string;
  allowed_values?: unknown[];
}

export class SimplonError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when the detector did not answer */
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'SimplonError';
  }
}

export const REQUEST_TIMEOUT_MS = 5000;

export class SimplonClient {
  version: SimplonVersion | null = null;

  constructor(
    /** http://HOST[:PORT], no trailing slash */
    readonly base: string,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  private async request(method: 'GET' | 'PUT', path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    const url = `${this.base}/${path}`;
    const res = await httpRequest(method, url, body, timeoutMs, (message) => new SimplonError(message, null));
    const text = res.text;
    if (!res.ok) {
      // DECTRIS answers errors as plain text (or JSON with a message): show it as it is
      throw new SimplonError(`${method} ${url}: HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 500)}` : ''}`, res.status);
    }
    if (!text.trim()) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** The API version: from /detector/api/version, else the first version whose status/state answers. */
  async detectVersion(): Promise<SimplonVersion> {
    try {
      const v = (await this.request('GET', 'detector/api/version')) as { value?: unknown } | null;
      const value = String(v?.value ?? '');
      const known = SIMPLON_VERSIONS.find((x) => x === value);
      if (known) return (this.version = known);
      // newer minor versions keep the 1.8.0 paths
      if (/^1\.(8|9|\d\d)\./.test(value)) return (this.version = '1.8.0');
      if (value) throw new SimplonError(`the detector speaks SIMPLON ${value}; daqlab knows ${SIMPLON_VERSIONS.join(' and ')}`, 200);
    } catch (err) {
      if (!(err instanceof SimplonError) || err.status === null || err.status === 200) throw err;
    }
    for (const v of SIMPLON_VERSIONS) {
      try {
        await this.request('GET', `detector/api/${v}/status/state`);
        return (this.version = v);
      } catch (err) {
        if ((err as SimplonError).status === null) throw err;
      }
    }
    throw new SimplonError(`${this.base} answers neither /detector/api/version nor the status of SIMPLON ${SIMPLON_VERSIONS.join(' or ')}`, 404);
  }

  private path(subsystem: string, kind: 'config' | 'status' | 'command', param: string): string {
    if (!this.version) throw new SimplonError('SIMPLON version unknown: connect first', null);
    return `${subsystem}/api/${this.version}/${kind}/${param}`;
  }

  get(subsystem: string, kind: 'config' | 'status', param: string): Promise<SimplonValue> {
    return this.request('GET', this.path(subsystem, kind, param)) as Promise<SimplonValue>;
  }

  /** PUT a configuration value; returns the parameters the detector says it changed. */
  async put(subsystem: string, param: string, value: unknown): Promise<string[]> {
    const changed = await this.request('PUT', this.path(subsystem, 'config', param), { value });
    return Array.isArray(changed) ? changed.map(String) : [];
  }

  /** Run a command (initialize, arm, trigger, disarm, cancel, abort); arm answers `{"sequence id": N}`. */
  command(name: string, timeoutMs = this.timeoutMs, body?: unknown): Promise<unknown> {
    return this.request('PUT', this.path('detector', 'command', name), body, timeoutMs);
  }

  async state(): Promise<string> {
    return String((await this.get('detector', 'status', 'state')).value);
  }
}
