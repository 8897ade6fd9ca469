#!/usr/bin/env node
/**
 * `daqlab-detector-sim`: a simulated DECTRIS detector (SIMPLON 1.8.0 REST,
 * Stream2 CBOR or stream v1 over ZeroMQ PUSH) serving the daqlab
 * simulators' scenes. See --help and README.md.
 */
import type { Server } from 'node:http';
import { DaqError } from '../protocol/index.js';
import { SimDetector } from './detector.js';
import { StreamEmitter } from './emitter.js';
import { FrameSource } from './frames.js';
import { detectorModel, MODELS, type ModelName } from './models.js';
import { createSimplonServer } from './simplon.js';
import { SimBroker, createBrokerServer } from './jfjoch-broker.js';

export const USAGE = `usage: daqlab-detector-sim [options]
  --model M          ${MODELS.join(' | ')} (default eiger2-4m)
  --port P           SIMPLON HTTP port (default 8000; 0 = any free port)
  --stream-port Q    ZeroMQ PUSH port of the stream, Stream2 or v1 as stream/config/format says (default 31001; 0 = any)
  --host H           address to listen on (default 127.0.0.1; a real DCU listens on its network)
  --scene S          scene of the simulator (default: the simulator's)
  --seed N           seed of every random draw (default 0)
  --config JSON      other keys of the simulator's detector section, e.g. '{"pool_size": 4, "hit_rate": 0.5}'
  --stream-buffer B  bytes of images queued for slow or absent stream clients before images are dropped (default 1073741824)
  --jungfraujoch     be a Jungfraujoch broker instead (REST API on --port, default 5232; image stream PUSH on
                     --stream-port; metadata PUB on --metadata-port, default 0 = any) serving the model's frames as int32
  --results-in W     --jungfraujoch: where the spots and profiles go: both (image messages and the metadata
                     socket, as Jungfraujoch does; default) or metadata (the metadata socket only)`;

interface Options {
  model: ModelName;
  port: number;
  streamPort: number;
  host: string;
  config: Record<string, unknown>;
  streamBuffer: number;
  jungfraujoch: boolean;
  metadataPort: number;
  resultsIn: 'both' | 'metadata';
}

export function parseArgs(argv: string[]): Options | 'help' {
  const o: Options = { model: 'eiger2-4m', port: 8000, streamPort: 31001, host: '127.0.0.1', config: {}, streamBuffer: 2 ** 30, jungfraujoch: false, metadataPort: 0, resultsIn: 'both' };
  let portGiven = false;
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer from ${min} to ${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--model':
        if (!MODELS.includes(v as ModelName)) throw new Error(`--model must be one of ${MODELS.join(', ')}, got ${v}`);
        o.model = v as ModelName;
        break;
      case '--port':
        o.port = int(flag, v, 0, 65535);
        portGiven = true;
        break;
      case '--metadata-port':
        o.metadataPort = int(flag, v, 0, 65535);
        break;
      case '--results-in':
        if (v !== 'both' && v !== 'metadata') throw new Error(`--results-in must be both or metadata, got ${v}`);
        o.resultsIn = v;
        break;
      case '--jungfraujoch':
        o.jungfraujoch = true;
        i--; // a flag without a value
        break;
      case '--stream-port':
        o.streamPort = int(flag, v, 0, 65535);
        break;
      case '--host':
        if (!v) throw new Error('--host needs an address');
        o.host = v;
        break;
      case '--scene':
        if (!v) throw new Error('--scene needs a name');
        o.config.scene = v;
        break;
      case '--seed':
        o.config.seed = int(flag, v, 0, 4294967295);
        break;
      case '--config': {
        let c: unknown;
        try {
          c = JSON.parse(v ?? '');
        } catch {
          throw new Error(`--config must be a JSON object, got ${v}`);
        }
        if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new Error(`--config must be a JSON object, got ${v}`);
        o.config = { ...c, ...o.config };
        break;
      }
      case '--stream-buffer':
        // any size from 1 byte: a buffer smaller than one image drops every image (a receiver that never keeps up)
        o.streamBuffer = int(flag, v, 1, Number.MAX_SAFE_INTEGER);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
    i++;
  }
  if (o.jungfraujoch && !portGiven) o.port = 5232;
  return o;
}

async function main(): Promise<void> {
  let opts: Options | 'help';
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`daqlab-detector-sim: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const model = detectorModel(opts.model);
  let frames: FrameSource;
  try {
    frames = await FrameSource.open(model, opts.config);
  } catch (err) {
    const fields = err instanceof DaqError && err.fields ? ` ${JSON.stringify(err.fields)}` : '';
    process.stderr.write(`daqlab-detector-sim: ${(err as Error).message}${fields}\n`);
    process.exit(2);
  }
  const emitter = new StreamEmitter(opts.streamBuffer);
  if (opts.jungfraujoch) return serveBroker(opts, model, frames, emitter);
  const detector = new SimDetector(model, frames, emitter);
  const http = createSimplonServer(detector);
  const { host, port } = await serve(opts, http, () => emitter.bind(opts.host, opts.streamPort));
  const shutdown = (): void => {
    http.close();
    http.closeAllConnections();
    void detector.close().finally(() => {
      emitter.close();
      frames.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // tests and scripts wait for this line
  process.stdout.write(
    `daqlab-detector-sim ${model.name} (${model.sim.name}, scene ${frames.run.cfg.scene}, seed ${frames.run.cfg.seed}): ` +
      `SIMPLON http://${host}:${port} stream ${emitter.endpoint}\n`,
  );
}

void main();

/** An IPv6 host as it stands in a URL. */
function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Binds the sockets, then the HTTP server; exits with status 1 when either cannot (a port in use). */
async function serve(opts: Options, http: Server, bindSockets: () => Promise<unknown>): Promise<{ host: string; port: number }> {
  try {
    await bindSockets();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    process.stderr.write(`daqlab-detector-sim: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const addr = http.address();
  return { host: bracketed(opts.host), port: typeof addr === 'object' && addr ? addr.port : opts.port };
}

/** `--jungfraujoch`: the simulated broker and its two sockets. */
async function serveBroker(opts: Options, model: ReturnType<typeof detectorModel>, frames: FrameSource, emitter: StreamEmitter): Promise<void> {
  const broker = new SimBroker(frames, emitter, `PSI JUNGFRAU (simulated by daqlab-detector-sim, frames of ${model.sim.name})`, opts.resultsIn === 'both');
  const http = createBrokerServer(broker);
  const { host, port } = await serve(opts, http, async () => {
    await emitter.bind(opts.host, opts.streamPort);
    await broker.bindMetadata(bracketed(opts.host), opts.metadataPort);
  });
  const shutdown = (): void => {
    http.close();
    http.closeAllConnections();
    broker.close();
    emitter.close();
    frames.close();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // tests and scripts wait for this line
  process.stdout.write(
    `daqlab-detector-sim jungfraujoch (${model.sim.name}, scene ${frames.run.cfg.scene}, seed ${frames.run.cfg.seed}): ` +
      `broker http://${host}:${port} stream ${emitter.endpoint} metadata ${broker.metadataEndpoint}\n`,
  );
}
