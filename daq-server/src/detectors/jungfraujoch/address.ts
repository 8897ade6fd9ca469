/** `NAME=http://HOST:PORT[,stream=tcp://HOST:PORT][,metadata=tcp://HOST:PORT]` (--jungfraujoch and the config file's `jungfraujoch`). */

export interface JungfraujochAddress {
  name: string;
  /** the broker's REST API, http://HOST:PORT */
  url: string;
  /** the image stream (PUSH); null: the broker's /image_pusher/status says */
  stream: string | null;
  /** the metadata PUB socket; null: /config/zeromq_metadata says (when enabled) */
  metadata: string | null;
}

/** jfjoch_broker's default HTTP port */
export const BROKER_PORT = 5232;

const USAGE = 'expected NAME=http://HOST:PORT[,stream=tcp://HOST:PORT][,metadata=tcp://HOST:PORT]';

/** The port as written (URL drops a scheme's default port), else the broker's default. */
function port(url: URL, text: string): number {
  if (url.port) return Number(url.port);
  if (/:\d+\/?$/.test(text)) return url.protocol === 'https:' ? 443 : 80;
  return BROKER_PORT;
}

export function parseJungfraujochAddress(text: string): JungfraujochAddress {
  const fail = (why: string): never => {
    throw new Error(`--jungfraujoch ${JSON.stringify(text)}: ${why}; ${USAGE}`);
  };
  const eq = text.indexOf('=');
  if (eq < 1) fail('no NAME=');
  const name = text.slice(0, eq).trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) fail(`detector name ${JSON.stringify(name)} may only hold letters, digits, _ . -`);
  const [urlText, ...options] = text.slice(eq + 1).split(',').map((s) => s.trim());
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return fail(`${JSON.stringify(urlText)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('the broker URL must be http:// or https://');
  if (url.pathname !== '/' || url.search) fail('the broker URL takes no path');
  const out: JungfraujochAddress = { name, url: `${url.protocol}//${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port(url, urlText)}`, stream: null, metadata: null };
  for (const opt of options) {
    const [key, value] = opt.split('=', 2).map((s) => s?.trim());
    if (key !== 'stream' && key !== 'metadata') fail(`unknown option ${JSON.stringify(key)}`);
    if (!/^tcp:\/\/[^\s/]+:\d{1,5}$/.test(value ?? '')) fail(`${key} must be tcp://HOST:PORT, got ${JSON.stringify(value)}`);
    out[key as 'stream' | 'metadata'] = value;
  }
  return out;
}

/** A socket the broker reports (`tcp://0.0.0.0:5500` binds every interface): reached at the broker's host. */
export function reachable(socket: string, brokerUrl: string): string {
  const host = new URL(brokerUrl).hostname;
  return socket.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\])(?=:)/, `tcp://${host.includes(':') ? `[${host}]` : host}`);
}
