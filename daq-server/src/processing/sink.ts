/**
 * Where an acquisition's frames go: straight into the store (pipeline
 * `none`), or through a processing pipeline on receiver workers. The
 * acquisition only times the detector and hands frames to its sink.
 */
import type { Counters } from '../protocol/index.js';
import type { ReceivedFrame } from '../detectors/plugin.js';
import type { ArrayStream, EventStream, Scan } from '../store/types.js';
import type { FrameTap } from '../saving/saver.js';

export interface FrameSink {
  /** take frames in index order (called from the acquisition's pump) */
  submit(frames: ReceivedFrame[]): void;
  /** the detector has stopped: process what was submitted, publish final results */
  finish(): Promise<void>;
  /** stop now: what was already released stays in the store */
  abort(): void;
  /** called once when the sink fails (a receiver died): the acquisition goes to FAULT */
  onFault(listener: (reason: string) => void): void;
}

/** Counts the ground truth simulators attach to frames into a `sim_truth` event stream. */
export class TruthRecorder {
  private stream: EventStream | null = null;

  constructor(
    private readonly scan: Scan,
    declare: boolean,
  ) {
    if (declare) this.stream = this.create();
  }

  private create(): EventStream {
    return this.scan.createEventStream('sim_truth', {
      description: 'ground truth the simulator drew for each frame (spot positions, hit flag)',
    });
  }

  record(frames: ReceivedFrame[]): void {
    const drawn = frames.filter((f) => f.truth !== undefined);
    if (drawn.length) (this.stream ??= this.create()).append(drawn.map((f) => ({ frame_idx: f.index, ...f.truth })), drawn.map((f) => f.index));
  }
}

/** Pipeline `none`: frames are stored as received, by reference. */
export class DirectSink implements FrameSink {
  /** saving, when enabled: sees every frame appended */
  tap: FrameTap | null = null;

  constructor(
    private readonly frames: ArrayStream,
    private readonly counters: Counters,
  ) {}

  submit(batch: ReceivedFrame[]): void {
    if (batch.length === 0) return;
    // a frame whose decode was deferred (see ReceivedFrame.deferred) is stored and saved as it came
    const data = batch.map((f) => f.deferred ?? f.data);
    const valid = batch.map((f) => f.valid);
    this.frames.append(data, valid, batch.map((f) => f.time ?? NaN), batch.map((f) => f.index));
    this.tap?.frames(
      batch.map((f) => (f.deferred ? null : f.data)),
      batch.map((f) => f.index),
      batch.map(() => 0),
      valid,
      batch.map((f) => f.compressed ?? null),
    );
    this.counters.nb_frames_transferred[0] += batch.length;
    this.counters.nb_frames_processed += batch.length;
  }

  async finish(): Promise<void> {}

  abort(): void {}

  onFault(): void {}
}
