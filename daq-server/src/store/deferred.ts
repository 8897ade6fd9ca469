/**
 * An item kept as the detector compressed it and decoded only when someone reads it: a real detector's
 * frames when nothing needs their pixels as they arrive (pipeline `none`, saving by direct chunk write),
 * so the receivers skip the decode and a LiveImage or a `stream.read` still gets every frame.
 */
import type { DType, TypedArray } from '../protocol/dtypes.js';

export class DeferredItem {
  constructor(
    readonly dtype: DType,
    /** elements once decoded */
    readonly length: number,
    /** decode the kept bytes (the same pixels every call); must not throw: a corrupt item decodes as what it can */
    private readonly decode: () => TypedArray,
  ) {}

  materialize(): TypedArray {
    return this.decode();
  }
}

/** What a per-item append may hold: the pixels, or an item decoded when read. */
export type StoredItem = TypedArray | DeferredItem;
