/**
 * The `jungfraujoch` detector plugin: a PSI JUNGFRAU (or any detector) behind
 * Jungfraujoch, controlled through its broker's REST API (broker.ts,
 * settings.ts), its Stream2-compatible image stream received by the DECTRIS
 * receivers (dectris/series.ts: PULL sockets in worker threads, bslz4 and
 * bitshuffle + zstd), its `calibration` messages stored as pedestal streams
 * and its analysis results (image messages and the metadata PUB socket) as
 * the scan's `peaks`, `peak_counter`, `intensity` and `radial` (results.ts).
 */
import { DaqError, parameterError, type DType } from '../../protocol/index.js';
import type { DetectorInfo, DetectorPlugin, DetectorRun, JsonSchema, PushedResult, PushedSource, ReceivedFrame, RunContext } from '../plugin.js';
import { log } from '../../log.js';
import { SeriesAssembler } from '../dectris/series.js';
import { PushedSeriesRun } from '../common/pushed-run.js';
import { BrokerClient, BrokerError, type BrokerStatus } from './broker.js';
import { datasetSettings, refusedField, type DatasetSettings } from './settings.js';
import { ResultCollector } from './results.js';
import { jungfraujochSchema } from './schema.js';
import { reachable, type JungfraujochAddress } from './address.js';

export { parseJungfraujochAddress, type JungfraujochAddress } from './address.js';

/** After the end message, how long results on the metadata socket (its own connection) may still come (ms). */
const METADATA_GRACE_MS = 500;
/** DetectorListElement (GET /config/select_detector) */
interface DetectorListElement {
  id: number;
  description: string;
  serial_number: string;
  nmodules: number;
  width: number;
  height: number;
  pixel_size_mm?: number;
  min_frame_time_ns: number;
}

/** Jungfraujoch marks bad pixels with the extreme value of the image type (error_value of the start message). */
const ERROR_VALUE: Partial<Record<DType, number>> = { int16: -(2 ** 15), int32: -(2 ** 31), uint16: 2 ** 16 - 1, uint32: 2 ** 32 - 1 };

const fault = (err: unknown): DaqError => (err instanceof DaqError ? err : new DaqError('FaultError', `detector: ${(err as Error).message}`));

export class JungfraujochPlugin implements DetectorPlugin {
  readonly name: string;
  readonly client: BrokerClient;
  private detector: DetectorListElement | null = null;
  private frameTimeUs: number | null = null;
  private format: { bit_depth_image?: number | null; signed_output?: boolean | null } = {};
  private version: string | null = null;
  private connectError: string | null = null;

  constructor(readonly address: JungfraujochAddress) {
    this.name = address.name;
    this.client = new BrokerClient(address.url);
  }

  /** Learn what the detector is. A broker that does not answer is still offered: prepare says why it fails. */
  async connect(): Promise<void> {
    try {
      const status = await this.client.status();
      this.version = status.broker_version ?? null;
      const list = await this.client.get<{ detectors: DetectorListElement[]; current_id: number }>('/config/select_detector');
      this.detector = list.detectors.find((d) => d.id === list.current_id) ?? list.detectors[0] ?? null;
      const settings = await this.client.get<{ frame_time_us?: number }>('/config/detector').catch(() => null);
      this.frameTimeUs = typeof settings?.frame_time_us === 'number' ? settings.frame_time_us : null;
      this.format = (await this.client.get<typeof this.format>('/config/image_format').catch(() => null)) ?? {};
      this.connectError = null;
    } catch (err) {
      this.connectError = (err as Error).message;
      log('warn', `jungfraujoch ${this.name}: ${this.connectError}`);
    }
  }

  private dtype(): DType {
    const bits = this.format.bit_depth_image ?? 32;
    const signed = this.format.signed_output ?? true;
    return `${signed ? 'int' : 'uint'}${bits === 8 ? 8 : bits === 16 ? 16 : 32}` as DType;
  }

  info(): DetectorInfo {
    const d = this.detector;
    const pixel = (d?.pixel_size_mm ?? 0.075) / 1000;
    const dtype = this.dtype();
    return {
      name: this.name,
      model: d ? `${d.description} (Jungfraujoch)` : `Jungfraujoch at ${this.address.url}`,
      shape: [d?.height ?? 0, d?.width ?? 0],
      image_shape: [d?.height ?? 0, d?.width ?? 0],
      pixel_size: [pixel, pixel],
      dtype,
      trigger_modes: ['internal', 'software', 'external'],
      max_frame_rate: d?.min_frame_time_ns ? 1e9 / d.min_frame_time_ns : 2000,
      dummy: ERROR_VALUE[dtype] ?? null,
      sensor: {
        serial_number: d?.serial_number ?? null,
        modules: d?.nmodules ?? null,
        frame_time_us: this.frameTimeUs,
        broker_version: this.version,
        url: this.address.url,
        stream: this.address.stream,
        metadata: this.address.metadata,
        connection_error: this.connectError,
      },
      scenes: [],
    };
  }

  configSchema(): JsonSchema {
    return jungfraujochSchema(this.name);
  }

  async status(): Promise<Record<string, unknown>> {
    try {
      const s = await this.client.status();
      const det = await this.client.get<Record<string, unknown>>('/detector/status').catch(() => null);
      return { state: s.state, progress: s.progress ?? null, message: s.message ?? null, detector_status: det };
    } catch (err) {
      return { state: null, error: (err as Error).message };
    }
  }

  async open(config: Record<string, unknown>, _files?: unknown, context?: RunContext): Promise<DetectorRun> {
    if (!context) throw new DaqError('ParameterError', 'jungfraujoch: the acquisition section is needed to configure the detector');
    const acq = context.acquisition;
    try {
      if (!this.detector) await this.connect();
      if (this.connectError) throw new BrokerError(this.connectError, null);
    } catch (err) {
      throw fault(err);
    }
    // checked before the broker is touched: a bad prepare changes nothing
    const settings = datasetSettings(config, acq, this.frameTimeUs, this.nextRun());
    const timeoutS = Number(config.initialize_timeout ?? 600);
    let stream: string;
    let metadata: string | null;
    try {
      await this.ready(timeoutS);
      if (config.pedestal === true) await this.run('/pedestal', timeoutS);
      stream = this.address.stream ?? (await this.pusherAddress());
      metadata = this.address.metadata ?? (await this.metadataAddress());
    } catch (err) {
      throw fault(err);
    }
    const info = this.info();
    const nbReceivers = Math.max(1, Number(context.processing?.nb_receivers ?? 1));
    const series = new SeriesAssembler(stream, 'cbor', nbReceivers, { dtype: info.dtype, shape: [info.shape[0], info.shape[1]] }, { metadata });
    try {
      await series.connected();
    } catch (err) {
      series.close();
      throw fault(err);
    }
    return new JungfraujochRun(this, config, info, series, settings, acq.trigger_mode, acq.nb_frames, { stream, metadata });
  }

  /** run numbers of this server's datasets: from the clock (unique across restarts), then counting */
  private runNumber = Math.floor(Date.now() / 1000) % 1_000_000_000;

  private nextRun(): number {
    return ++this.runNumber;
  }

  /** Inactive (after power-up) or Error: initialize (minutes with storage cells), with progress in the log and a timeout. */
  private async ready(timeoutS: number): Promise<void> {
    const s = await this.client.status();
    if (s.state === 'Idle') return;
    if (s.state !== 'Inactive' && s.state !== 'Error') throw new BrokerError(`the broker is ${s.state}${s.message ? ` (${s.message})` : ''}: wait for it or cancel`, null);
    log('info', `jungfraujoch ${this.name}: state ${s.state}, initializing (up to ${timeoutS} s)`);
    await this.run('/initialize', timeoutS);
  }

  /** An asynchronous broker operation (initialize, pedestal), waited for with progress and a timeout. */
  private async run(path: '/initialize' | '/pedestal', timeoutS: number): Promise<void> {
    await this.client.post(path);
    const done = await this.client.waitTillDone(timeoutS, (s, t) => log('info', `jungfraujoch ${this.name}: ${path.slice(1)}: ${s?.state ?? '?'}${s?.progress !== undefined ? ` ${Math.round(s.progress * 100)} %` : ''}, ${Math.round(t)} s`));
    if (done.state !== 'Idle') throw new BrokerError(`${path.slice(1)} left the broker ${done.state}${done.message ? `: ${done.message}` : ''}`, null);
  }

  private async pusherAddress(): Promise<string> {
    const p = await this.client.get<{ addr?: string[] }>('/image_pusher/status');
    const addr = (p.addr ?? []).filter((a) => a.startsWith('tcp://'));
    if (!addr.length) throw new BrokerError('the broker reports no ZeroMQ image socket (/image_pusher/status): give stream=tcp://HOST:PORT', null);
    return addr.map((a) => reachable(a, this.address.url)).join(' ');
  }

  private async metadataAddress(): Promise<string | null> {
    const m = await this.client.get<{ enabled?: boolean; socket_address?: string }>('/config/zeromq_metadata').catch(() => null);
    return m?.enabled && m.socket_address?.startsWith('tcp://') ? reachable(m.socket_address, this.address.url) : null;
  }
}

class JungfraujochRun extends PushedSeriesRun implements DetectorRun, PushedSource {
  readonly pushed: PushedSource = this;
  private readonly results: ResultCollector;
  private started: Promise<void> = Promise.resolve();
  private running = false;

  constructor(
    private readonly plugin: JungfraujochPlugin,
    readonly config: Record<string, unknown>,
    private readonly detector: DetectorInfo,
    series: SeriesAssembler,
    private readonly settings: DatasetSettings,
    private readonly triggerMode: RunContext['acquisition']['trigger_mode'],
    private readonly nbFrames: number,
    private readonly sockets: { stream: string; metadata: string | null },
  ) {
    super(detector, series, 'Jungfraujoch');
    // the metadata socket's last message may come after the image stream's end: the series waits a moment for it
    if (sockets.metadata) series.beforeEnd = () => new Promise((resolve) => setTimeout(resolve, METADATA_GRACE_MS));
    this.results = new ResultCollector(Number(config.min_spots_for_hit ?? 10), () => {
      const q = (series.describe().start as Record<string, unknown> | null)?.az_int_bin_to_q;
      return Array.isArray(q) && q.every((v) => typeof v === 'number') ? (q as number[]) : null;
    });
  }

  async start(): Promise<void> {
    const client = this.plugin.client;
    this.series.arm(this.nbFrames, this.settings.run_number);
    this.started = client.post('/start', this.settings).then(() => {
      this.running = true;
      this.series.t0Wall = Date.now();
    });
    try {
      await this.started;
    } catch (err) {
      if (this.closed) return;
      // a refusal of the settings (HTTP 400) names the field it is about
      if (err instanceof BrokerError && err.status === 400) throw parameterError([{ field: refusedField(err.message), message: err.message }], 'Jungfraujoch refuses');
      throw new Error(`detector: ${(err as Error).message}`);
    }
    this.watch();
    if (this.triggerMode === 'internal') await client.post('/trigger');
  }

  /** A running dataset faults when the broker stops answering or goes to Error. */
  private watch(): void {
    this.startWatchdog(async () => {
      let s: BrokerStatus;
      try {
        s = await this.plugin.client.status();
        if (s.state === 'Error') this.series.fail(`the broker went to state Error${s.message ? `: ${s.message}` : ''}`);
      } catch (err) {
        this.series.fail(`the broker does not answer: ${(err as Error).message}`);
      }
    });
  }

  async trigger(): Promise<void> {
    await this.started;
    await this.plugin.client.post('/trigger');
  }

  /** Jungfraujoch has one way to end a dataset early: cancel (it sends the end message with what it collected). */
  async stop(): Promise<void> {
    await this.started.catch(() => undefined);
    if (!this.running) return;
    this.running = false;
    await this.plugin.client.post('/cancel');
  }

  abort(): Promise<void> {
    return this.stop();
  }

  take(max: number): ReceivedFrame[] {
    const frames = this.series.take(max);
    for (const f of frames) {
      if (f.extras) this.results.add(f.index, f.extras);
      delete f.extras;
    }
    for (const m of this.series.takeMetadata()) {
      if (Number.isInteger(m.image_id) && (m.image_id as number) >= 0 && (m.image_id as number) < this.nbFrames) this.results.add(m.image_id as number, m);
    }
    return frames;
  }

  takeResults(): PushedResult[] {
    return [...this.results.take(), ...this.series.takeDispatch()];
  }

  describeSeries(): Record<string, unknown> {
    return { ...this.series.describe(), results: { duplicates: this.results.duplicates, profiles_of_another_length: this.results.mismatched } };
  }

  /** The dataset's geometry (beam centre, distance, energy) as the scan's PONI, so azint and smx need not be told again. */
  describe(): Record<string, unknown> {
    const s = this.settings;
    const [p1, p2] = this.detector.pixel_size;
    const wavelength = 12.398419843320026e-10 / s.incident_energy_keV;
    const dist = s.detector_distance_mm / 1000;
    return {
      ground_truth: false,
      wavelength,
      energy_kev: s.incident_energy_keV,
      geometry: { detector: this.detector.name, shape: this.detector.image_shape, pixel1: p1, pixel2: p2, dist, poni1: s.beam_y_pxl * p1, poni2: s.beam_x_pxl * p2, rot1: 0, rot2: 0, rot3: 0, wavelength, source: 'the Jungfraujoch dataset settings (beam_x_pxl, beam_y_pxl, detector_distance_mm, incident_energy_keV)' },
      jungfraujoch: { url: this.plugin.address.url, ...this.sockets, dataset_settings: s },
    };
  }
}

/** Plugins for `--jungfraujoch` detectors, each connected once (a broker that does not answer is offered anyway). */
export async function jungfraujochPlugins(addresses: JungfraujochAddress[]): Promise<JungfraujochPlugin[]> {
  const plugins = addresses.map((a) => new JungfraujochPlugin(a));
  await Promise.all(plugins.map((p) => p.connect()));
  return plugins;
}
