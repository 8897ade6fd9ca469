/**
 * Who may see which scans of the store, on the WebSocket: the catalogue's rules (catalogue/service.ts
 * `scanVisible`) applied to lists, look-ups, reads and subscriptions. A hidden scan is refused exactly as
 * an unknown key is, so a refusal never tells that it exists. Without a catalogue every scan is visible.
 */
import { DaqError, type EventMessage } from '../protocol/index.js';
import type { Scan } from '../store/types.js';
import type { Session } from './session.js';
import type { EntryPlace } from '../logbook/access.js';

export function canSee(s: Session, scan: Scan, cache?: Map<string, boolean>): boolean {
  const c = s.service.catalogue;
  return !c || c.scanVisible(s.principal(), scan.identity.proposal, cache);
}

/**
 * The facts of these scans' proposals read (when not at hand) before a synchronous decision on them, so that a
 * list is decided on what the catalogue holds now. The catalogue down: the last facts read decide.
 */
export async function knowScans(s: Session, scans: Scan[]): Promise<void> {
  const c = s.service.catalogue;
  if (!c || s.principal().operator) return;
  await c.know(scans.map((scan) => scan.identity.proposal)).catch(() => {});
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

/** Events about a scan (`scan.new`, `scan.state`, `store.*`) reach only sessions that may see the scan; logbook entries, readers of the entry. */
export function eventVisible(s: Session, e: EventMessage): boolean {
  if (e.event === 'logbook.entry') return !s.service.logbook || s.service.logbook.access.canRead(s.principal(), e.entry as EntryPlace);
  if (!s.service.catalogue) return true;
  const m = e as { scan?: { identity?: { proposal?: unknown } }; key?: unknown };
  if (m.scan && typeof m.scan.identity?.proposal === 'string') {
    const c = s.service.catalogue;
    return c.scanVisible(s.principal(), m.scan.identity.proposal);
  }
  if (typeof m.key === 'string') {
    let scan;
    try {
      scan = s.service.store.scan(m.key);
    } catch {
      return true; // no longer held: nothing left to tell its proposal by
    }
    return canSee(s, scan);
  }
  return true;
}
