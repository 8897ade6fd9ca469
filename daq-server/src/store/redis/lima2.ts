/**
 * The frame stream of a scan driven through daqlab's LIMA2 API (api/lima2), in the model of
 * blissdata's `lima2` plugin (PyPI `blissdata-lima2` 2.0.2, blissdata_lima2/stream.py), so that
 * blissdata readers with that plugin read the frames the way BLISS's own LIMA2 scans are read:
 *  - the Redis stream holds no frames: each entry is one uint32, the number of frames readable so
 *    far from the start (a contiguous prefix); readers take the last one (`_need_last_only`);
 *  - while the stream is not sealed, readers fetch frame i through the conductor
 *    (`services.pipeline.get_frame` → `/pipeline/{uuid}/lookup/{source}/{i}` → the HDF5 file);
 *    once sealed, from `master_file` = [file, dataset], `file[dataset][start:stop]`;
 *  - info = {plugin: "lima2", protocol_version: 2, dtype (numpy name), shape, acq_uuid,
 *    source_name, conductor_hostname, conductor_port, master_file} (Lima2Stream.make_definition).
 * The count is the prefix of frames flushed to their files — exactly what the lookup answers with
 * an HDF5 location — so a reader never gets a count it cannot read. At the end, the stream is sealed
 * only once the scan is CLOSED: the final master file (mapping every saved frame) is on disk then.
 */
import type { ArrayStream, Scan } from '../types.js';

/** blissdata_lima2.Lima2Stream.PROTOCOL_VERSION */
export const LIMA2_STREAM_PROTOCOL = 2;
/** the only LIMA2 frame source daqlab can serve from files (api/lima2/conductor.ts lookup) */
export const LIMA2_FRAME_SOURCE = 'frame';
/** how often the count is brought up to date while the scan runs (ms) */
export const LIMA2_COUNT_PERIOD_MS = 100;

/** What the LIMA2 room (api/lima2/conductor.ts) records in `scan.info.lima2` for the Redis room. */
export interface Lima2ScanInfo {
  class_name: string;
  masterfile_metadata?: unknown;
  /** the acquisition's uuid, as the conductor names it */
  acq_uuid?: string;
  /** the detector served (the stream is named `<detector>:<source>`, as BLISS names a LIMA2 device's channels) */
  detector?: string;
  /** where readers reach the conductor */
  conductor?: { hostname: string; port: number };
  /** source → [master file, dataset], as `/pipeline/{uuid}/master_files` answers */
  master_files?: Record<string, [string, string]>;
}

export interface Lima2StreamDef {
  name: string;
  info: Record<string, unknown>;
  frames: ArrayStream;
}

/**
 * The lima2 stream of a scan, or null when it has none: not driven through the LIMA2 API, or its
 * frames are not saved (daqlab's conductor answers frames from the files only: a count the lookup
 * could never serve would only make readers fail).
 */
export function lima2StreamDef(scan: Scan): Lima2StreamDef | null {
  const l = scan.info.lima2 as Lima2ScanInfo | undefined;
  const master = l?.master_files?.[LIMA2_FRAME_SOURCE];
  const frames = scan.streams.get('frame');
  if (!l?.acq_uuid || !l.conductor || !l.detector || !master || frames?.kind !== 'array') return null;
  const a = frames as ArrayStream;
  return {
    name: `${l.detector}:${LIMA2_FRAME_SOURCE}`,
    frames: a,
    info: {
      plugin: 'lima2',
      protocol_version: LIMA2_STREAM_PROTOCOL,
      dtype: a.dtype,
      shape: [...a.shape],
      acq_uuid: l.acq_uuid,
      source_name: LIMA2_FRAME_SOURCE,
      conductor_hostname: l.conductor.hostname,
      conductor_port: l.conductor.port,
      master_file: [master[0], master[1]],
    },
  };
}

/**
 * Frames 0…n−1 all flushed to their files, counting on from `from` (the count only grows): the
 * frames a reader can open through the lookup. Looks at each frame once over the scan.
 */
export function readablePrefix(frames: ArrayStream, from: number): number {
  let n = from;
  while (n < frames.length) {
    const at = frames.savedLocation(n);
    if (!at || at.index === undefined || at.flushed === false) break;
    n++;
  }
  return n;
}
