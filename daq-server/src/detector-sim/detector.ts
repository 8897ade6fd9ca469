/**
 * The simulated detector behind the SIMPLON API: configuration changes
 * (with the parameters DECTRIS detectors change along), commands and the
 * state machine; parameters in sections.ts, the series clock in series.ts.
 *
 * States: na → (initialize) idle → (arm) ready → acquire → ... → idle.
 * ints: each trigger command acquires nimages images (the command answers
 * when they are acquired); inte: each trigger acquires one image exposed
 * for the trigger's value in seconds. exts/exte: the simulator is its own
 * external trigger source: the first trigger arrives trigger_start_delay
 * after arm, each next one when the previous trigger's images are done.
 * After the last of ntrigger triggers the series ends (end message, idle).
 * disarm and cancel end the series after the image being acquired; abort
 * ends it at once and drops the images not yet sent.
 *
 * Image k of a series is frame k of the model's simulator. Images are
 * emitted no faster than frame_time; frame encoding runs on the event loop
 * between timer ticks, so HTTP requests are answered between images.
 */
import { randomUUID } from 'node:crypto';
import { countingGapMask } from '../detectors/sim/specs.js';
import type { Compression, FrameSource } from './frames.js';
import type { DetectorModel } from './models.js';
import { SimplonError } from './params.js';
import type { StreamEmitter } from './emitter.js';
import { Series, type SeriesInfo, type SeriesSink } from './series.js';
import { buildSections, HC_EV_A, MAX_COUNT, type Sections, type State, type Subsystem } from './sections.js';
import * as stream1 from './stream1.js';
import * as stream2 from './stream2.js';

export { API_VERSION, SUBSYSTEMS, type Subsystem } from './sections.js';

export class SimDetector {
  readonly sections: Record<Subsystem, Sections>;
  private sequenceId = 0;
  private series: Series | null = null;

  constructor(
    readonly model: DetectorModel,
    readonly frames: FrameSource,
    readonly emitter: StreamEmitter,
  ) {
    this.sections = buildSections(model, frames);
  }

  get state(): State {
    return this.sections.detector.status.get<State>('state');
  }

  /** Status values that live elsewhere (the stream buffer, the clock), brought up to date before a GET. */
  syncStatus(): void {
    const st = this.sections.stream.status;
    st.set('dropped', this.emitter.dropped);
    st.set('buffer_fill_level', this.emitter.fillLevel());
    this.sections.detector.status.set('time', new Date().toISOString());
  }

  private setState(s: State): void {
    this.sections.detector.status.set('state', s);
  }

  // ------------------------------------------------------------------ configuration

  /** PUT config: check, apply, and return every parameter that changed (dependent ones included). */
  putConfig(sub: Subsystem, name: string, value: unknown): string[] {
    const p = this.sections[sub].config;
    const v = p.check(name, value);
    if (sub === 'detector' && (this.state === 'ready' || this.state === 'acquire')) {
      throw new SimplonError(400, `detector/${name}: the detector is ${this.state}; disarm before changing its configuration`);
    }
    if (sub === 'filewriter' && name === 'mode' && v === 'enabled') {
      throw new SimplonError(400, 'filewriter/mode: this simulator writes no files; read the stream');
    }
    const changed: string[] = [];
    const set = (n: string, x: unknown): void => {
      if (p.set(n, x) || n === name) changed.push(n);
    };
    set(name, v);
    if (sub === 'detector') this.dependents(name, v as number, set);
    return changed;
  }

  /** What DECTRIS detectors change along with a parameter. */
  private dependents(name: string, v: number, set: (n: string, x: unknown) => void): void {
    const c = this.sections.detector.config;
    const dead = this.model.readoutTime;
    switch (name) {
      case 'count_time':
        if (c.get<number>('frame_time') < v + dead) set('frame_time', v + dead);
        break;
      case 'frame_time':
        if (c.get<number>('count_time') > v - dead) set('count_time', v - dead);
        break;
      case 'incident_energy':
      case 'photon_energy':
        set(name === 'incident_energy' ? 'photon_energy' : 'incident_energy', v);
        set('wavelength', HC_EV_A / v);
        set('threshold/1/energy', v / 2);
        set('threshold_energy', v / 2);
        break;
      case 'wavelength':
        set('incident_energy', HC_EV_A / v);
        set('photon_energy', HC_EV_A / v);
        set('threshold/1/energy', HC_EV_A / v / 2);
        set('threshold_energy', HC_EV_A / v / 2);
        break;
      case 'threshold_energy':
        set('threshold/1/energy', v);
        break;
      case 'threshold/1/energy':
        set('threshold_energy', v);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ commands

  async command(sub: Subsystem, name: string, value: unknown): Promise<unknown> {
    if (!this.sections[sub].commands.includes(name)) throw new SimplonError(404, `${sub}/command/${name}: no such command`);
    if (sub === 'stream' && name === 'initialize') {
      this.emitter.dropped = 0;
      return null;
    }
    if (sub === 'system' && name === 'restart') {
      await this.abortSeries();
      this.setState('na');
      return null;
    }
    if (sub !== 'detector') return null;
    switch (name) {
      case 'initialize':
        await this.abortSeries();
        this.setState('initialize');
        this.sections.detector.status.set('error', []);
        this.setState('idle');
        return null;
      case 'arm':
        return this.arm();
      case 'trigger':
        return this.trigger(value);
      case 'disarm':
      case 'cancel':
        await this.series?.stop(false);
        return { 'sequence id': this.sequenceId };
      case 'abort':
        await this.abortSeries();
        if (this.state !== 'na') this.setState('idle');
        return { 'sequence id': this.sequenceId };
      case 'status_update':
        this.sections.detector.status.set('time', new Date().toISOString());
        return null;
      default:
        return null;
    }
  }

  private async abortSeries(): Promise<void> {
    if (this.series) {
      this.emitter.discardImages();
      await this.series.stop(true);
    }
  }

  private arm(): { 'sequence id': number } {
    if (this.state !== 'idle') throw new SimplonError(400, `detector/command/arm: the detector is ${this.state}, not idle${this.state === 'na' ? ' (initialize it first)' : ''}`);
    const c = this.sections.detector.config;
    const mode = c.get<string>('trigger_mode');
    const ntrigger = c.get<number>('ntrigger');
    const perTrigger = mode === 'inte' || mode === 'exte' ? 1 : c.get<number>('nimages');
    const total = perTrigger * ntrigger;
    if (!Number.isSafeInteger(total) || total > MAX_COUNT) {
      throw new SimplonError(400, `detector/command/arm: nimages × ntrigger = ${total} images exceeds ${MAX_COUNT}`);
    }
    this.sequenceId++;
    const s = this.sections.stream.config;
    const enabled = s.get<string>('mode') === 'enabled';
    const format = s.get<'cbor' | 'legacy'>('format');
    const rows = this.frames.shape[0];
    const cols = this.frames.shape[1];
    const headerDetail = s.get<'all' | 'basic' | 'none'>('header_detail');
    // the per-pixel maps travel with header_detail all only: not allocated otherwise (35 MB for a 4M)
    const all = headerDetail === 'all' && enabled;
    const mask = new Uint32Array(all ? rows * cols : 0);
    const gaps = all ? countingGapMask(this.frames.run.spec) : null;
    if (gaps) for (let k = 0; k < mask.length; k++) mask[k] = gaps[k];
    const info: SeriesInfo = {
      seriesId: this.sequenceId,
      uniqueId: randomUUID(),
      armDate: new Date().toISOString(),
      numberOfImages: total,
      shape: [rows, cols],
      dtype: this.frames.dtype,
      config: c.values(),
      headerDetail,
      headerAppendix: s.get('header_appendix'),
      imageAppendix: s.get('image_appendix'),
      pixelMask: mask,
      flatfield: new Float32Array(all ? rows * cols : 0).fill(1),
      saturationValue: c.get<number>('countrate_correction_count_cutoff'),
      description: this.model.description,
      serialNumber: this.model.serialNumber,
    };
    c.set('data_collection_date', info.armDate);
    const emit = (parts: Uint8Array[], image: boolean): void => {
      if (enabled) this.emitter.push({ parts, image });
    };
    const sink: SeriesSink = {
      start: () => emit(format === 'cbor' ? [stream2.startMessage(info)] : stream1.headerParts(info), false),
      image: (img) => emit(format === 'cbor' ? [stream2.imageMessage(info, img)] : stream1.imageParts(info, img), true),
      end: () => emit(format === 'cbor' ? [stream2.endMessage(info)] : stream1.endParts(info), false),
    };
    const series = new Series(info, this.frames, sink, {
      mode,
      perTrigger,
      ntrigger,
      countTime: c.get('count_time'),
      frameTime: c.get('frame_time'),
      startDelay: c.get('trigger_start_delay'),
      compression: c.get<Compression>('compression'),
      onState: (st) => this.setState(st),
      onError: (msg) => this.sections.detector.status.set('error', [msg]),
    });
    this.series = series;
    series.done.then(() => {
      if (this.series === series) this.series = null;
    });
    sink.start();
    this.setState('ready');
    if (mode === 'exts' || mode === 'exte') series.runExternal();
    return { 'sequence id': this.sequenceId };
  }

  private async trigger(value: unknown): Promise<null> {
    const mode = this.sections.detector.config.get<string>('trigger_mode');
    if (!this.series || this.state !== 'ready') throw new SimplonError(400, `detector/command/trigger: the detector is ${this.state}, not ready (arm it first)`);
    if (mode !== 'ints' && mode !== 'inte') throw new SimplonError(400, `detector/command/trigger: trigger_mode is ${mode}; the trigger command is for ints and inte`);
    let countTime: number | undefined;
    if (mode === 'inte') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 3600) {
        throw new SimplonError(400, `detector/command/trigger: inte needs the exposure time in seconds as value (0 < value <= 3600, got ${JSON.stringify(value)})`);
      }
      countTime = value;
    }
    await this.series.runTrigger(countTime);
    return null;
  }

  async close(): Promise<void> {
    await this.series?.stop(true);
  }
}
