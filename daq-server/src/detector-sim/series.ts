/**
 * One series (arm to end): what its stream messages need to know, and its
 * acquisition clock. Images are emitted no faster than frame_time; each
 * waits on a timer (or setImmediate), so HTTP requests are answered
 * between images. disarm/cancel stop after the image being acquired,
 * abort at once; a simulated fault ends the series in the error state.
 */
import type { Compression, EncodedFrame, FrameSource } from './frames.js';
import { SimplonError } from './params.js';
import type { State } from './sections.js';

export interface SeriesInfo {
  seriesId: number;
  uniqueId: string;
  /** ISO 8601, the arm command's time */
  armDate: string;
  numberOfImages: number;
  /** [rows, cols] */
  shape: [number, number];
  dtype: 'uint16' | 'uint32';
  /** detector/config values at arm */
  config: Record<string, unknown>;
  /** stream/config values at arm */
  headerDetail: 'all' | 'basic' | 'none';
  headerAppendix: unknown;
  imageAppendix: unknown;
  /** DECTRIS pixel mask (bit 0: gap) and flatfield, rows × cols (empty unless header_detail is all), and the count cutoff */
  pixelMask: Uint32Array;
  flatfield: Float32Array;
  saturationValue: number;
  description: string;
  serialNumber: string;
}

/** One acquired image: its index in the series and its times in nanoseconds from the series date. */
export interface SeriesImage {
  index: number;
  startNs: number;
  stopNs: number;
  realNs: number;
  frame: EncodedFrame;
}

/** A header/image appendix is sent when the user set one (SIMPLON's default is the empty string). */
export const hasAppendix = (v: unknown): boolean => v !== '' && v !== null && v !== undefined;

export interface SeriesSink {
  start(): void;
  image(img: SeriesImage): void;
  end(): void;
}

export interface SeriesPlan {
  mode: string;
  perTrigger: number;
  ntrigger: number;
  countTime: number;
  frameTime: number;
  startDelay: number;
  compression: Compression;
  onState(s: State): void;
  onError(message: string): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowNs = (): number => Number(process.hrtime.bigint());

export class Series {
  private next = 0;
  private triggers = 0;
  private stopping = false;
  private ended = false;
  private running: Promise<void> | null = null;
  private readonly t0 = nowNs();
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly info: SeriesInfo,
    readonly frames: FrameSource,
    readonly sink: SeriesSink,
    readonly plan: SeriesPlan,
  ) {}

  /** One trigger's images; resolves when they are acquired (or the series was stopped). */
  runTrigger(countTime?: number): Promise<void> {
    if (this.running) throw new SimplonError(400, 'detector/command/trigger: the previous trigger is still acquiring');
    this.running = this.acquire(countTime ?? this.plan.countTime).finally(() => (this.running = null));
    return this.running;
  }

  /** exts/exte: the simulator's own trigger source. */
  runExternal(): void {
    void (async () => {
      await sleep(this.plan.startDelay * 1000);
      while (!this.ended && !this.stopping) await this.runTrigger();
    })();
  }

  private async acquire(countTime: number): Promise<void> {
    const p = this.plan;
    this.plan.onState('acquire');
    const frameTime = Math.max(p.frameTime, countTime);
    const first = this.next;
    const tStart = nowNs();
    for (let j = 0; j < p.perTrigger && !this.stopping; j++) {
      const due = tStart + j * frameTime * 1e9;
      const wait = (due - nowNs()) / 1e6;
      // never faster than frame_time; a timer tick between images lets HTTP requests in
      await (wait >= 1 ? sleep(Math.ceil(wait)) : new Promise<void>((r) => setImmediate(r)));
      if (this.stopping) break;
      const index = first + j;
      try {
        const frame = this.frames.encoded(index, p.compression);
        const startNs = Math.max(0, Math.round(due - this.t0));
        const realNs = Math.round(countTime * 1e9);
        this.sink.image({ index, startNs, stopNs: startNs + realNs, realNs, frame });
      } catch (err) {
        p.onError(`image ${index}: ${(err as Error).message}`);
        this.finish('error');
        return;
      }
      this.next = index + 1;
    }
    this.triggers++;
    if (this.stopping) return;
    if (this.triggers >= p.ntrigger) this.finish('idle');
    else this.plan.onState('ready');
  }

  private finish(state: State): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.end();
    this.plan.onState(state);
    this.resolveDone();
  }

  /** disarm/cancel (after the current image) or abort (now): end the series. */
  async stop(abort: boolean): Promise<void> {
    if (this.ended) return;
    this.stopping = true;
    if (this.running && !abort) await this.running;
    this.finish('idle');
  }
}
