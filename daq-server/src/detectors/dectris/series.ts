/**
 * The frames of one detector series, put back together from N receiver
 * threads. The detector deals messages round robin, so images arrive out of
 * order across receivers and the `start` may come after the first images (or
 * not at all): the series is the one of the first message after arm, images
 * are released in image_id order, and everything that does not fit is counted by name — missing
 * image_ids, duplicates, out-of-series messages, undecodable messages and
 * channels — never a crash or a block.
 */
import { Worker } from 'node:worker_threads';
import { TYPED_ARRAY, type DType, type TypedArray } from '../../protocol/index.js';
import type { PushedResult, ReceivedFrame } from '../plugin.js';
import type { DecodedMap, FromReceiver, ReceiverInit, StreamFormat } from './worker-messages.js';
import { DeferredItem } from '../../store/deferred.js';
import { decodeBlob } from './blobs.js';

/** Frames held for reordering before the lowest one is released anyway (its predecessors count as missing). */
const REORDER_WINDOW = 64;
/** After the `end` message, how long stragglers from other receivers may still come (ms). */
const END_GRACE_MS = 300;
/**
 * The same when the series' image count is known: the series ends as soon as the last image is in, so a
 * longer wait costs nothing when none is lost, and a receiver thread slowed by a loaded machine is not taken for a loss
 */
const END_GRACE_COUNTED_MS = 2000;
/** how long the end of a series waits for the detector's own account of it (stream/status/dropped) */
const BEFORE_END_MS = 1000;
/** Bad-input messages kept verbatim for the scan info (the rest are only counted). */
const KEEP_MESSAGES = 20;

export interface SeriesFrame extends ReceivedFrame {
  /** the other channels of a multi-threshold detector, by channel name */
  channels?: Record<string, TypedArray>;
  /** the detector's own times of the image, seconds from the series start */
  detector_time?: { start: number | null; stop: number | null; real: number | null };
  /** the image message's other fields (Jungfraujoch's analysis results), when it has any */
  extras?: Record<string, unknown>;
}

/** The detector's compressed bytes of the image's first channel, for a direct chunk write: valid frames only. */
function keptCompressed(m: ImageMsg, first: string | undefined, valid: boolean): Pick<ReceivedFrame, 'compressed'> {
  const chunk = valid && first !== undefined ? m.channels[first]?.chunk : undefined;
  return chunk ? { compressed: chunk } : {};
}

/** Per-image analysis results queued from metadata messages before the run takes them (then they are counted, not kept). */
const MAX_METADATA = 100_000;

/** The stream a calibration map is stored as: pedestals as `pedestal_<gain>`, others as `calibration_<name>`. */
export function calibrationStreamName(name: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 64);
  return clean.startsWith('pedestal') ? clean : `calibration_${clean}`;
}

export interface SeriesCounters {
  images_received: number;
  images_released: number;
  missing_image_ids: number;
  duplicates: number;
  out_of_series: number;
  bad_messages: number;
  invalid_images: number;
  /** images passed on undecoded (nothing needed their pixels), decoded only when read */
  images_not_decoded: number;
}

type ImageMsg = Extract<FromReceiver, { type: 'image' }>;

export class SeriesAssembler {
  private readonly workers: Worker[] = [];
  private readonly ready: Promise<void>;
  /** messages before this were sent before the detector was armed: left over from another series */
  private armed = false;
  private seriesId: number | null = null;
  private start: Extract<FromReceiver, { type: 'start' }> | null = null;
  private readonly held = new Map<number, ImageMsg>();
  private next = 0;
  private out: SeriesFrame[] = [];
  private endSeen = false;
  private endTimer: NodeJS.Timeout | null = null;
  private expected: number | null = null;
  private listeners: (() => void)[] = [];
  private closed = false;
  readonly counters: SeriesCounters = { images_received: 0, images_released: 0, missing_image_ids: 0, duplicates: 0, out_of_series: 0, bad_messages: 0, invalid_images: 0, images_not_decoded: 0 };
  readonly problems: string[] = [];
  /** images each receiver got (the detector deals them round robin) */
  private readonly perReceiver: number[];
  /** the detector's own count of images it could not send (stream/status/dropped), when read */
  detectorDropped: number | null = null;
  ended: { fault: string | null } | null = null;
  /** wall-clock ms of the trigger: frame times are this plus the image's detector time */
  t0Wall = 0;
  private maps: { name: string; dtype: DType; shape: number[]; data: TypedArray }[] = [];

  constructor(
    address: string,
    format: StreamFormat,
    nbReceivers: number,
    /** the frame every receiver must deliver: others are flagged invalid */
    private readonly frame: { dtype: DType; shape: [number, number] },
    /** Jungfraujoch: its metadata PUB socket, read by one more (SUB) receiver */
    options: { metadata?: string | null; decode?: boolean } = {},
  ) {
    this.perReceiver = new Array(nbReceivers).fill(0);
    const started: Promise<void>[] = [];
    const decode = options.decode !== false;
    const sockets: Omit<ReceiverInit, 'maxPixels'>[] = Array.from({ length: nbReceivers }, (_, rank) => ({ rank, address, format, decode }));
    if (options.metadata) sockets.push({ rank: nbReceivers, address: options.metadata, format: 'cbor', socket: 'sub' });
    for (const socket of sockets) {
      const rank = socket.rank;
      const worker = new Worker(new URL('./receiver-worker.js', import.meta.url), { workerData: { ...socket, maxPixels: frame.shape[0] * frame.shape[1] } satisfies ReceiverInit });
      this.workers.push(worker);
      started.push(
        new Promise((resolve, reject) => {
          worker.once('error', reject);
          worker.on('message', (m: FromReceiver) => {
            if (m.type === 'ready') resolve();
            else this.onMessage(m);
          });
        }),
      );
      worker.on('error', (err) => this.fail(`receiver ${rank} crashed: ${err.message}`));
    }
    this.ready = Promise.all(started).then(() => undefined);
  }

  /** Resolves once every receiver is connected. */
  connected(): Promise<void> {
    return this.ready;
  }

  /**
   * From now on messages belong to the series being armed; `expected` images when the configuration says;
   * `seriesId` when the run chose it (Jungfraujoch's run_number): messages of any other series are left over
   */
  arm(expected: number | null, seriesId: number | null = null): void {
    this.armed = true;
    this.expected = expected;
    if (seriesId !== null) this.seriesId = seriesId;
  }

  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Frames released so far, in image_id order (at most `max`). */
  take(max: number): SeriesFrame[] {
    return this.out.splice(0, max);
  }

  /** Per-pixel maps of the start message (pixel mask, flat field), handed out once. */
  takeMaps(): { name: string; dtype: DType; shape: number[]; data: TypedArray }[] {
    const m = this.maps;
    this.maps = [];
    return m;
  }

  /**
   * The frame → receiver table of the frames released so far, handed out once: which PULL socket the detector
   * dealt each image to, published as the `dispatch` stream as the built-in dynamic topology does (several receivers only).
   */
  takeDispatch(): PushedResult[] {
    if (!this.dispatched.length) return [];
    const events = this.dispatched;
    this.dispatched = [];
    return [{ kind: 'event', stream: 'dispatch', info: { description: 'frame index → the PULL receiver the detector dealt it to' }, events, frames: events.map((e) => e.frame_idx) }];
  }

  private dispatched: { frame_idx: number; receiver: number }[] = [];

  /** Per-image analysis results of metadata messages so far (Jungfraujoch), handed out once. */
  takeMetadata(): Record<string, unknown>[] {
    const m = this.metadata;
    this.metadata = [];
    return m;
  }

  private metadata: Record<string, unknown>[] = [];

  /** What the series was, for the scan info. */
  describe(): Record<string, unknown> {
    const s = this.start?.start;
    return {
      series_id: this.seriesId,
      series_unique_id: s?.series_unique_id ?? null,
      channels: s?.channels ?? null,
      start: s?.fields ?? null,
      ignored_start_fields: s?.ignored ?? {},
      expected_images: this.expected,
      counters: { ...this.counters },
      images_per_receiver: [...this.perReceiver],
      detector_stream_dropped: this.detectorDropped,
      start_after_first_images: this.startAfterImages,
      problems: [...this.problems],
    };
  }

  /** The series can not go on (detector gone, error state): release what is held, then end with `reason`. */
  fail(reason: string): void {
    if (this.ended) return;
    this.flush();
    this.finish(reason);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    for (const w of this.workers) {
      w.postMessage({ type: 'close' });
      // a socket stuck in a native call must not keep the thread: terminate after a moment
      setTimeout(() => void w.terminate(), 200).unref();
    }
  }

  private problem(counter: keyof SeriesCounters, message: string): void {
    this.counters[counter]++;
    if (this.problems.length < KEEP_MESSAGES) this.problems.push(message);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private onMessage(m: FromReceiver): void {
    if (this.closed || this.ended) return;
    switch (m.type) {
      case 'bad':
        this.problem('bad_messages', `receiver ${m.rank}: ${m.message}`);
        return;
      case 'failed':
        this.fail(m.message);
        this.notify();
        return;
      case 'start':
        if (!this.armed || (this.seriesId !== null && m.start.series_id !== this.seriesId)) {
          this.problem('out_of_series', `start of series ${m.start.series_id} ${this.armed ? `during series ${this.seriesId}` : 'before the detector was armed'}`);
          return;
        }
        this.seriesId = m.start.series_id;
        this.start = m;
        // several PULL sockets: images through other receivers may come before the start through its own (normal with round robin)
        if (this.next > 0 || this.held.size) this.startAfterImages = true;
        if (Number.isInteger(m.start.fields.number_of_images)) this.expected = m.start.fields.number_of_images as number;
        for (const [kind, maps] of [['pixel_mask', m.pixel_mask], ['flatfield', m.flatfield]] as const) {
          const names = Object.keys(maps);
          for (const ch of names) {
            const d = maps[ch];
            this.maps.push({ name: ch === names[0] ? kind : `${kind}_${ch}`, dtype: d.dtype, shape: d.shape, data: d.data });
          }
        }
        const table = m.countrate.table;
        // the count-rate correction table: into the scan (and so the master's results), a row vector as a 1-D array
        if (table) this.maps.push({ name: 'countrate_correction_table', dtype: table.dtype, shape: table.shape[0] === 1 ? [table.shape[1]] : table.shape, data: table.data });
        this.notify();
        return;
      case 'image':
        this.counters.images_received++;
        this.perReceiver[m.rank] = (this.perReceiver[m.rank] ?? 0) + 1;
        if (!this.armed) {
          this.problem('out_of_series', `image ${m.image_id} of series ${m.series_id} before the detector was armed`);
          return;
        }
        this.image(m);
        this.release();
        this.notify();
        return;
      case 'calibration':
        if (!this.armed) return this.problem('out_of_series', 'calibration before the detector was armed');
        for (const [name, why] of Object.entries(m.bad)) this.problem('bad_messages', `receiver ${m.rank}: calibration ${name}: ${why}`);
        for (const [name, d] of Object.entries(m.maps)) this.maps.push({ name: calibrationStreamName(name), dtype: d.dtype, shape: d.shape, data: d.data });
        this.notify();
        return;
      case 'metadata':
        if (!this.armed) return this.problem('out_of_series', 'metadata before the detector was armed');
        if (this.seriesId !== null && m.metadata.series_id !== null && m.metadata.series_id !== this.seriesId) {
          return this.problem('out_of_series', `metadata of series ${m.metadata.series_id} during series ${this.seriesId}`);
        }
        if (this.metadata.length + m.metadata.images.length > MAX_METADATA) return this.problem('bad_messages', `metadata of ${m.metadata.images.length} images dropped: ${MAX_METADATA} not yet taken`);
        this.metadata.push(...m.metadata.images);
        this.notify();
        return;
      case 'end':
        // an end never names the series: one arriving first is more likely a late end of the previous series
        if (!this.armed || m.end.series_id !== this.seriesId) {
          this.problem('out_of_series', `end of series ${m.end.series_id} ${this.armed ? `during series ${this.seriesId}` : 'before the detector was armed'}`);
          return;
        }
        this.endSeen = true;
        this.maybeEnd();
        return;
      default:
        return;
    }
  }

  private image(m: ImageMsg): void {
    // the first message after arm names the series (the start may be late, through another receiver, or lost)
    if (this.seriesId === null) this.seriesId = m.series_id;
    if (m.series_id !== this.seriesId) {
      this.problem('out_of_series', `image ${m.image_id} of series ${m.series_id} during series ${this.seriesId}`);
      return;
    }
    if (m.image_id < this.next || this.held.has(m.image_id)) {
      this.problem('duplicates', `image ${m.image_id} received twice`);
      return;
    }
    if (this.expected !== null && m.image_id >= this.expected) {
      this.problem('out_of_series', `image ${m.image_id} beyond the ${this.expected} images of series ${this.seriesId}`);
      return;
    }
    this.held.set(m.image_id, m);
  }

  /** Release held images in order; past the reorder window, skip the missing ones. */
  private release(): void {
    for (;;) {
      const m = this.held.get(this.next);
      if (m) {
        this.held.delete(this.next);
        this.emit(m);
        this.next++;
        continue;
      }
      if (this.held.size > REORDER_WINDOW) {
        const lowest = Math.min(...this.held.keys());
        this.skipTo(lowest);
        continue;
      }
      break;
    }
    this.maybeEnd();
  }

  private skipTo(id: number): void {
    const n = id - this.next;
    if (n > 0) {
      this.counters.missing_image_ids += n;
      if (this.problems.length < KEEP_MESSAGES) this.problems.push(n === 1 ? `image ${this.next} never came` : `images ${this.next}–${id - 1} never came`);
    }
    this.next = id;
  }

  /** Everything held goes out (end of series or fault). */
  private flush(): void {
    while (this.held.size) {
      this.skipTo(Math.min(...this.held.keys()));
      this.release();
    }
  }

  private maybeEnd(): void {
    if (!this.endSeen || this.ended) return;
    if (this.expected !== null && this.next >= this.expected) return this.complete();
    // the end came while images may still be on their way through other receivers
    this.endTimer ??= setTimeout(() => this.complete(), this.expected !== null ? END_GRACE_COUNTED_MS : END_GRACE_MS);
  }

  private complete(): void {
    if (this.ended) return;
    this.flush();
    if (this.expected !== null && this.next < this.expected) {
      const n = this.expected - this.next;
      this.counters.missing_image_ids += n;
      this.problems.push(`series ${this.seriesId} ended early: ${this.counters.images_released} of ${this.expected} images`);
    }
    this.finish(null);
  }

  private finish(fault: string | null): void {
    if (this.finishing) return;
    this.finishing = true;
    if (!this.start && this.seriesId !== null) this.problems.push(`no start message came for series ${this.seriesId}`);
    if (this.endTimer) clearTimeout(this.endTimer);
    const end = (): void => {
      this.ended = { fault };
      this.notify();
    };
    if (!this.beforeEnd) return end();
    // what the detector says about the series (its dropped count) is read before the end is published, bounded in time
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, BEFORE_END_MS); });
    void Promise.race([this.beforeEnd().catch(() => undefined), deadline]).finally(() => {
      clearTimeout(timer);
      end();
    });
  }

  private finishing = false;
  /** the start message came through its receiver after images through others (round robin: not an error) */
  private startAfterImages = false;
  /** set by the run: called once when the series is over, before `ended` is set (at most BEFORE_END_MS) */
  beforeEnd: (() => Promise<void>) | null = null;

  /** The frame's undecoded chunk as an item decoded when read, when it is one of the frame's type and size. */
  private deferred(c: ImageMsg['channels'][string] | undefined): DeferredItem | null {
    if (!c?.undecoded || !c.chunk || c.undecoded !== this.frame.dtype || c.shape?.[0] !== this.frame.shape[0] || c.shape?.[1] !== this.frame.shape[1]) return null;
    const { dtype } = this.frame;
    const n = this.frame.shape[0] * this.frame.shape[1];
    const bytes = c.chunk.bytes;
    return new DeferredItem(dtype, n, () => {
      try {
        return decodeBlob(bytes, 'bslz4', dtype, n);
      } catch {
        // the header matched the frame but a block did not decode: zeros (saved as the detector sent it)
        return new TYPED_ARRAY[dtype](n);
      }
    });
  }

  private emit(m: ImageMsg): void {
    if (this.perReceiver.length > 1) this.dispatched.push({ frame_idx: m.image_id, receiver: m.rank });
    const names = this.start?.start.channels.length ? this.start.start.channels : Object.keys(m.channels);
    const first = names[0] ?? Object.keys(m.channels)[0];
    const [rows, cols] = this.frame.shape;
    const errors: string[] = [];
    const usable = (ch: string): TypedArray | null => {
      const c = m.channels[ch];
      if (!c) {
        errors.push(`channel ${ch} missing`);
        return null;
      }
      if (c.error) {
        errors.push(c.error);
        return null;
      }
      if (!c.shape || c.shape[0] !== rows || c.shape[1] !== cols || !c.data || TYPED_ARRAY[this.frame.dtype] !== c.data.constructor) {
        errors.push(`channel ${ch}: ${c.data?.constructor.name ?? '?'} ${JSON.stringify(c.shape)}, the detector is configured for ${this.frame.dtype} [${rows}, ${cols}]`);
        return null;
      }
      return c.data;
    };
    const blank = (): TypedArray => new TYPED_ARRAY[this.frame.dtype](rows * cols);
    const kept = names.length <= 1 ? this.deferred(m.channels[first]) : null;
    if (kept) {
      this.counters.images_released++;
      this.counters.images_not_decoded++;
      const frame: SeriesFrame = {
        index: m.image_id,
        valid: true,
        deferred: kept,
        compressed: m.channels[first]!.chunk,
        time: this.t0Wall && m.stop_time !== null ? this.t0Wall + m.stop_time * 1000 : undefined,
        detector_time: { start: m.start_time, stop: m.stop_time, real: m.real_time },
        ...(m.extras && Object.keys(m.extras).length ? { extras: m.extras } : {}),
      } as SeriesFrame;
      // whoever reads the pixels anyway (a consumer that does not know deferred frames) gets them decoded
      Object.defineProperty(frame, 'data', { get: () => kept.materialize(), enumerable: true });
      this.out.push(frame);
      return;
    }
    const data = usable(first);
    const channels: Record<string, TypedArray> = {};
    for (const ch of names.slice(1)) channels[ch] = usable(ch) ?? blank();
    const valid = data !== null && errors.length === 0;
    if (!valid) this.problem('invalid_images', `image ${m.image_id}: ${errors.join('; ')}`);
    this.counters.images_released++;
    const stop = m.stop_time;
    this.out.push({
      index: m.image_id,
      data: data ?? blank(),
      valid,
      time: this.t0Wall && stop !== null ? this.t0Wall + stop * 1000 : undefined,
      ...(names.length > 1 ? { channels } : {}),
      detector_time: { start: m.start_time, stop: m.stop_time, real: m.real_time },
      ...(m.extras && Object.keys(m.extras).length ? { extras: m.extras } : {}),
      ...keptCompressed(m, first, valid),
    });
  }
}
