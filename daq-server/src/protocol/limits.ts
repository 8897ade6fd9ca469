/**
 * Limits that keep one client from taking the server down or starving the
 * others (docs/PROTOCOL.md, "Limits"). Mirrored in kernel-bridge/daqlab/_protocol.py.
 */

/** Deepest nesting of any control message (objects and arrays count one level each). */
export const MAX_MESSAGE_DEPTH = 64;

/** Deepest nesting of a user JSON value the server stores or broadcasts (scan.info, prepare sections, job params). */
export const MAX_JSON_DEPTH = 32;

/** Largest `scan.info` (and other free-form user JSON kept by the server), as JSON text. */
export const MAX_INFO_BYTES = 64 * 1024;

/** Subscriptions one connection may hold at a time. */
export const MAX_SUBSCRIPTIONS = 64;

/** Requests of one connection that can hold resources (stream.read, scans.wait_next, acq.prepare, calibration, jobs.*) handled at a time. */
export const MAX_INFLIGHT_REQUESTS = 64;

/** Largest `window` of a subscription (messages sent ahead of the client's `sub.ack`). */
export const MAX_WINDOW = 256;

/**
 * Bytes queued for one connection (encoded payloads waiting for room, plus what the socket has not
 * sent yet) beyond which the server stops serving it: it closes the connection with CLOSE_OVERLOADED.
 */
export const MAX_QUEUED_BYTES = 128 * 1024 * 1024;

/** How long a connection may sit with its queue full and nothing drained before it is closed (ms). */
export const MAX_STALL_MS = 60_000;

/** The server pings every client this often (ms); clients may take silence for 3 intervals as a hung server. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** A client that answers none of this many pings in a row (and sends nothing) is closed (CLOSE_UNRESPONSIVE). */
export const HEARTBEAT_MISSES = 3;

/** WebSocket close code: the connection was closed because the client does not read what it asked for. */
export const CLOSE_OVERLOADED = 4008;

/** WebSocket close code: the client did not answer the server's pings. */
export const CLOSE_UNRESPONSIVE = 4009;
