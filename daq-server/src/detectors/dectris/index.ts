/**
 * The `dectris` detector plugin: a DECTRIS EIGER / EIGER2 / PILATUS4 driven
 * through SIMPLON (simplon.ts, configure.ts), its frames received by
 * ZeroMQ PULL sockets in worker threads (receiver-worker.ts) and put back in
 * order (series.ts). Stream2 (stream2.ts, cbor.ts) and stream v1 (stream1.ts).
 */
import { DaqError, type DType } from '../../protocol/index.js';
import type { DetectorInfo, DetectorPlugin, DetectorRun, JsonSchema, PushedResult, PushedSource, ReceivedFrame, RunContext } from '../plugin.js';
import { log } from '../../log.js';
import { SimplonClient, SimplonError } from './simplon.js';
import { configure, fault, type Setting } from './configure.js';
import { dectrisSchema } from './schema.js';
import { SeriesAssembler } from './series.js';
import { parsePixelMask } from './pixel-mask.js';
import { PushedSeriesRun } from '../common/pushed-run.js';
import type { DectrisAddress } from './address.js';

export { parseDectrisAddress, type DectrisAddress } from './address.js';

/** SIMPLON parameters describing the detector (detector/config/...). */
const INFO_PARAMS = ['description', 'detector_number', 'sensor_material', 'sensor_thickness', 'x_pixel_size', 'y_pixel_size', 'x_pixels_in_detector', 'y_pixels_in_detector', 'bit_depth_image', 'threshold_energy', 'photon_energy', 'software_version', 'frame_time'];
const STATUS_PARAMS: [string, string, string][] = [
  ['state', 'detector', 'state'],
  ['temperature', 'detector', 'temperature'],
  ['humidity', 'detector', 'humidity'],
  ['high_voltage', 'detector', 'high_voltage/state'],
  ['stream_dropped', 'stream', 'dropped'],
  ['stream_state', 'stream', 'state'],
];
const BIT_DEPTH: Record<number, DType> = { 8: 'uint8', 16: 'uint16', 32: 'uint32' };
const NODATA: Partial<Record<DType, number>> = { uint8: 2 ** 8 - 1, uint16: 2 ** 16 - 1, uint32: 2 ** 32 - 1 };
const TRIGGER: Record<RunContext['acquisition']['trigger_mode'], string> = { internal: 'ints', software: 'ints', external: 'exts' };

export class DectrisPlugin implements DetectorPlugin {
  readonly name: string;
  readonly client: SimplonClient;
  private params: Record<string, { value: unknown; min?: number }> = {};
  private thresholds: Record<string, unknown> = {};
  private connectError: string | null = null;

  constructor(readonly address: DectrisAddress) {
    this.name = address.name;
    this.client = new SimplonClient(address.url);
  }

  /** Learn what the detector is (version, model, size). A detector that does not answer is still offered: prepare says why it fails. */
  async connect(): Promise<void> {
    try {
      await this.client.detectVersion();
      const got = await Promise.all(INFO_PARAMS.map((p) => this.client.get('detector', 'config', p).catch(() => null)));
      this.params = Object.fromEntries(INFO_PARAMS.map((p, k) => [p, got[k]]).filter(([, v]) => v !== null)) as typeof this.params;
      if (this.client.version === '1.8.0') {
        for (const t of ['1', '2']) {
          const e = await this.client.get('detector', 'config', `threshold/${t}/energy`).catch(() => null);
          const m = await this.client.get('detector', 'config', `threshold/${t}/mode`).catch(() => null);
          if (e) this.thresholds[t] = { energy: e.value, mode: m?.value ?? null };
        }
      }
      this.connectError = null;
    } catch (err) {
      this.connectError = (err as Error).message;
      log('warn', `dectris ${this.name}: ${this.connectError}`);
    }
  }

  private value(p: string): unknown {
    return this.params[p]?.value;
  }

  info(): DetectorInfo {
    const x = Number(this.value('x_pixels_in_detector') ?? 0);
    const y = Number(this.value('y_pixels_in_detector') ?? 0);
    const minFrameTime = this.params.frame_time?.min;
    const dtype = BIT_DEPTH[Number(this.value('bit_depth_image'))] ?? 'uint32';
    return {
      name: this.name,
      model: String(this.value('description') ?? `DECTRIS detector at ${this.address.url}`),
      shape: [y, x],
      image_shape: [y, x],
      pixel_size: [Number(this.value('y_pixel_size') ?? 75e-6), Number(this.value('x_pixel_size') ?? 75e-6)],
      dtype,
      trigger_modes: ['internal', 'software', 'external'],
      max_frame_rate: typeof minFrameTime === 'number' && minFrameTime > 0 ? 1 / minFrameTime : 1e4,
      // DECTRIS's NODATA: module gaps and masked pixels hold the largest value of the image's type
      // (the Stream2 start message's saturation_value is the largest *valid* value); pipelines skip them
      dummy: NODATA[dtype] ?? null,
      sensor: {
        material: this.value('sensor_material') ?? null,
        thickness: this.value('sensor_thickness') ?? null,
        serial_number: this.value('detector_number') ?? null,
        bit_depth: this.value('bit_depth_image') ?? null,
        threshold_energy: this.value('threshold_energy') ?? null,
        thresholds: this.thresholds,
        software_version: this.value('software_version') ?? null,
        simplon_version: this.client.version,
        url: this.address.url,
        stream: this.address.stream,
        stream_format: this.address.format,
        connection_error: this.connectError,
      },
      scenes: [],
    };
  }

  configSchema(): JsonSchema {
    return dectrisSchema(this.name);
  }

  remoteStream(): { address: string; format: 'cbor' | 'legacy' } {
    return { address: this.address.stream, format: this.address.format };
  }

  async status(): Promise<Record<string, unknown>> {
    if (!this.client.version) await this.connect();
    const out: Record<string, unknown> = {};
    await Promise.all(
      STATUS_PARAMS.map(async ([key, sub, param]) => {
        try {
          out[key] = (await this.client.get(sub, 'status', param)).value;
        } catch (err) {
          out[key] = null;
          if ((err as SimplonError).status === null) out.error = (err as Error).message;
        }
      }),
    );
    return out;
  }

  async open(config: Record<string, unknown>, _files?: unknown, context?: RunContext): Promise<DetectorRun> {
    if (!context) throw new DaqError('ParameterError', 'dectris: the acquisition section is needed to configure the detector');
    const acq = context.acquisition;
    if (acq.nb_frames === 0) {
      throw new DaqError('ParameterError', 'acquisition.nb_frames: a DECTRIS series has a fixed number of images', [
        { field: 'acquisition.nb_frames', message: 'a DECTRIS series has a fixed number of images: give nb_frames ≥ 1' },
      ]);
    }
    try {
      if (!this.client.version) await this.connect();
      if (this.connectError) throw new SimplonError(this.connectError, null);
      await this.initializeIfNeeded(Number(config.initialize_timeout ?? 600));
    } catch (err) {
      throw fault(err);
    }
    if (this.client.version === '1.6.0' && this.address.format === 'cbor') {
      const message = 'an EIGER1 (SIMPLON 1.6.0) streams only in stream v1: add format=legacy to its --dectris address';
      throw new DaqError('ParameterError', `detector: ${message}`, [{ field: 'detector', message }]);
    }
    const perTrigger = acq.trigger_mode === 'internal' ? acq.nb_frames : acq.nb_frames_per_trigger;
    if (acq.nb_frames % perTrigger) {
      const message = `nb_frames ${acq.nb_frames} is not a multiple of nb_frames_per_trigger ${perTrigger}: a DECTRIS series is ntrigger × nimages`;
      throw new DaqError('ParameterError', `acquisition.nb_frames: ${message}`, [{ field: 'acquisition.nb_frames', message }]);
    }
    const settings = this.settings(config, context, perTrigger);
    const applied = await configure(this.client, settings);
    // the detector may have changed the frame size (roi_mode) or depth: read them back
    await this.connect();
    const info = this.info();
    const geometry = await this.geometry(info);
    // receivers on other hosts (processing.receiver_hosts) pull the stream themselves: no socket here
    const nbReceivers = context.processing?.receiver_hosts ? 0 : Math.max(1, Number(context.processing?.nb_receivers ?? 1));
    // pipeline `none`: nothing needs the pixels as they arrive (saving writes the detector's chunks as they are,
    // a live view decodes the frame it shows): the receivers skip the decode
    const decode = String(context.processing?.pipeline ?? 'none') !== 'none';
    const series = new SeriesAssembler(this.address.stream, this.address.format, nbReceivers, { dtype: info.dtype, shape: [info.shape[0], info.shape[1]] }, { decode });
    try {
      await series.connected();
    } catch (err) {
      series.close();
      throw fault(err);
    }
    const run = new DectrisRun(this, { ...config, applied }, info, series, acq.trigger_mode, acq.nb_frames, acq.expo_time + acq.latency_time, geometry);
    run.pixelMask = await this.pixelMask(info);
    return run;
  }

  private settings(config: Record<string, unknown>, ctx: RunContext, perTrigger: number): Setting[] {
    const acq = ctx.acquisition;
    const d = (param: string, value: unknown, field: string): Setting => ({ subsystem: 'detector', param, value, field });
    const out: Setting[] = [];
    if (config.roi_mode !== undefined) out.push(d('roi_mode', config.roi_mode, 'detector.roi_mode'));
    out.push(
      d('count_time', acq.expo_time, 'acquisition.expo_time'),
      d('frame_time', acq.expo_time + acq.latency_time, 'acquisition.latency_time'),
      d('nimages', perTrigger, 'acquisition.nb_frames_per_trigger'),
      d('ntrigger', acq.nb_frames / perTrigger, 'acquisition.nb_frames'),
      d('trigger_mode', TRIGGER[acq.trigger_mode], 'acquisition.trigger_mode'),
    );
    for (const key of ['photon_energy', 'incident_energy', 'threshold_energy', 'beam_center_x', 'beam_center_y', 'detector_distance'] as const) {
      if (config[key] !== undefined) out.push(d(key, config[key], `detector.${key}`));
    }
    const thresholds = (config.thresholds ?? {}) as Record<string, { energy?: number; mode?: string }>;
    for (const [t, v] of Object.entries(thresholds)) {
      if (v.energy !== undefined) out.push(d(`threshold/${t}/energy`, v.energy, `detector.thresholds.${t}.energy`));
      if (v.mode !== undefined) out.push(d(`threshold/${t}/mode`, v.mode, `detector.thresholds.${t}.mode`));
    }
    out.push(d('compression', config.compression === 'none' ? 'none' : (config.compression ?? 'bslz4'), 'detector.compression'));
    const stream = (param: string, value: unknown, field: string): Setting => ({ subsystem: 'stream', param, value, field });
    out.push(stream('mode', 'enabled', 'detector'), stream('header_detail', config.header_detail ?? 'all', 'detector.header_detail'));
    if (this.client.version === '1.8.0') out.push(stream('format', this.address.format, 'detector'));
    return out;
  }

  /**
   * The detector's own geometry as pyFAI's PONI (what azint and smx read from the scan's detector
   * description): beam centre (pixels) × pixel size, detector_distance (m), wavelength (Å → m).
   */
  private async geometry(info: DetectorInfo): Promise<Record<string, unknown>> {
    const read = async (p: string): Promise<number | null> => {
      const v = (await this.client.get('detector', 'config', p).catch(() => null))?.value;
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    };
    const [bx, by, dist, wavelengthA, energy] = await Promise.all(['beam_center_x', 'beam_center_y', 'detector_distance', 'wavelength', 'photon_energy'].map(read));
    const wavelength = wavelengthA !== null && wavelengthA > 0 ? wavelengthA * 1e-10 : null;
    const out: Record<string, unknown> = { wavelength, energy_kev: energy !== null ? energy / 1000 : null };
    if (bx !== null && by !== null && dist !== null && dist > 0) {
      const [p1, p2] = info.pixel_size;
      out.geometry = { detector: this.name, shape: info.image_shape, pixel1: p1, pixel2: p2, dist, poni1: by * p1, poni2: bx * p2, rot1: 0, rot2: 0, rot3: 0, wavelength, source: 'the detector (SIMPLON beam_center, detector_distance, wavelength)' };
    }
    return out;
  }

  /**
   * The detector's pixel mask (SIMPLON config/pixel_mask), for the pipelines' `mask` step; the Stream2 start
   * message sends the same mask again, stored as the scan's `pixel_mask` stream. A mask that cannot be used is
   * said in the scan info, never fatal: the run goes on unmasked.
   */
  private async pixelMask(info: DetectorInfo): Promise<{ mask: Uint32Array | null; source: string }> {
    const [rows, cols] = info.shape;
    const got = await this.client.get('detector', 'config', 'pixel_mask').catch((err: Error) => err);
    if (got instanceof Error) return { mask: null, source: `not read: ${got.message}` };
    const parsed = parsePixelMask(got.value, rows, cols);
    if ('error' in parsed) return { mask: null, source: `not used: ${parsed.error}` };
    const masked = parsed.mask.reduce((n, v) => n + (v ? 1 : 0), 0);
    return { mask: parsed.mask, source: `SIMPLON detector/config/pixel_mask: ${masked} pixels masked` };
  }

  /** After power-up a detector is in state `na`: initialize it (minutes), with progress in the log and a timeout. */
  private async initializeIfNeeded(timeoutS: number): Promise<void> {
    const state = await this.client.state();
    if (state === 'error') throw new SimplonError(`the detector is in state error${await this.errorText()}`, null);
    if (state !== 'na') return;
    log('info', `dectris ${this.name}: state na, initializing (up to ${timeoutS} s)`);
    const t0 = Date.now();
    const progress = setInterval(() => log('info', `dectris ${this.name}: initializing, ${Math.round((Date.now() - t0) / 1000)} s`), 10_000);
    try {
      await this.client.command('initialize', timeoutS * 1000);
    } finally {
      clearInterval(progress);
    }
    const after = await this.client.state();
    if (after === 'na' || after === 'error') throw new SimplonError(`initialize left the detector in state ${after}${await this.errorText()}`, null);
  }

  async errorText(): Promise<string> {
    try {
      const e = (await this.client.get('detector', 'status', 'error')).value;
      return Array.isArray(e) && e.length ? `: ${e.join('; ')}` : '';
    } catch {
      return '';
    }
  }
}

class DectrisRun extends PushedSeriesRun implements DetectorRun, PushedSource {
  readonly pushed: PushedSource = this;
  private armed = false;

  constructor(
    private readonly plugin: DectrisPlugin,
    readonly config: Record<string, unknown>,
    private readonly detector: DetectorInfo,
    series: SeriesAssembler,
    private readonly triggerMode: RunContext['acquisition']['trigger_mode'],
    private readonly nbFrames: number,
    /** frame period of the run, s */
    private readonly period: number,
    /** the detector's geometry and wavelength for the scan (see DectrisPlugin.geometry) */
    private readonly geometry: Record<string, unknown> = {},
  ) {
    super(detector, series, 'a DECTRIS detector');
    // a series shorter than the watchdog's period still gets the detector's count
    series.beforeEnd = () => this.readDropped();
  }

  async start(): Promise<void> {
    const client = this.plugin.client;
    this.series.arm(this.nbFrames);
    // triggers, stops and aborts wait for the arm: a trigger before it would be ignored by the detector
    this.arming = client.command('arm').then((answer) => {
      const id = (answer as Record<string, unknown> | null)?.['sequence id'];
      this.sequenceId = Number.isInteger(id) ? (id as number) : null;
      this.armed = true;
      this.series.t0Wall = Date.now();
    });
    try {
      await this.arming;
      this.watch();
      // a DECTRIS answers `trigger` (ints) when the series is over: wait as long as it lasts, and a minute
      if (this.triggerMode === 'internal') await client.command('trigger', 1000 * (this.nbFrames * this.period + 60));
    } catch (err) {
      if (this.closed) return;
      throw new Error(`detector: ${(err as Error).message}`);
    }
  }

  private arming: Promise<void> = Promise.resolve();
  private sequenceId: number | null = null;

  seriesId(): number | null {
    return this.sequenceId;
  }

  /** A running series faults when the detector stops answering or reports an error. */
  private watch(): void {
    this.startWatchdog(async () => {
      try {
        const state = await this.plugin.client.state();
        if (state === 'error') this.series.fail(`the detector went to state error${await this.plugin.errorText()}`);
        await this.readDropped();
      } catch (err) {
        this.series.fail(`the detector does not answer: ${(err as Error).message}`);
      }
    });
  }

  /** the detector's count of frames its stream could not send, beside ours */
  private async readDropped(): Promise<void> {
    const dropped = await this.plugin.client.get('stream', 'status', 'dropped').catch(() => null);
    if (typeof dropped?.value === 'number') this.series.detectorDropped = dropped.value;
  }

  async trigger(): Promise<void> {
    // one trigger at a time: a DECTRIS answers `trigger` when the trigger's images are done
    const previous = this.triggering;
    const mine = (async () => {
      await previous.catch(() => undefined);
      await this.arming;
      await this.untilNotAcquiring();
      await this.plugin.client.command('trigger', 1000 * (this.nbFrames * this.period + 60));
    })();
    this.triggering = mine;
    await mine;
  }

  private triggering: Promise<void> = Promise.resolve();

  /**
   * A detector that answers `trigger` at once (tickit's EIGER) stays in state `acquire` a frame period after the
   * trigger's last image is sent, and ignores a trigger meanwhile: the next trigger waits for it to leave `acquire`.
   */
  private async untilNotAcquiring(): Promise<void> {
    const deadline = Date.now() + 1000 * (this.nbFrames * this.period + 2);
    while (!this.closed && Date.now() < deadline) {
      const state = await this.plugin.client.state().catch(() => null);
      if (state !== 'acquire') return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    await this.arming.catch(() => undefined);
    if (!this.armed) return;
    this.armed = false;
    await this.plugin.client.command('cancel').catch(() => undefined);
    await this.plugin.client.command('disarm');
  }

  async abort(): Promise<void> {
    await this.arming.catch(() => undefined);
    if (!this.armed) return;
    this.armed = false;
    await this.plugin.client.command('abort');
  }

  take(max: number): ReceivedFrame[] {
    return this.series.take(max);
  }

  takeResults(): PushedResult[] {
    return this.series.takeDispatch();
  }

  describeSeries(): Record<string, unknown> {
    return this.series.describe();
  }

  /** set by open(): the detector's pixel mask for the pipelines, and where it came from */
  pixelMask: { mask: Uint32Array | null; source: string } = { mask: null, source: 'not read' };

  detectorMaps(): Record<string, { dtype: DType; shape: number[]; data: Uint32Array }> {
    return this.pixelMask.mask ? { mask: { dtype: 'uint32', shape: [...this.shape], data: this.pixelMask.mask } } : {};
  }

  describe(): Record<string, unknown> {
    return { ground_truth: false, ...this.geometry, pixel_mask: this.pixelMask.source, dectris: { url: this.plugin.address.url, stream: this.plugin.address.stream, format: this.plugin.address.format, applied: this.config.applied } };
  }
}

/** Plugins for `--dectris` detectors, each connected once (a detector that does not answer is offered anyway). */
export async function dectrisPlugins(addresses: DectrisAddress[]): Promise<DectrisPlugin[]> {
  const plugins = addresses.map((a) => new DectrisPlugin(a));
  await Promise.all(plugins.map((p) => p.connect()));
  return plugins;
}
