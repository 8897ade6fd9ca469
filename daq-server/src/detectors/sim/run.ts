/**
 * A configured simulator run: the frame pool, lost packets, simulated
 * faults and the receivers. Detector kinds only implement `render`.
 *
 * Frame i = render(slot) with slot = i mod pool_size (pool_size > 0) or
 * slot = i (pool_size = 0). Pool slots are rendered on first use and then
 * replayed (a view into the pool is returned: O(1) per frame). Lost
 * packets are decided per frame index i (not per slot) and applied to a
 * copy, so the pool is never modified.
 */
import { DaqError, TYPED_ARRAY, type DType, type TypedArray } from '../../protocol/index.js';
import { DetectorFault, type DetectorRun, type ReceivedFrame, type Receiver } from '../plugin.js';
import type { ResolvedGeometry, SimConfig } from './config.js';
import { formatPoni } from '../geometry/poni.js';
import { STREAM, TWO32, frameKey, hash2 } from './random.js';
import type { Scene } from './scenes.js';
import type { SimSpec } from './specs.js';
import { renderInWorkers } from './prefill.js';

/** Pools smaller than this many pixels in all are rendered inline: a worker would cost more than it saves. */
const INLINE_PREFILL_PIXELS = 8 * 1024 * 1024;

/** Packet payload in bytes: a lost packet zeroes this many bytes of the frame (8192: Jungfrau's 4 rows of 1024 uint16). */
export const PACKET_BYTES = 8192;
/** At most this many consecutive packets are lost in an incomplete frame. */
export const MAX_LOST_PACKETS = 8;

export interface Rendered {
  data: TypedArray;
  truth?: Record<string, unknown>;
}

export abstract class SimRun implements DetectorRun {
  readonly config: Record<string, unknown>;
  readonly shape: number[];
  readonly dtype: DType;
  readonly minPeriod: number;
  /** number of elements of one frame */
  readonly size: number;
  private pool: (Rendered | undefined)[];
  /** called once when the run closes (the plugin's pool cache counts its users) */
  private onClose: (() => void) | null = null;
  private readonly lostSet: Set<number>;
  private readonly lostThreshold: number;
  private closed = false;

  constructor(
    readonly spec: SimSpec,
    config: Record<string, unknown>,
    readonly cfg: SimConfig,
    readonly geometry: ResolvedGeometry,
    readonly scene: Scene,
  ) {
    this.config = config;
    this.shape = [...spec.shape];
    this.dtype = spec.dtype;
    this.minPeriod = 1 / spec.maxFrameRate;
    this.size = spec.shape.reduce((a, b) => a * b, 1);
    this.pool = new Array(cfg.pool_size);
    this.lostSet = new Set(cfg.lost_frames);
    this.lostThreshold = Math.floor(cfg.lost_packet_rate * TWO32);
  }

  /**
   * Replay `pool` (a pool of this same configuration kept from an earlier run: its rendered slots
   * are reused, the others filled as this run renders them); `onClose` runs when this run closes.
   */
  sharePool(pool: (Rendered | undefined)[], onClose: () => void): void {
    if (pool.length !== this.cfg.pool_size) throw new RangeError(`${this.spec.name}: a pool of ${pool.length} slots for pool_size ${this.cfg.pool_size}`);
    this.pool = pool;
    this.onClose = onClose;
  }

  /** Render the frame of pool slot (or live index) `slot` into a new array. */
  protected abstract render(slot: number): Rendered;

  /** Render one slot (public for the render workers). */
  renderSlot(slot: number): Rendered {
    return this.render(slot);
  }

  /**
   * Render every pool slot ahead of the run, in worker threads when the pool
   * is large, so the acquisition then replays at full rate from its first frame.
   */
  async prefill(): Promise<void> {
    const P = this.cfg.pool_size;
    const missing = [...Array(P).keys()].filter((k) => this.pool[k] === undefined);
    if (missing.length === 0) return;
    if (missing.length * this.size < INLINE_PREFILL_PIXELS) {
      for (const k of missing) this.pool[k] ??= this.render(k);
      return;
    }
    // a .poni path was read once at open; the workers get the geometry it gave (same numbers, same frames)
    const config = typeof this.config.poni === 'string' ? { ...this.config, poni: this.geometry.poni } : this.config;
    await renderInWorkers(this.spec.name, config, missing, (slot, rendered) => {
      if (!this.closed) this.pool[slot] ??= rendered;
    });
  }

  /** Kind-specific entries of describe(). */
  protected abstract describeKind(): Record<string, unknown>;

  /** Frames live in shared memory, so receiver threads read pool frames without a copy. */
  protected allocate(): TypedArray {
    const T = TYPED_ARRAY[this.dtype];
    return new T(new SharedArrayBuffer(this.size * T.BYTES_PER_ELEMENT), 0, this.size);
  }

  /** The static expectation of the scene on the image grid (photons per pixel per frame), or null. */
  expectation(): Float32Array | null {
    return this.scene.base();
  }

  /** The element range [start, stop) zeroed in frame `index`, or null when the frame is complete. */
  lostRegion(index: number): [number, number] | null {
    const hl = frameKey(this.cfg.seed, STREAM.LOST, index);
    if (!(hl < this.lostThreshold) && !this.lostSet.has(index)) return null;
    const perPacket = PACKET_BYTES / TYPED_ARRAY[this.dtype].BYTES_PER_ELEMENT;
    const packets = Math.ceil(this.size / perPacket);
    const first = hash2(1, hl) % packets;
    const count = 1 + (hash2(2, hl) % MAX_LOST_PACKETS);
    return [first * perPacket, Math.min((first + count) * perPacket, this.size)];
  }

  /** Frame `index` as a receiver hands it over. */
  frame(index: number): ReceivedFrame {
    if (this.closed) throw new DaqError('StateError', `${this.spec.name}: the run is closed`);
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`${this.spec.name}: frame index must be a non-negative integer, got ${index}`);
    const fault = this.cfg.fault_at_frame;
    if (fault !== null && index >= fault) {
      throw new DetectorFault(`${this.spec.name}: simulated detector failure at frame ${index} (fault_at_frame = ${fault})`);
    }
    const P = this.cfg.pool_size;
    let r: Rendered;
    if (P > 0) {
      const slot = index % P;
      r = this.pool[slot] ??= this.render(slot);
    } else {
      r = this.render(index);
    }
    const lost = this.lostRegion(index);
    if (lost === null) return { index, data: r.data, valid: true, truth: r.truth };
    const copy = P > 0 ? this.allocate() : r.data;
    if (copy !== r.data) copy.set(r.data as never);
    copy.fill(0, lost[0], lost[1]);
    return { index, data: copy, valid: false, truth: { ...(r.truth ?? {}), lost_elements: lost } };
  }

  receiver(rank: number, count: number): Receiver {
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(rank) || rank < 0 || rank >= count) {
      throw new DaqError('ParameterError', `${this.spec.name}: receiver rank ${rank} of ${count} is not valid`);
    }
    let open = true;
    return {
      rank,
      receive: (index: number): ReceivedFrame => {
        if (!open) throw new DaqError('StateError', `${this.spec.name}: receiver ${rank} is closed`);
        return this.frame(index);
      },
      close: (): void => {
        open = false;
      },
    };
  }

  describe(): Record<string, unknown> {
    const g = this.geometry;
    const s = this.spec;
    const geometry = {
      detector: s.name,
      shape: s.imageShape,
      pixel1: s.pixel[0],
      pixel2: s.pixel[1],
      ...g.poni,
    };
    return {
      simulator: s.name,
      model: s.model,
      scene: this.cfg.scene,
      seed: this.cfg.seed,
      pool_size: this.cfg.pool_size,
      frame_bytes: this.size * TYPED_ARRAY[this.dtype].BYTES_PER_ELEMENT,
      dummy: s.dummy,
      energy_kev: g.energyKeV,
      wavelength: g.wavelength,
      geometry,
      poni: formatPoni(g.poni, 'Detector', { pixel1: s.pixel[0], pixel2: s.pixel[1], max_shape: s.imageShape }, `${s.name} simulation geometry`),
      ground_truth: this.scene.hasTruth,
      scene_info: this.scene.describe(),
      ...(this.scene.detectorMetadata?.() ?? {}),
      ...this.describeKind(),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool = [];
    this.onClose?.();
    this.onClose = null;
  }
}
