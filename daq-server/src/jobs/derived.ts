/**
 * Derived scans registered back: when a template job completes, its result (a
 * master file written by the batch runner, see batch/run.ts) joins the scan
 * store as a CLOSED scan without streams — a pointer that the scans list, the
 * DAQ panel and `scans.wait_next` show like any other scan. Its data stays in
 * the files (`daqlab.open_derived(info.derived.master)` reads them); the link
 * to the source is `info.derived.source` (its master) and `source_key` (the
 * source's key in this server's store, when it still holds it).
 */
import type { ScanStore, Scan } from '../store/types.js';
import { log } from '../log.js';

/** A completed template job's result, as the jobs service read it from the manifest. */
export interface DerivedResult {
  job_id: string;
  user: string;
  job_name: string;
  template: string;
  /** the manifest file and what it said */
  manifest: string;
  master: string;
  source: string;
  /** the source's entry identifier, as recorded in its master */
  source_key: string | null;
  frames: [number, number] | null;
  params: Record<string, unknown>;
  created: string | null;
}

/** What `info.derived` of a registered derived scan holds (docs/PROTOCOL.md). */
export interface DerivedInfo extends DerivedResult {
  /** key of the source scan in this server's store (null: not held, e.g. saved before a restart) */
  source_key: string | null;
  /** the entry identifier recorded in the source master */
  source_entry: string | null;
}

function masterOf(scan: Scan): string | null {
  const saving = (scan.info as { saving?: { master?: unknown } }).saving;
  return typeof saving?.master === 'string' ? saving.master : null;
}

/**
 * Create the store's entry for `d` (once per job: a second call finds the first). It belongs to the
 * source's proposal, so who may see the source may see it; when the source is no longer held, to the
 * proposal folder its master lies in (`proposalOf`, the catalogue's), so it is never left unguarded.
 */
export function registerDerived(store: ScanStore, d: DerivedResult, proposalOf: (path: string) => string | null = () => null): Scan {
  const all = store.search({});
  const existing = all.find((s) => (s.info as { derived?: { job_id?: unknown } }).derived?.job_id === d.job_id);
  if (existing) return existing;
  const source = all.find((s) => masterOf(s) === d.source) ?? null;
  const derived: DerivedInfo = { ...d, source_entry: d.source_key, source_key: source?.key ?? null };
  const id = source?.identity;
  const scan = store.createScan(
    {
      name: `${d.template}-${id?.name ?? d.job_name}`,
      ...(id ? { session: id.session, proposal: id.proposal, sample: id.sample, dataset: id.dataset } : {}),
      ...(!id?.proposal ? { proposal: proposalOf(d.source) ?? proposalOf(d.master) ?? undefined } : {}),
    },
    { derived, saving: { master: d.master } },
  );
  scan.close();
  log('info', 'derived scan registered', { key: scan.key, job: d.job_id, source: d.source });
  return scan;
}
