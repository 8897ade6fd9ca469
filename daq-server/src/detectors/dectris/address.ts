/** `NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy]` (--dectris and the config file's `dectris`). */
import { splitAddress } from '../common/address.js';
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
  const { name, url, options, fail } = splitAddress(
    text, '--dectris', 'expected NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy]', 'the detector URL', ' (the DCU address only)',
  );
  let format: StreamFormat = 'cbor';
  let stream: string | null = null;
  for (const { key, value } of options) {
    if (key === 'format') {
      if (value !== 'cbor' && value !== 'legacy') fail(`format must be cbor (Stream2) or legacy (stream v1), got ${JSON.stringify(value)}`);
      format = value as StreamFormat;
    } else if (key === 'stream') {
      if (!/^tcp:\/\/[^\s/:]+:\d{1,5}$/.test(value ?? '')) fail(`stream must be tcp://HOST:PORT, got ${JSON.stringify(value)}`);
      stream = value ?? null;
    } else fail(`unknown option ${JSON.stringify(key)}`);
  }
  return {
    name,
    url: `${url.protocol}//${url.host}`,
    stream: stream ?? `tcp://${url.hostname}:${format === 'cbor' ? STREAM2_PORT : STREAM1_PORT}`,
    format,
  };
}
