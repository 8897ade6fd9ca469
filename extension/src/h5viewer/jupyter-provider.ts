/**
 * DataProvider over the daqlab Jupyter server extension (`<base_url>daqlab/h5/...`,
 * kernel-bridge/daqlab/h5server). Requests carry Jupyter's login (cookie, and the token when
 * the page has one); `file` is the path relative to the Jupyter root, as the file browser has it.
 */
import { ProviderError, type DataProvider } from './provider.js';
import { decodeSlice } from './binary.js';
import type { Attr, EntityMeta, NxPlot, Slice, Values } from './types.js';

export interface JupyterH5Options {
  /** Jupyter's base URL (PageConfig.getBaseUrl()), ending with '/' */
  baseUrl: string;
  /** Jupyter's token, if the page has one */
  token?: string;
  /** fetch to use (tests pass their own) */
  fetch?: typeof fetch;
}

export class JupyterH5Provider implements DataProvider {
  /** bytes received so far (the tests check that big datasets are not sent whole) */
  bytesReceived = 0;
  private readonly doFetch: typeof fetch;

  constructor(
    readonly file: string,
    private readonly options: JupyterH5Options,
  ) {
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  url(endpoint: string, params: Record<string, string | number | undefined>): string {
    const q = new URLSearchParams({ file: this.file });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    return `${this.options.baseUrl}daqlab/h5/${endpoint}?${q.toString()}`;
  }

  private async get(endpoint: string, params: Record<string, string | number | undefined>): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.options.token) headers.Authorization = `token ${this.options.token}`;
    let r: Response;
    try {
      r = await this.doFetch(this.url(endpoint, params), { headers, credentials: 'same-origin' });
    } catch (e) {
      throw new ProviderError(`the Jupyter server cannot be reached: ${String(e)}`);
    }
    if (r.status === 404 && !(r.headers.get('Content-Type') ?? '').includes('json')) {
      throw new ProviderError('the daqlab server extension is not enabled on this Jupyter server (jupyter server extension enable daqlab.h5server)', 404);
    }
    if (!r.ok) {
      let msg = `${r.status} ${r.statusText}`;
      let field: string | null = null;
      try {
        const body = (await r.json()) as { error?: string; field?: string };
        if (body.error) msg = body.error;
        field = body.field ?? null;
      } catch {
        /* not JSON: keep the status line */
      }
      throw new ProviderError(msg, r.status, field);
    }
    return r;
  }

  private async json<T>(endpoint: string, params: Record<string, string | number | undefined>): Promise<T> {
    const r = await this.get(endpoint, params);
    const text = await r.text();
    this.bytesReceived += text.length;
    return JSON.parse(text) as T;
  }

  meta(path: string): Promise<EntityMeta> {
    return this.json('meta', { path });
  }

  async attrs(path: string): Promise<Attr[]> {
    return (await this.json<{ attrs: Attr[] }>('attrs', { path })).attrs;
  }

  nxDefault(path: string): Promise<NxPlot> {
    return this.json('nxdefault', { path });
  }

  async slice(path: string, select: string, maxPixels?: number): Promise<Slice> {
    const r = await this.get('data', { path, select, max_pixels: maxPixels });
    const buffer = await r.arrayBuffer();
    this.bytesReceived += buffer.byteLength;
    return decodeSlice(buffer);
  }

  values(path: string, select?: string): Promise<Values> {
    return this.json('data', { path, select, format: 'json' });
  }
}
