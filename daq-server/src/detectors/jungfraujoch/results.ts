/**
 * Jungfraujoch's analysis results → daqlab's result streams, in the shapes the
 * smx and azint pipelines publish (so HitRate, Profile and the LiveImage peak
 * overlay read them unchanged):
 *   spots [{x, y, I, indexed, ...}]       → `peaks` events {frame_idx, x, y, intensity, sigma: null, snr: null, indexed}
 *   spot_count, indexing_result, cell     → `peak_counter` events {frame_idx, receiver, nb_peaks, is_hit, indexed, ...}
 *   az_int_profile (start: az_int_bin_to_q) → `intensity` float32 [npt] per frame, static `radial` (q, Å⁻¹)
 * The results come inside image messages and in metadata messages (the
 * metadata PUB socket); the first seen for an image wins, later copies are counted.
 */
import type { PushedResult } from '../plugin.js';

/** Spots kept per image (Jungfraujoch caps its own list; a message must not flood the store). */
export const MAX_SPOTS = 4096;

export interface PeakEvent {
  frame_idx: number;
  x: number;
  y: number;
  intensity: number;
  sigma: null;
  snr: null;
  indexed?: boolean;
}

export interface CounterEvent {
  frame_idx: number;
  receiver: number;
  nb_peaks: number;
  is_hit: boolean;
  indexed?: boolean;
  nb_peaks_reported?: number;
  spot_count_ice_rings?: number;
  unit_cell?: Record<string, number>;
}

export interface ImageResults {
  peaks: PeakEvent[];
  counter: CounterEvent;
  profile: Float32Array | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The results of one image, or null when it carries none (no spot finding, no integration). */
export function imageResults(frameIdx: number, m: Record<string, unknown>, minSpotsForHit: number): ImageResults | null {
  const spots = Array.isArray(m.spots) ? m.spots : null;
  const count = num(m.spot_count);
  const profileIn = Array.isArray(m.az_int_profile) ? m.az_int_profile : null;
  if (!spots && count === null && !profileIn && typeof m.indexing_result !== 'boolean') return null;
  const peaks: PeakEvent[] = [];
  // early Jungfraujoch versions sent spots as one flat array x, y, I, x, y, I, ...
  if (spots && spots.length && spots.length % 3 === 0 && spots.every((v) => typeof v === 'number')) {
    for (let k = 0; k < spots.length && peaks.length < MAX_SPOTS; k += 3) {
      peaks.push({ frame_idx: frameIdx, x: spots[k] as number, y: spots[k + 1] as number, intensity: spots[k + 2] as number, sigma: null, snr: null });
    }
  }
  for (const s of (spots ?? []).slice(0, MAX_SPOTS)) {
    if (!isMap(s)) continue;
    const x = num(s.x);
    const y = num(s.y);
    if (x === null || y === null) continue;
    peaks.push({ frame_idx: frameIdx, x, y, intensity: num(s.I ?? s.intensity) ?? 0, sigma: null, snr: null, ...(typeof s.indexed === 'boolean' ? { indexed: s.indexed } : {}) });
  }
  const nb = count !== null ? Math.max(0, Math.round(count)) : peaks.length;
  const counter: CounterEvent = { frame_idx: frameIdx, receiver: 0, nb_peaks: nb, is_hit: nb >= minSpotsForHit };
  if (typeof m.indexing_result === 'boolean') counter.indexed = m.indexing_result;
  if (peaks.length !== nb) counter.nb_peaks_reported = peaks.length;
  const ice = num(m.spot_count_ice_rings);
  if (ice !== null) counter.spot_count_ice_rings = ice;
  if (isMap(m.indexing_unit_cell)) {
    const cell: Record<string, number> = {};
    for (const k of ['a', 'b', 'c', 'alpha', 'beta', 'gamma']) {
      const v = num(m.indexing_unit_cell[k]);
      if (v !== null) cell[k] = v;
    }
    counter.unit_cell = cell;
  }
  const profile = profileIn ? Float32Array.from(profileIn, (v) => num(v) ?? NaN) : null;
  return { peaks, counter, profile };
}

/** Stream descriptions, as the smx and azint pipelines give theirs. */
function peaksInfo(): Record<string, unknown> {
  return {
    description: "Jungfraujoch's spots: one event per spot (the detector's own spot finding)",
    source: 'jungfraujoch',
    fields: { frame_idx: 'frame index', x: 'spot column, pixels (as Jungfraujoch reports it)', y: 'spot row, pixels', intensity: "Jungfraujoch's spot intensity I", indexed: 'the spot was indexed' },
  };
}

/** Collects the results of a series, once per image, and hands them out as stream appends. */
export class ResultCollector {
  private seen = new Set<number>();
  private peaks: PeakEvent[] = [];
  private counters: CounterEvent[] = [];
  private profiles: { frame: number; data: Float32Array }[] = [];
  private npt: number | null = null;
  private radialSent = false;
  /** az_int_bin_to_q of an image or metadata message, when the start message had none */
  private imageRadial: number[] | null = null;
  /** results that came twice (image message and metadata), or profiles whose length changed */
  duplicates = 0;
  mismatched = 0;

  constructor(
    private readonly minSpotsForHit: number,
    /** az_int_bin_to_q of the start message, when it came */
    private readonly radial: () => number[] | null,
  ) {}

  /** Add the results of image `frameIdx` (plain fields of its image or metadata message); false when none. */
  add(frameIdx: number, fields: Record<string, unknown>, receiver = 0): boolean {
    if (this.seen.has(frameIdx)) {
      if (imageResults(frameIdx, fields, this.minSpotsForHit)) this.duplicates++;
      return false;
    }
    const r = imageResults(frameIdx, fields, this.minSpotsForHit);
    if (!r) return false;
    // consumers of Jungfraujoch's metadata socket also read the bins per image (PSI's streamvis does): taken when the start had none
    const q = fields.az_int_bin_to_q;
    if (!this.imageRadial && Array.isArray(q) && q.length && q.every((v) => typeof v === 'number')) this.imageRadial = q as number[];
    this.seen.add(frameIdx);
    this.peaks.push(...r.peaks);
    this.counters.push({ ...r.counter, receiver });
    if (r.profile) {
      this.npt ??= r.profile.length;
      if (r.profile.length === this.npt) this.profiles.push({ frame: frameIdx, data: r.profile });
      else this.mismatched++;
    }
    return true;
  }

  take(): PushedResult[] {
    const out: PushedResult[] = [];
    if (this.counters.length) {
      out.push({ kind: 'event', stream: 'peaks', info: peaksInfo(), events: this.peaks.splice(0) });
      out.push({
        kind: 'event',
        stream: 'peak_counter',
        info: { description: "One event per frame: Jungfraujoch's spot count and the hit decision (nb_peaks ≥ min_nb_peaks)", source: 'jungfraujoch', min_nb_peaks: this.minSpotsForHit },
        events: this.counters.splice(0),
      });
    }
    if (this.profiles.length && this.npt !== null) {
      const q = this.radial() ?? this.imageRadial;
      if (!this.radialSent && q && q.length === this.npt) {
        out.push({ kind: 'array', stream: 'radial', dtype: 'float32', shape: [this.npt], info: { unit: 'q_A^-1', description: "radial bin centres (Jungfraujoch's az_int_bin_to_q)", source: 'jungfraujoch' }, items: [Float32Array.from(q)] });
        this.radialSent = true;
      }
      const batch = this.profiles.splice(0);
      out.push({
        kind: 'array',
        stream: 'intensity',
        dtype: 'float32',
        shape: [this.npt],
        info: { axis: 'radial', unit: 'q_A^-1', description: "Jungfraujoch's azimuthally integrated profile per frame", source: 'jungfraujoch' },
        items: batch.map((p) => p.data),
        frames: batch.map((p) => p.frame),
      });
    }
    return out;
  }
}
