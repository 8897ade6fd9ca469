/**
 * Which browsers may talk to the server. A web page can open a WebSocket or
 * send a GET to any address, so a loopback server checks:
 *  - Origin (sent by browsers, never by the Python client): a loopback origin
 *    or one of --allow-origin; a request without one is a non-browser client.
 *  - Host, when bound to loopback: a loopback name or address, the bound host,
 *    or the host of an allowed origin (DNS rebinding gives a page a foreign Host).
 * jupyter-server-proxy forwards the browser's Origin and Host unchanged: the
 * Jupyter server's own origin (loopback, or one named with --allow-origin).
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicy {
  /** the host the server is bound to */
  bound: string;
  /** origins allowed besides loopback ones (`https://host[:port]`) */
  allowOrigins: string[];
}

export const isLoopbackName = (host: string): boolean => {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
};

function parse(origin: string): URL | null {
  try {
    return new URL(origin);
  } catch {
    return null;
  }
}

/** The hostname of a Host header value (`name[:port]`, `[v6][:port]`), or null when malformed. */
function hostnameOf(host: string): string | null {
  const m = /^(?:([A-Za-z0-9.-]+)|\[([0-9A-Fa-f:.]+)\])(?::\d{1,5})?$/.exec(host);
  return m ? (m[1] ?? `[${m[2]}]`) : null;
}

/** Why this request is refused (for the 403 and the log), or null when it may proceed. */
export function requestProblem(req: IncomingMessage, policy: OriginPolicy): string | null {
  const allowed = policy.allowOrigins.map((o) => parse(o)?.origin).filter((o): o is string => Boolean(o));
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const u = parse(origin);
    const ok = u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && (isLoopbackName(u.hostname) || allowed.includes(u.origin));
    if (!ok) return `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed: only loopback origins and those named with --allow-origin`;
  }
  if (isLoopbackName(policy.bound)) {
    const host = req.headers.host;
    if (host !== undefined) {
      const name = hostnameOf(host);
      const hosts = new Set([policy.bound.toLowerCase(), ...allowed.map((o) => new URL(o).hostname.toLowerCase())]);
      if (name === null || !(isLoopbackName(name) || hosts.has(name.toLowerCase()))) {
        return `host ${JSON.stringify(host.slice(0, 200))} is not allowed: this server is bound to loopback (${policy.bound})`;
      }
    }
  }
  return null;
}
