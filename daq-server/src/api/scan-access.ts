/**
 * Who may see which scans of the store, on the WebSocket: the catalogue's rules (catalogue/service.ts
 * `scanVisible`) applied to lists, look-ups, reads and subscriptions. A hidden scan is refused exactly as
 * an unknown key is, so a refusal never tells that it exists. Without a catalogue every scan is visible.
 */
import { DaqError } from '../protocol/index.js';
import type { Scan } from '../store/types.js';
import type { Session } from './session.js';

export function canSee(s: Session, scan: Scan, cache?: Map<string, boolean>): boolean {
  const c = s.service.catalogue;
  return !c || c.scanVisible(c.access.resolve(s.token), scan.identity.proposal, cache);
}

export function visibleOnly<T extends Scan>(s: Session, scans: T[]): T[] {
  const c = s.service.catalogue;
  if (!c) return scans;
  const cache = new Map<string, boolean>();
  return scans.filter((scan) => canSee(s, scan, cache));
}

/** The scan of `key` when this session may see it; otherwise the store's own "no scan" error. */
export function readableScan(s: Session, key: string): ReturnType<Session['service']['store']['scan']> {
  const scan = s.service.store.scan(key);
  if (!canSee(s, scan)) {
    // the wording of the store's refusal of an unknown key (store/store.ts `scan`)
    const shown = JSON.stringify(String(key));
    throw new DaqError('NotFoundError', `no scan with key ${shown.length > 120 ? `${shown.slice(0, 117)}…` : shown} in the store`);
  }
  return scan;
}
