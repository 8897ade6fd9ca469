/**
 * How h5web's H5GroveProvider reaches our Jupyter server extension: the h5grove API at
 * `<base_url>daqlab/h5grove/{meta,attr,data,paths}` (kernel-bridge/daqlab/h5server/grove.py),
 * authenticated like every other Jupyter request (the page's token, or its cookie).
 */

/** The URL prefix of the h5grove endpoints under the Jupyter base URL (h5server/__init__.py GROVE_PREFIX). */
export const GROVE_PREFIX = 'daqlab/h5grove';

/** h5web's Fetcher: GET `url?params`, the body as an ArrayBuffer; errors carry the body (h5web reads `message`). */
export type Fetcher = (
  url: string,
  params: Record<string, string>,
  opts?: { abortSignal?: AbortSignal; onProgress?: (value: number) => void },
) => Promise<ArrayBuffer>;

/** The h5grove base URL under a Jupyter base URL (no trailing slash: h5web appends `/meta` etc.). */
export function groveUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '') + '/' + GROVE_PREFIX;
}

/** A fetcher that sends Jupyter's token (when the page has one) and the session cookie. */
export function jupyterFetcher(token: string, fetchImpl: typeof fetch = fetch): Fetcher {
  const headers: Record<string, string> = token ? { Authorization: `token ${token}` } : {};
  return async (url, params, opts = {}) => {
    const query = new URLSearchParams(params).toString();
    const resp = await fetchImpl(`${url}?${query}`, { headers, credentials: 'same-origin', signal: opts.abortSignal });
    const body = await resp.arrayBuffer();
    if (!resp.ok) {
      throw new GroveFetchError(resp.status, body);
    }
    return body;
  };
}

/** A refused or failed request: the status and the server's reason (`message` of its JSON body). */
export class GroveFetchError extends Error {
  constructor(
    readonly status: number,
    readonly buffer: ArrayBuffer,
  ) {
    super(`HTTP ${status}: ${reasonOf(buffer)}`);
  }
}

function reasonOf(buffer: ArrayBuffer): string {
  try {
    const body = JSON.parse(new TextDecoder().decode(buffer)) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : 'no reason given';
  } catch {
    return 'no reason given';
  }
}
