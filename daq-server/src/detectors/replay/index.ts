/**
 * The replay detector: a saved scan played back as a detector, so a batch job
 * runs a pipeline through the same acquisition → receivers → pipeline →
 * saving path as online processing, and gets the same results.
 *
 * It describes itself as the source detector did at acquisition (model,
 * pixel size, dummy, geometry, energy, module layout), with the shape and
 * dtype of the saved frames. Batch jobs run it unpaced (`paced: false`): the
 * acquisition reads frames as fast as processing and saving take them (see
 * Acquisition). In a server (`--replay MASTER`) it is paced by default, like a
 * detector at the acquisition's frame rate, and loops over its frames when
 * asked for more — old data through live views and new pipelines.
 */
import { basename } from 'node:path';
import { DaqError, type DType, type TypedArray } from '../../protocol/index.js';
import type { DetectorInfo, DetectorPlugin, DetectorRun, JsonSchema, ReceivedFrame, Receiver } from '../plugin.js';
import { simulatorPlugins } from '../sim/index.js';
import { SavedMaster } from './master-reader.js';
import { FramePrefetcher } from './prefetch.js';

export { SavedMaster, SourceError } from './master-reader.js';

/** Fastest "frame rate" a replay advertises: frames are read as fast as they are processed. */
const REPLAY_RATE = 1e6;

export interface ReplaySelection {
  /** first saved frame (inclusive) */
  start: number;
  /** last saved frame (exclusive) */
  stop: number;
  /** reader threads decompressing frames ahead (0: read on the main thread, as frames are taken) */
  readers?: number;
}

export class ReplayPlugin implements DetectorPlugin {
  constructor(
    readonly master: SavedMaster,
    readonly selection: ReplaySelection,
    readonly name = 'replay',
  ) {
    const { start, stop } = selection;
    if (!(Number.isInteger(start) && Number.isInteger(stop) && 0 <= start && start < stop && stop <= master.nbFrames)) {
      throw new DaqError('ParameterError', `frames: [${start}, ${stop}) is not a non-empty range within the ${master.nbFrames} saved frames`, [
        { field: 'frames', message: `must be a non-empty range within [0, ${master.nbFrames}]` },
      ]);
    }
  }

  get nbFrames(): number {
    return this.selection.stop - this.selection.start;
  }

  info(): DetectorInfo {
    const src = this.master.detector.info as Partial<DetectorInfo>;
    const shape = [...this.master.frameShape];
    return {
      name: this.name,
      model: `${src.model ?? src.name ?? 'detector'} (replayed from ${basename(this.master.path)})`,
      shape,
      image_shape: (src.image_shape as [number, number] | undefined) ?? [shape[shape.length - 2], shape[shape.length - 1]],
      pixel_size: src.pixel_size as [number, number], // the reader requires one
      dtype: this.master.dtype,
      trigger_modes: ['internal'],
      max_frame_rate: REPLAY_RATE,
      dummy: src.dummy ?? null,
      sensor: { ...(src.sensor ?? {}), source_detector: src.name ?? null },
      scenes: [],
    };
  }

  configSchema(): JsonSchema {
    return {
      type: 'object',
      title: `detector: ${this.name}`,
      description: `Replays the frames of ${this.master.path}.`,
      additionalProperties: false,
      properties: {
        paced: {
          type: 'boolean',
          default: true,
          description: 'true: one frame per frame period of the acquisition, like a detector; false: as fast as processing and saving take them.',
        },
      },
    };
  }

  async open(config: Record<string, unknown>): Promise<DetectorRun> {
    return new ReplayRun(this, config);
  }

  /** Raw Jungfrau frames of a simulator: its calibration maps (pedestals, gains) are a function of its configuration. */
  async calibration(): Promise<Record<string, { dtype: DType; shape: number[]; data: TypedArray }>> {
    const source = String((this.master.detector.info as { name?: unknown }).name ?? '');
    const sim = simulatorPlugins().find((p) => p.name === source);
    if (!sim?.calibration) return {};
    return sim.calibration(this.master.detector.config);
  }
}

class ReplayRun implements DetectorRun {
  readonly shape: number[];
  readonly dtype: DType;
  readonly minPeriod = 1 / REPLAY_RATE;
  readonly unpaced: boolean;
  private closed = false;
  private prefetcher: FramePrefetcher | null = null;

  constructor(
    private readonly plugin: ReplayPlugin,
    readonly config: Record<string, unknown>,
  ) {
    this.shape = [...plugin.master.frameShape];
    this.dtype = plugin.master.dtype;
    this.unpaced = config.paced === false;
  }

  receiver(rank: number, count: number): Receiver {
    if (rank !== 0 || count !== 1) throw new DaqError('ParameterError', `replay: one receiver reads the saved frames; got rank ${rank} of ${count}`);
    const { master, selection } = this.plugin;
    return {
      rank,
      receive: (index: number): ReceivedFrame => {
        if (this.closed) throw new DaqError('StateError', 'replay: the run is closed');
        // past the selection, the replay loops (an acquisition may ask for more frames, or run until stopped)
        const n = selection.stop - selection.start;
        const k = selection.start + (index % n);
        return { index, data: index < n ? this.read(k) : master.frame(k), valid: master.valid[k] };
      },
      close: () => undefined,
    };
  }

  /** Saved frame k: from the reader threads when there are any. */
  private read(k: number): TypedArray {
    const { master, selection } = this.plugin;
    const readers = selection.readers ?? 0;
    if (readers < 1) return master.frame(k);
    this.prefetcher ??= new FramePrefetcher(master.path, selection.start, selection.stop, readers, Math.max(4, 4 * readers));
    return this.prefetcher.take(k);
  }

  /**
   * The source's description, except that the scan's own metadata comes from
   * the saved master: the tomography table (`tomo_scan`, what the tomo
   * pipeline reads) from its NXtomo, for the replayed frames — never the
   * source detector's (indexed by acquisition frame, not saved frame).
   */
  describe(): Record<string, unknown> {
    const { master, selection } = this.plugin;
    const { tomo_scan: _acquired, ...description } = master.detector.description;
    const t = master.tomo;
    return {
      ...description,
      ...(t
        ? {
            tomo_scan: {
              image_key: t.image_key.slice(selection.start, selection.stop),
              rotation_angle: t.rotation_angle.slice(selection.start, selection.stop),
              source: `NXtomo ${t.path} of ${basename(master.path)}`,
            },
          }
        : {}),
      ground_truth: false,
      replay: {
        source: master.path,
        source_key: master.key,
        frames: [selection.start, selection.stop],
      },
    };
  }

  close(): void {
    this.closed = true;
    this.prefetcher?.close();
    this.prefetcher = null;
  }
}

/** Replay detectors for a server (`--replay MASTER`): named `replay-<prefix>` after each master file. */
export async function replayPlugins(paths: string[]): Promise<ReplayPlugin[]> {
  const plugins: ReplayPlugin[] = [];
  for (const path of paths) {
    const master = await SavedMaster.open(path);
    const name = `replay-${basename(path).replace(/(_master)?\.(h5|hdf5|nxs)$/, '')}`;
    if (plugins.some((p) => p.name === name)) throw new Error(`--replay: two masters would both be detector ${name}`);
    plugins.push(new ReplayPlugin(master, { start: 0, stop: master.nbFrames, readers: 1 }, name));
  }
  return plugins;
}
