/** The in-memory scan store (after blissdata): see types.ts for the interfaces. */
export type * from './types.js';
export { createStore, MemoryScanStore } from './store.js';
export { MemoryScan, SCAN_OVERHEAD_BYTES, STREAM_OVERHEAD_BYTES, type Eviction, type MemoryStream, type ScanOwner } from './scan.js';
export { MemoryArrayStream, VIEWS_PER_CHUNK } from './array-stream.js';
export { MemoryEventStream, EVENTS_PER_CHUNK, EVENT_OVERHEAD } from './event-stream.js';
export { StreamCore, detachedOwner, type StreamOwner } from './stream-base.js';
export { StreamCursor } from './cursor.js';
export { StreamGroup } from './group.js';
export { Notifier } from './notifier.js';
export { MAX_INFO_BYTES, IDENTITY_DEFAULTS, checkIdentity, checkInfo, checkInfoSized, jsonBytes } from './identity.js';
export { resolveIndex, resolveSlice, type Extent, type ResolvedSlice } from './indexing.js';
