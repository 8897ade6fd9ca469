/** `NAME=http://HOST:PORT[,stream=tcp://HOST:PORT][,metadata=tcp://HOST:PORT]` (--jungfraujoch and the config file's `jungfraujoch`). */
import { splitAddress } from '../common/address.js';

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
  const { name, url, urlText, options, fail } = splitAddress(text, '--jungfraujoch', USAGE, 'the broker URL', '');
  const out: JungfraujochAddress = { name, url: `${url.protocol}//${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port(url, urlText)}`, stream: null, metadata: null };
  for (const { key, value } of options) {
    if (key !== 'stream' && key !== 'metadata') fail(`unknown option ${JSON.stringify(key)}`);
    if (!/^tcp:\/\/[^\s/]+:\d{1,5}$/.test(value ?? '')) fail(`${key} must be tcp://HOST:PORT, got ${JSON.stringify(value)}`);
    out[key as 'stream' | 'metadata'] = value ?? null;
  }
  return out;
}

/** A socket the broker reports (`tcp://0.0.0.0:5500` binds every interface): reached at the broker's host. */
export function reachable(socket: string, brokerUrl: string): string {
  const host = new URL(brokerUrl).hostname;
  return socket.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\])(?=:)/, `tcp://${host.includes(':') ? `[${host}]` : host}`);
}
