/** `NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy]` (--dectris and the config file's `dectris`). */
import type { StreamFormat } from './worker-messages.js';

export interface DectrisAddress {
  name: string;
  /** SIMPLON base URL, http://HOST[:PORT] */
  url: string;
  /** the detector's ZeroMQ stream; default tcp://HOST:31001 (Stream2) or tcp://HOST:9999 (v1) */
  stream: string;
  format: StreamFormat;
}

export const STREAM2_PORT = 31001;
export const STREAM1_PORT = 9999;

export function parseDectrisAddress(text: string): DectrisAddress {
  const fail = (why: string): never => {
    throw new Error(`--dectris ${JSON.stringify(text)}: ${why}; expected NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy]`);
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('the detector URL must be http:// or https://');
  if (url.pathname !== '/' || url.search) fail('the detector URL takes no path (the DCU address only)');
  let format: StreamFormat = 'cbor';
  let stream: string | null = null;
  for (const opt of options) {
    const [key, value] = opt.split('=', 2).map((s) => s?.trim());
    if (key === 'format') {
      if (value !== 'cbor' && value !== 'legacy') fail(`format must be cbor (Stream2) or legacy (stream v1), got ${JSON.stringify(value)}`);
      format = value as StreamFormat;
    } else if (key === 'stream') {
      if (!/^tcp:\/\/[^\s/:]+:\d{1,5}$/.test(value ?? '')) fail(`stream must be tcp://HOST:PORT, got ${JSON.stringify(value)}`);
      stream = value;
    } else fail(`unknown option ${JSON.stringify(key)}`);
  }
  return {
    name,
    url: `${url.protocol}//${url.host}`,
    stream: stream ?? `tcp://${url.hostname}:${format === 'cbor' ? STREAM2_PORT : STREAM1_PORT}`,
    format,
  };
}
