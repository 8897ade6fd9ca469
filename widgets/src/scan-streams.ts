/**
 * What the step-scan views (ScanPlot, Map2D, MCA) share: waiting for a step scan's channels to be
 * declared (the engine sets `plotselect` and `channels` just after creating the scan), and one
 * lossless subscription per channel stream, each item handed over with its point index.
 */
import type { ArrayItem, DaqClient, DataMessage } from './client.js';
import type { ScanSummaryLike } from './daqview.js';
import { sleep } from './connection.js';

export interface StepScanInfo {
  title?: string;
  type?: string;
  npoints?: number | null;
  axes?: string[];
  counters?: string[];
  channels?: string[];
  plotselect?: { x: string; y: string | null } | null;
  grid?: { axes: { axis: string; start: number; stop: number; intervals: number }[]; backnforth: boolean };
  start_time?: string;
  end_time?: string;
}

export function isStepScan(s: ScanSummaryLike | null | undefined): boolean {
  // fly scans (fscan, fmesh) carry the same channels and grid, so the same views show them
  return s?.info?.scan_engine === 'step' || s?.info?.scan_engine === 'fly';
}

/** The scan's summary once its channels are declared; throws when it is no step scan. */
export async function stepScan(client: DaqClient, key: string, tries = 20): Promise<ScanSummaryLike & { info: StepScanInfo }> {
  for (let i = 0; i < tries; i++) {
    const s = await client.request<ScanSummaryLike>('scan.get', { scan: key });
    if (!isStepScan(s)) throw new Error(`${key} is not a step scan`);
    if (s.info?.plotselect && Array.isArray(s.info.channels)) return s as ScanSummaryLike & { info: StepScanInfo };
    await sleep(250);
  }
  throw new Error(`${key}: its channels were not declared`);
}

/** Lossless subscriptions to some channels of one scan, from their first item. */
export class ChannelSubscriptions {
  private subs = new Set<string>();

  async add(client: DaqClient, scan: string, stream: string, onItem: (item: ArrayItem) => void, onBatch: () => void): Promise<void> {
    let sub: string | null = null;
    const handle = (msg: DataMessage) => {
      if (sub !== null && msg.header.sub !== sub) return;
      for (const item of msg.items) onItem(item);
      onBatch();
      client.ack(msg.header.sub!, msg.header.msg);
    };
    const result = await client.subscribe({ scan, stream, mode: 'lossless', start: 0 }, handle);
    sub = result.sub;
    this.subs.add(sub);
  }

  close(client: DaqClient | null): void {
    if (client) for (const s of this.subs) void client.unsubscribe(s);
    this.subs.clear();
  }
}

/** The value of a scalar channel's item (NaN when invalid). */
export function scalarOf(item: ArrayItem): number {
  return item.valid && item.data.length > 0 ? Number(item.data[0]) : NaN;
}
