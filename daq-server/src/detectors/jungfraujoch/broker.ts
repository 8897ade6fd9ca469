/**
 * The Jungfraujoch broker's REST API (OpenAPI; what `jfjoch-client` is
 * generated from): POST /initialize, /start (DatasetSettings), /trigger,
 * /cancel, /pedestal, /wait_till_done?timeout=S; GET /status, /detector/status,
 * /config/..., /image_pusher/status. Every request has a timeout; errors carry
 * the broker's own message (ErrorMessage `{msg, reason}` or text).
 */

import { request as httpRequest } from '../common/http.js';

export class BrokerError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when the broker did not answer */
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

/** BrokerStatus */
export interface BrokerStatus {
  state: 'Inactive' | 'Idle' | 'Busy' | 'Measuring' | 'Pedestal' | 'Error';
  progress?: number;
  message?: string;
  message_severity?: string;
  broker_version?: string;
}

export const REQUEST_TIMEOUT_MS = 5000;
/** the longest wait_till_done the API accepts, s */
const WAIT_MAX_S = 3600;
/** one wait_till_done call waits at most this long, so progress can be logged between calls, s */
const WAIT_SLICE_S = 5;

export class BrokerClient {
  constructor(
    /** http://HOST:PORT */
    readonly base: string,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  private async request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    const url = `${this.base}${path}`;
    const res = await httpRequest(method, url, body, timeoutMs, (message) => new BrokerError(message, null));
    const text = res.text;
    let json: unknown = null;
    try {
      json = text.trim() ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const msg = json && typeof json === 'object' && typeof (json as { msg?: unknown }).msg === 'string' ? (json as { msg: string }).msg : text.trim();
      throw new BrokerError(`${method} ${url}: HTTP ${res.status}${msg ? `: ${msg.slice(0, 500)}` : ''}`, res.status);
    }
    return json ?? (text.trim() || null);
  }

  get<T>(path: string): Promise<T> {
    return this.request('GET', path) as Promise<T>;
  }

  status(): Promise<BrokerStatus> {
    return this.get<BrokerStatus>('/status');
  }

  post(path: '/initialize' | '/start' | '/trigger' | '/cancel' | '/pedestal', body?: unknown): Promise<unknown> {
    return this.request('POST', path, body);
  }

  /**
   * Wait until the broker is done (initialize, collection, pedestal), at most `timeoutS`, calling
   * `progress` between slices; resolves with the final status, rejects with the broker's message.
   */
  async waitTillDone(timeoutS: number, progress?: (s: BrokerStatus | null, elapsedS: number) => void): Promise<BrokerStatus> {
    const t0 = Date.now();
    const limit = Math.min(timeoutS, WAIT_MAX_S);
    for (;;) {
      const left = limit - (Date.now() - t0) / 1000;
      if (left <= 0) throw new BrokerError(`the broker was not done within ${timeoutS} s`, null);
      const slice = Math.max(0, Math.min(WAIT_SLICE_S, Math.floor(left)));
      try {
        await this.request('POST', `/wait_till_done?timeout=${slice}`, undefined, (slice + 5) * 1000);
        return await this.status();
      } catch (err) {
        // 504: not done within the slice; anything else is the broker's answer
        if (!(err instanceof BrokerError) || err.status !== 504) throw err;
      }
      progress?.(await this.status().catch(() => null), (Date.now() - t0) / 1000);
    }
  }
}
