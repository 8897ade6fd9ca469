/**
 * One receiver thread of a DECTRIS detector: a ZeroMQ PULL socket on the
 * detector's stream (the detector deals messages round robin between its
 * PULL clients), decoding off the event loop of the server. Frames go to the
 * main thread transferred, never copied. Bad messages are reported, never fatal.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Pull, Subscriber } from 'zeromq';
import { decodeBlob, hasFramingHeader, BlobError } from './blobs.js';
import { parseStream2 } from './stream2.js';
import { parseStream1 } from './stream1.js';
import { StreamError, type EncodedImage, type SeriesMessage } from './messages.js';
import { TYPED_ARRAY, type TypedArray } from '../../protocol/index.js';
import type { DecodedChannel, DecodedMap, FromReceiver, ReceiverInit, ToReceiver } from './worker-messages.js';
import { bslz4BlocksIntact, bslz4ChunkOf, type CompressedChunk } from '../../saving/direct-chunk.js';

if (!parentPort) throw new Error('the DECTRIS receiver must run in a worker thread');
const port = parentPort;
const init = workerData as ReceiverInit;
const send = (m: FromReceiver, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

/** Messages the socket may hold while this thread decodes (each up to a frame): bounded memory. */
const RECEIVE_HWM = 64;

const socket = init.socket === 'sub' ? new Subscriber({ receiveHighWaterMark: RECEIVE_HWM, linger: 0 }) : new Pull({ receiveHighWaterMark: RECEIVE_HWM, linger: 0 });
if (socket instanceof Subscriber) socket.subscribe();
port.on('message', (m: ToReceiver) => {
  if (m.type === 'close') socket.close();
});

/** A declared image larger than the detector is refused before its pixels are allocated. */
function checkSize(e: EncodedImage, max = init.maxPixels): void {
  const n = e.shape[0] * e.shape[1];
  if (n > max) throw new BlobError(`declares ${e.shape[0]} × ${e.shape[1]} pixels, the detector has ${max}`);
}

/** Entries of a count-rate table (one per count value of a 32-bit detector's range at most is far more than any sends). */
const MAX_TABLE = 1 << 20;

function decodeMap(e: EncodedImage, max = init.maxPixels): DecodedMap | null {
  try {
    checkSize(e, max);
    return { dtype: e.dtype, shape: e.shape, data: decodeBlob(e.blob, e.encoding, e.dtype, e.shape[0] * e.shape[1]) };
  } catch {
    return null;
  }
}

/**
 * The detector's bslz4 bytes of a channel that decoded cleanly, as an HDF5 filter-32008 chunk the saver can
 * write without re-encoding (saving/direct-chunk.ts). Copied out of the ZeroMQ message, which is not ours to
 * transfer; null for other encodings.
 */
function keepChunk(e: EncodedImage, data: TypedArray): CompressedChunk | null {
  if (e.encoding !== 'bslz4') return null;
  const chunk = bslz4ChunkOf(e.blob, data.BYTES_PER_ELEMENT, data.byteLength, hasFramingHeader(e.blob));
  return chunk ? { codec: 'bslz4', elemSize: data.BYTES_PER_ELEMENT, bytes: chunk === e.blob ? chunk.slice() : chunk } : null;
}

/**
 * A one-channel bslz4 image passed on undecoded: its chunk, when its header agrees with the declared size
 * (a corrupt block inside shows only when the frame is read, as zeros where it does not decode). Else null: decode.
 */
function undecoded(m: Extract<SeriesMessage, { type: 'image' }>): { channel: string; decoded: DecodedChannel } | null {
  const entries = Object.entries(m.data);
  if (entries.length !== 1 || Object.keys(m.bad).length) return null;
  const [channel, e] = entries[0];
  if (e.encoding !== 'bslz4') return null;
  try {
    checkSize(e);
  } catch {
    return null;
  }
  const elemSize = TYPED_ARRAY[e.dtype].BYTES_PER_ELEMENT;
  const chunk = bslz4ChunkOf(e.blob, elemSize, e.shape[0] * e.shape[1] * elemSize, hasFramingHeader(e.blob));
  // a truncated chunk is decoded instead, which flags the frame invalid by name
  if (!chunk || !bslz4BlocksIntact(chunk, elemSize)) return null;
  const bytes = chunk === e.blob ? chunk.slice() : chunk;
  return { channel, decoded: { data: null, shape: e.shape, error: null, chunk: { codec: 'bslz4', elemSize, bytes }, undecoded: e.dtype } };
}

function handle(m: SeriesMessage): void {
  switch (m.type) {
    case 'start': {
      const { pixel_mask, flatfield, countrate, ...start } = m;
      const maps = (src: Record<string, EncodedImage>, kind: string): Record<string, DecodedMap> => {
        const out: Record<string, DecodedMap> = {};
        for (const [ch, e] of Object.entries(src)) {
          const d = decodeMap(e, kind === 'countrate' ? Math.max(MAX_TABLE, init.maxPixels) : init.maxPixels);
          if (d) out[ch] = d;
          else start.ignored[`${kind}.${ch}`] = 'could not be decoded';
        }
        return out;
      };
      const pm = maps(pixel_mask, 'pixel_mask');
      const ff = maps(flatfield, 'flatfield');
      const cr = maps(countrate, 'countrate');
      const buffers = [...Object.values(pm), ...Object.values(ff), ...Object.values(cr)].map((d) => d.data.buffer as ArrayBuffer);
      send({ type: 'start', rank: init.rank, start, pixel_mask: pm, flatfield: ff, countrate: cr }, buffers);
      return;
    }
    case 'image': {
      const channels: Record<string, DecodedChannel> = {};
      const transfer: ArrayBuffer[] = [];
      const kept = init.decode === false ? undecoded(m) : null;
      if (kept) {
        const { data: _d, bad: _b, type: _t, ...rest } = m;
        send({ type: 'image', rank: init.rank, ...rest, channels: { [kept.channel]: kept.decoded } }, [kept.decoded.chunk!.bytes.buffer as ArrayBuffer]);
        return;
      }
      for (const [ch, reason] of Object.entries(m.bad)) channels[ch] = { data: null, shape: null, error: reason };
      for (const [ch, e] of Object.entries(m.data)) {
        try {
          checkSize(e);
          const data = decodeBlob(e.blob, e.encoding, e.dtype, e.shape[0] * e.shape[1]);
          const chunk = keepChunk(e, data);
          channels[ch] = { data, shape: e.shape, error: null, ...(chunk ? { chunk } : {}) };
          transfer.push(data.buffer as ArrayBuffer);
          if (chunk) transfer.push(chunk.bytes.buffer as ArrayBuffer);
        } catch (err) {
          if (!(err instanceof BlobError)) throw err;
          channels[ch] = { data: null, shape: e.shape, error: `channel ${ch}: ${err.message}` };
        }
      }
      const { data: _d, bad: _b, type: _t, ...rest } = m;
      send({ type: 'image', rank: init.rank, ...rest, channels }, transfer);
      return;
    }
    case 'end':
      send({ type: 'end', rank: init.rank, end: m });
      return;
    case 'calibration': {
      const maps: Record<string, DecodedMap> = {};
      const bad = { ...m.bad };
      for (const [name, e] of Object.entries(m.maps)) {
        const d = decodeMap(e);
        if (d) maps[name] = d;
        else bad[name] = 'could not be decoded';
      }
      send({ type: 'calibration', rank: init.rank, series_id: m.series_id, maps, bad }, Object.values(maps).map((d) => d.data.buffer as ArrayBuffer));
      return;
    }
    case 'metadata':
      send({ type: 'metadata', rank: init.rank, metadata: m });
      return;
  }
}

async function run(): Promise<void> {
  // Jungfraujoch may stream over several sockets: one receiver PULLs from all of them
  for (const a of init.address.split(/\s+/).filter(Boolean)) socket.connect(a);
  send({ type: 'ready', rank: init.rank });
  for await (const frames of socket) {
    const parts = frames.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    try {
      if (init.format === 'cbor') {
        // one CBOR item per part (some emitters pack several messages into one multipart)
        for (const part of parts) {
          try {
            handle(parseStream2(part));
          } catch (err) {
            if (!(err instanceof StreamError)) throw err;
            send({ type: 'bad', rank: init.rank, message: err.message });
          }
        }
      } else {
        const { messages, errors } = parseStream1(parts);
        for (const m of messages) handle(m);
        for (const e of errors) send({ type: 'bad', rank: init.rank, message: e });
      }
    } catch (err) {
      send({ type: 'bad', rank: init.rank, message: `undecodable message: ${(err as Error).message}` });
    }
  }
}

run().catch((err: Error) => {
  // closing the socket ends the loop with an error on some versions: not a failure
  if (!socket.closed) send({ type: 'failed', rank: init.rank, message: `stream ${init.address}: ${err.message}` });
});
