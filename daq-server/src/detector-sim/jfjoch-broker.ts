/**
 * A simulated Jungfraujoch broker (`daqlab-detector-sim --jungfraujoch`): the
 * REST routes of its OpenAPI (the ones `jfjoch-client` calls to run a
 * dataset) over the scenes of a daqlab simulator, and its streams
 * (jfjoch-stream.ts). States as the broker reports them: Inactive after
 * power-up → (initialize) Busy → Idle → (start) Measuring → Idle; pedestal:
 * Pedestal → Idle. A dataset is ntrigger × images_per_trigger images; each
 * POST /trigger acquires one trigger's images, image_time_us apart; cancel
 * ends it after the image being acquired (the end message counts what came).
 * Errors: 400 with a plain-text message naming the field, 500 with
 * ErrorMessage {msg, reason} (WrongDAQState), as the API documents them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Publisher } from 'zeromq';
import type { FrameSource } from './frames.js';
import type { StreamEmitter } from './emitter.js';
import * as jf from './jfjoch-stream.js';
import type { CborValue } from './cbor.js';
import { readBoundedBody } from '../api/body.js';

type State = 'Inactive' | 'Idle' | 'Busy' | 'Measuring' | 'Pedestal' | 'Error';

const MAX_BODY = 1 << 20;
/** how long initialize and pedestal take here, ms (seconds to minutes on a real detector) */
const INITIALIZE_MS = 300;
const PEDESTAL_MS = 300;
/** detector frame time, µs: image_time_us must be a multiple of it (JUNGFRAU runs at 2 kHz) */
export const FRAME_TIME_US = 500;
/** images per metadata message */
const METADATA_BATCH = 8;
const PIXEL = 75e-6;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: 'WrongDAQState' | 'Other' | null = null,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SimBroker {
  state: State = 'Inactive';
  private message: string | null = null;
  private progress: number | null = null;
  private seriesId = 0;
  private series: jf.JfSeries | null = null;
  private next = 0;
  private triggersLeft = 0;
  private acquiring: Promise<void> | null = null;
  private cancelled = false;
  private waiters: (() => void)[] = [];
  private pending: { index: number; result: Record<string, CborValue> }[] = [];
  private readonly metadata = new Publisher({ linger: 0 });
  metadataEndpoint = '';
  imagesSent = 0;

  constructor(
    readonly frames: FrameSource,
    readonly emitter: StreamEmitter,
    readonly description: string,
    /** false: the analysis goes only to the metadata socket, not into image messages (a reader must then use the socket) */
    readonly inlineResults = true,
  ) {}

  async bindMetadata(host: string, port: number): Promise<string> {
    await this.metadata.bind(`tcp://${host}:${port === 0 ? '*' : port}`);
    return (this.metadataEndpoint = this.metadata.lastEndpoint ?? '');
  }

  private get shape(): [number, number] {
    return [this.frames.shape[0], this.frames.shape[1]];
  }

  private setState(s: State): void {
    this.state = s;
    if (s !== 'Busy' && s !== 'Measuring' && s !== 'Pedestal') for (const w of this.waiters.splice(0)) w();
  }

  // ------------------------------------------------------------------ REST answers (models of the OpenAPI)

  status(): Record<string, unknown> {
    return {
      state: this.state,
      ...(this.progress !== null ? { progress: this.progress } : {}),
      ...(this.message ? { message: this.message, message_severity: this.state === 'Error' ? 'error' : 'info' } : {}),
      gpu_count: 0,
      broker_version: 'daqlab-detector-sim',
    };
  }

  detectorList(): Record<string, unknown> {
    const [rows, cols] = this.shape;
    return {
      detectors: [
        { id: 0, description: this.description, serial_number: 'JF-SIM-0', base_ipv4_addr: '10.10.10.1', udp_interface_count: 1, nmodules: Math.max(1, Math.round((rows * cols) / (512 * 1024))), width: cols, height: rows, pixel_size_mm: PIXEL * 1000, readout_time_ns: 20000, min_frame_time_ns: FRAME_TIME_US * 1000, min_count_time_ns: 3000, type: 'JUNGFRAU' },
      ],
      current_id: 0,
    };
  }

  detectorSettings(): Record<string, unknown> {
    return { frame_time_us: FRAME_TIME_US, count_time_us: FRAME_TIME_US - 20, internal_frame_generator: false, timing: 'trigger', jungfrau_pedestal_g0_frames: 2000, jungfrau_pedestal_g1_frames: 300, jungfrau_pedestal_g2_frames: 300, jungfrau_storage_cell_count: 1 };
  }

  imageFormat(): Record<string, unknown> {
    return { summation: true, geometry_transform: true, jungfrau_conversion: true, bit_depth_image: 32, signed_output: true, mask_module_edges: false, mask_chip_edges: false, apply_mask: false };
  }

  detectorStatus(): Record<string, unknown> {
    const busy = this.state === 'Measuring' || this.state === 'Pedestal' || this.state === 'Busy';
    return { state: this.state === 'Inactive' ? 'Not connected' : this.state === 'Error' ? 'Error' : busy ? 'Busy' : 'Idle', powerchip: this.state === 'Inactive' ? 'PowerOff' : 'PowerOn', server_version: 'daqlab-detector-sim', number_of_triggers_left: this.triggersLeft, fpga_temp_degC: [38], high_voltage_V: [120] };
  }

  // ------------------------------------------------------------------ commands

  private requireState(action: string, ...ok: State[]): void {
    if (!ok.includes(this.state)) throw new HttpError(500, `${action}: the broker is ${this.state}, needs ${ok.join(' or ')}`, 'WrongDAQState');
  }

  async initialize(): Promise<void> {
    this.requireState('initialize', 'Inactive', 'Idle', 'Error');
    this.message = null;
    this.setState('Busy');
    setTimeout(() => this.setState('Idle'), INITIALIZE_MS);
  }

  async pedestal(): Promise<void> {
    this.requireState('pedestal', 'Idle');
    this.setState('Pedestal');
    setTimeout(() => this.setState('Idle'), PEDESTAL_MS);
  }

  start(body: unknown): void {
    this.requireState('start', 'Idle');
    const s = checkSettings(body);
    const { bins, binQ } = jf.profileBins(this.shape, PIXEL, s);
    this.seriesId = s.run_number ?? this.seriesId + 1;
    const series: jf.JfSeries = { seriesId: this.seriesId, uniqueId: randomUUID(), armDate: new Date().toISOString(), settings: s, shape: this.shape, pixelSize: PIXEL, description: this.description, serialNumber: 'JF-SIM-0', bins, binQ };
    this.series = series;
    this.next = 0;
    this.triggersLeft = s.ntrigger;
    this.cancelled = false;
    this.pending = [];
    this.progress = 0;
    this.setState('Measuring');
    this.emitter.push({ parts: [jf.startMessage(series)], image: false });
    for (const [g, level] of [['pedestal_G0', 3000], ['pedestal_G1', 1500], ['pedestal_G2', 1000]] as const) {
      const map = new Float32Array(this.shape[0] * this.shape[1]);
      for (let k = 0; k < map.length; k++) map[k] = level + ((k * 2654435761) % 97);
      this.emitter.push({ parts: [jf.calibrationMessage(series, g, map)], image: false });
    }
  }

  trigger(): void {
    this.requireState('trigger', 'Measuring');
    if (this.acquiring) throw new HttpError(500, 'trigger: the previous trigger is still acquiring', 'WrongDAQState');
    if (this.triggersLeft <= 0) throw new HttpError(500, 'trigger: every trigger of the dataset was given', 'WrongDAQState');
    this.triggersLeft--;
    this.acquiring = this.acquire().finally(() => (this.acquiring = null));
  }

  async cancel(): Promise<void> {
    if (this.state === 'Pedestal') return this.setState('Idle');
    if (this.state !== 'Measuring') return; // no effect when nothing runs
    this.cancelled = true;
    if (this.acquiring) await this.acquiring;
    this.finish();
  }

  /** POST /wait_till_done: 200 Idle, 502 Inactive, 500 Error, 504 when not done within `timeout` s. */
  async waitTillDone(timeoutS: number): Promise<void> {
    const busy = (): boolean => this.state === 'Busy' || this.state === 'Measuring' || this.state === 'Pedestal';
    if (busy()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutS * 1000);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (busy()) throw new HttpError(504, `not done within ${timeoutS} s`);
    if (this.state === 'Inactive') throw new HttpError(502, 'the detector is inactive: initialize it');
    if (this.state === 'Error') throw new HttpError(500, this.message ?? 'error', 'Other');
  }

  private async acquire(): Promise<void> {
    const s = this.series;
    if (!s) return;
    const per = s.settings.images_per_trigger;
    const total = per * s.settings.ntrigger;
    const t0 = Date.now();
    const first = this.next;
    for (let j = 0; j < per && !this.cancelled; j++) {
      const due = t0 + (j * s.settings.image_time_us) / 1000;
      const wait = due - Date.now();
      await (wait >= 1 ? sleep(Math.ceil(wait)) : new Promise<void>((r) => setImmediate(r)));
      if (this.cancelled || this.series !== s) return;
      const index = first + j;
      let frame;
      try {
        frame = this.frames.run.frame(index);
      } catch (err) {
        this.message = `image ${index}: ${(err as Error).message}`;
        this.setState('Error');
        return;
      }
      const pixels = Int32Array.from(frame.data as ArrayLike<number>);
      const result = jf.analysis(jf.spotsFromTruth(frame.truth), jf.profile(pixels, s.bins));
      const msg = jf.imageMessage(s, index, Math.round(index * s.settings.image_time_us * 1000), jf.compress(pixels, s.settings.compression), this.inlineResults ? result : {});
      this.emitter.push({ parts: [msg], image: true });
      this.imagesSent++;
      this.pending.push({ index, result });
      if (this.pending.length >= METADATA_BATCH) this.flushMetadata();
      this.next = index + 1;
      this.progress = this.next / total;
    }
    if (this.next >= total) this.finish();
  }

  private flushMetadata(): void {
    if (!this.series || !this.pending.length) return;
    void this.metadata.send(jf.metadataMessage(this.series, this.pending.splice(0))).catch(() => undefined);
  }

  private finish(): void {
    const s = this.series;
    if (!s || this.state !== 'Measuring') return;
    this.flushMetadata();
    this.emitter.push({ parts: [jf.endMessage(s, this.next)], image: false });
    this.progress = null;
    this.triggersLeft = 0;
    this.setState('Idle');
  }

  close(): void {
    this.cancelled = true;
    this.metadata.close();
  }
}

/** DatasetSettings as the OpenAPI model bounds it; a 400 names the field. */
export function checkSettings(body: unknown): jf.DatasetSettings {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'DatasetSettings: the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const bad = (field: string, why: string): never => {
    throw new HttpError(400, `${field}: ${why}`);
  };
  const int = (k: string, min: number, dflt?: number): number => {
    const v = b[k] ?? dflt;
    if (v === undefined) bad(k, 'required');
    if (!Number.isInteger(v) || (v as number) < min) bad(k, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const numIn = (k: string, min: number, max: number): number => {
    const v = b[k];
    if (v === undefined) bad(k, 'required');
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(k, `must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const image_time_us = int('image_time_us', 0, FRAME_TIME_US) || FRAME_TIME_US;
  if (image_time_us % FRAME_TIME_US || image_time_us > 256 * FRAME_TIME_US) bad('image_time_us', `must be a multiple of the frame time ${FRAME_TIME_US} µs, at most 256 of them; got ${image_time_us}`);
  const compression = b.compression ?? 'bslz4';
  if (compression !== 'bslz4' && compression !== 'bszstd') bad('compression', `must be bslz4 or bszstd, got ${JSON.stringify(compression)}`);
  const images_per_trigger = int('images_per_trigger', 1, 1);
  const ntrigger = int('ntrigger', 1, 1);
  if (images_per_trigger * ntrigger > 1_000_000) bad('ntrigger', `images_per_trigger × ntrigger = ${images_per_trigger * ntrigger} exceeds what this simulator serves (1000000)`);
  return {
    images_per_trigger,
    ntrigger,
    image_time_us,
    beam_x_pxl: numIn('beam_x_pxl', -1e6, 1e6),
    beam_y_pxl: numIn('beam_y_pxl', -1e6, 1e6),
    detector_distance_mm: numIn('detector_distance_mm', 0, 1e6),
    incident_energy_keV: numIn('incident_energy_keV', 0.001, 500),
    file_prefix: typeof b.file_prefix === 'string' ? b.file_prefix : '',
    sample_name: typeof b.sample_name === 'string' ? b.sample_name : '',
    compression: compression as 'bslz4' | 'bszstd',
    ...(b.run_number !== undefined ? { run_number: int('run_number', 0) } : {}),
  };
}

// ------------------------------------------------------------------ HTTP

export function createBrokerServer(broker: SimBroker): Server {
  return createServer((req, res) => {
    route(broker, req, res).catch((err: unknown) => {
      if (err instanceof HttpError && err.reason) return reply(res, err.status, { msg: err.message, reason: err.reason });
      reply(res, err instanceof HttpError ? err.status : 500, (err as Error).message, 'text/plain');
    });
  });
}

function reply(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  if (res.headersSent) return;
  const text = body === undefined ? '' : type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBoundedBody(req, MAX_BODY, () => new HttpError(413, `request body larger than ${MAX_BODY} bytes`));
  try {
    return text.trim() ? JSON.parse(text) : undefined;
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

async function route(b: SimBroker, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://broker');
  const key = `${req.method} ${url.pathname}`;
  const ok = (body?: unknown): void => reply(res, 200, body);
  switch (key) {
    case 'GET /status':
      return ok(b.status());
    case 'GET /version':
      return reply(res, 200, 'daqlab-detector-sim', 'text/plain');
    case 'GET /config/select_detector':
      return ok(b.detectorList());
    case 'GET /config/detector':
      return ok(b.detectorSettings());
    case 'GET /config/image_format':
      return ok(b.imageFormat());
    case 'GET /config/zeromq_metadata':
      return ok({ enabled: true, period_ms: 1000, socket_address: b.metadataEndpoint });
    case 'GET /image_pusher/status':
      return ok({ pusher_type: 'ZeroMQ', addr: [b.emitter.endpoint], connected_writers: 1, images_written: b.imagesSent });
    case 'GET /detector/status':
      return ok(b.detectorStatus());
    case 'POST /initialize':
      await b.initialize();
      return ok();
    case 'POST /pedestal':
      await b.pedestal();
      return ok();
    case 'POST /start':
      b.start(await readJson(req));
      return ok();
    case 'POST /trigger':
      b.trigger();
      return ok();
    case 'POST /cancel':
      await b.cancel();
      return ok();
    case 'POST /wait_till_done': {
      const t = url.searchParams.get('timeout');
      const timeout = t === null ? 60 : Number(t);
      if (!Number.isInteger(timeout) || timeout < 0 || timeout > 3600) throw new HttpError(400, `timeout: must be an integer from 0 to 3600, got ${t}`);
      await b.waitTillDone(timeout);
      return ok();
    }
    default:
      throw new HttpError(404, `${key}: not served by this simulated broker`);
  }
}
