/**
 * Where this Jupyter server's daqlab server is: `GET <base_url>daqlab/config` (daqlab.labconfig, a Jupyter
 * server extension) answers from the Jupyter server's own environment ($DAQLAB_URL, set by `npm start`),
 * so side panels opened in a fresh browser find a server on any port before any widget has connected.
 */
import { PageConfig } from '@jupyterlab/coreutils';

export interface DiscoveredServer {
  /** the address a browser uses (`proxy/<port>/ws` for a loopback server), or null when none is configured */
  server_url: string | null;
  token: string | null;
}

let discovered: DiscoveredServer | null = null;
let pending: Promise<DiscoveredServer | null> | null = null;

/** Ask the Jupyter server once; later calls share the answer. Null when the endpoint is missing or fails. */
export function discoverServer(): Promise<DiscoveredServer | null> {
  pending ??= (async () => {
    try {
      const token = PageConfig.getToken();
      const res = await fetch(`${PageConfig.getBaseUrl()}daqlab/config`, {
        credentials: 'same-origin',
        headers: token ? { Authorization: `token ${token}` } : {},
      });
      if (!res.ok) return null;
      discovered = (await res.json()) as DiscoveredServer;
      return discovered;
    } catch {
      return null;
    }
  })();
  return pending;
}

/** What discovery found so far (null before it answered or when it found nothing). */
export function discoveredServer(): DiscoveredServer | null {
  return discovered;
}
