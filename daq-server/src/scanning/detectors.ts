/**
 * Detectors as counters of a step scan, through the controller's own interface: prepared in
 * software-trigger mode for the scan's points, triggered once per point; each frame joins the
 * step scan as `<detector>:image` (the detector's acquisition keeps its own scan and files).
 */
import { DaqError, type DType, type TypedArray } from '../protocol/index.js';
import type { ArrayStream } from '../store/types.js';
import type { DetectorController } from '../control/controller.js';

/** How long a point waits for its frame beyond the count time before the scan faults. */
const FRAME_GRACE_MS = 10_000;

export interface ArmedDetector {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  /** the detector's own acquisition scan (its frames, files, processing) */
  readonly scanKey: string;
  readonly uuid: string;
  /** trigger point `i` and resolve with its frame */
  trigger(i: number, countTime: number): Promise<{ data: TypedArray; valid: boolean }>;
  /** the scan ended: stop the acquisition (abort: at once) */
  end(aborted: boolean): void;
}

/** A detector a scan can count with: arm it for `npoints` frames of `countTime` seconds. */
export interface ScanDetector {
  readonly name: string;
  /** `identity`: the step scan's number (and session), so both carry one number as BLISS's scans do */
  arm(npoints: number, countTime: number, title: string, identity: { number: number; session?: string }): Promise<ArmedDetector>;
  /** the fastest frame rate it can take (Hz): a fly scan triggering faster is refused */
  readonly maxFrameRate: number;
  /**
   * Fly scans: armed for `lines` × `perLine` frames of `acqTime`, one trigger per line, its frames
   * paced at 1/acqTime (frame k is the fly scan's trigger k); `processing` passes to its prepare.
   */
  armFly(lines: number, perLine: number, acqTime: number, title: string, identity: { number: number; session?: string }, processing?: Record<string, unknown>): Promise<FlyDetector>;
}

/** A detector armed for a fly scan. */
export interface FlyDetector {
  readonly name: string;
  readonly scanKey: string;
  readonly uuid: string;
  /** start the next line's frames */
  line(): void;
  /** frames the detector has delivered, processed, and dropped by processing */
  counts(): { acquired: number; processed: number; dropped: number };
  /** resolves once `n` frames arrived and processing caught up (false: not within `ms`, or the acquisition ended short) */
  waitFrames(n: number, ms: number): Promise<boolean>;
  end(aborted: boolean): void;
}

export function controllerDetector(ctl: DetectorController): ScanDetector {
  return {
    name: ctl.name,
    maxFrameRate: ctl.info().max_frame_rate,
    async armFly(lines, perLine, acqTime, title, identity, processing) {
      const acq = await ctl.prepare(
        {
          acquisition: { nb_frames: lines * perLine, expo_time: acqTime, latency_time: 0, trigger_mode: 'software', nb_frames_per_trigger: perLine },
          ...(processing ? { processing } : {}),
          scan: { name: `${title.split(' ')[0]}:${ctl.name}`, ...identity, info: { fly_scan_title: title } },
        },
        null,
      );
      ctl.start(acq.uuid);
      const c = acq.counters;
      return {
        name: ctl.name,
        scanKey: acq.scan.key,
        uuid: acq.uuid,
        line: () => void ctl.trigger(acq.uuid),
        counts: () => ({ acquired: c.nb_frames_acquired, processed: c.nb_frames_processed, dropped: c.nb_frames_dropped }),
        // polled at the scan's end only (a pipeline may keep no frame stream to wait on)
        async waitFrames(n, ms) {
          const deadline = performance.now() + ms;
          while (c.nb_frames_acquired < n || c.nb_frames_processed + c.nb_frames_dropped < c.nb_frames_acquired) {
            if (performance.now() > deadline || (acq.state !== 'RUNNING' && c.nb_frames_acquired < n)) return false;
            await new Promise((r) => setTimeout(r, 50));
          }
          return true;
        },
        end(aborted) {
          try {
            if (aborted) ctl.abort(acq.uuid);
            else ctl.stop(acq.uuid);
          } catch {
            // already ended on its own
          }
        },
      };
    },
    async arm(npoints, countTime, title, identity) {
      const acq = await ctl.prepare(
        {
          acquisition: { nb_frames: npoints, expo_time: countTime > 0 ? countTime : 0.001, trigger_mode: 'software', nb_frames_per_trigger: 1 },
          scan: { name: `${title.split(' ')[0]}:${ctl.name}`, ...identity, info: { step_scan_title: title } },
        },
        null,
      );
      ctl.start(acq.uuid);
      const frames = acq.scan.stream('frame') as ArrayStream;
      return {
        name: ctl.name,
        dtype: frames.dtype,
        shape: frames.shape,
        scanKey: acq.scan.key,
        uuid: acq.uuid,
        async trigger(i, seconds) {
          ctl.trigger(acq.uuid);
          const arrived = await frames.waitFor(i, seconds * 1000 + FRAME_GRACE_MS);
          if (!arrived) {
            throw new DaqError('FaultError', `${ctl.name}: frame ${i} did not arrive (acquisition ${acq.state}${acq.reason ? `: ${acq.reason}` : ''})`);
          }
          const item = frames.get(i);
          return { data: item.data, valid: item.valid };
        },
        end(aborted) {
          try {
            if (aborted) ctl.abort(acq.uuid);
            else ctl.stop(acq.uuid);
          } catch {
            // already ended on its own (all frames taken): nothing to stop
          }
        },
      };
    },
  };
}
