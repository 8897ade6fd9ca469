/**
 * The master's virtual dataset: frame k of the `frame` stream is frame
 * `index` of some writer's file. Consecutive frames that sit one after the
 * other in the same file, at a constant stride in the stream, collapse into
 * one strided hyperslab mapping: round robin over N writers gives one mapping
 * per file; dynamic dispatch gives short runs, never worse than one per frame.
 */
import type { VirtualSource } from './hdf5/index.js';

export interface FramePlace {
  rank: number;
  file: number;
  index: number;
}

export interface Run {
  rank: number;
  file: number;
  /** first stream index and stride in the stream */
  seq: number;
  stride: number;
  /** first frame in the file (consecutive there) */
  index: number;
  count: number;
}

/** Group frames 0…n−1 (places[k] undefined: not saved) into runs. */
export function frameRuns(n: number, place: (seq: number) => FramePlace | null): Run[] {
  const open = new Map<string, Run>();
  const runs: Run[] = [];
  for (let seq = 0; seq < n; seq++) {
    const p = place(seq);
    if (!p) continue;
    const key = `${p.rank}:${p.file}`;
    const r = open.get(key);
    if (r && p.index === r.index + r.count) {
      const last = r.seq + (r.count - 1) * r.stride;
      if (r.count === 1) {
        r.stride = seq - r.seq;
        r.count = 2;
        continue;
      }
      if (seq - last === r.stride) {
        r.count++;
        continue;
      }
    }
    const run: Run = { rank: p.rank, file: p.file, seq, stride: 1, index: p.index, count: 1 };
    runs.push(run);
    open.set(key, run);
  }
  return runs;
}

/** Runs as VDS mappings for frames of `shape` stored at `dataset` in files named by `fileName`. */
export function virtualSources(runs: Run[], shape: number[], dataset: string, fileName: (rank: number, file: number) => string): VirtualSource[] {
  const zeros = shape.map(() => 0);
  const ones = shape.map(() => 1);
  return runs.map((r) => ({
    file: fileName(r.rank, r.file),
    dataset,
    src: { start: [r.index, ...zeros], stride: [1, ...ones], count: [r.count, ...ones], block: [1, ...shape] },
    dst: { start: [r.seq, ...zeros], stride: [Math.max(1, r.stride), ...ones], count: [r.count, ...ones], block: [1, ...shape] },
  }));
}
