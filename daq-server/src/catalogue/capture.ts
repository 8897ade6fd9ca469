/**
 * A finished scan, described as a dataset: identity, run description (the scan's info: prepare
 * parameters, detector info, timing, end counters, processing), and its files with sizes and
 * checksums. Checksums come from `sha256sum`, another process, so reading gigabytes of frames
 * never holds the event loop; it is bounded by a deadline.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Scan } from '../store/types.js';
import type { DataFile, Dataset } from './types.js';

/** the longest the checksums of one scan may take (beyond it: sizes only, sha256 null) */
const CHECKSUM_MS = 120_000;
/** metadata kept per dataset (bytes of JSON); larger run descriptions are cut to their top-level keys */
const MAX_METADATA_BYTES = 256 * 1024;

export const newPid = (): string => `daqlab-${randomUUID()}`;

/** The files a scan's saving wrote (master, sparse, data files), absolute. */
export function savedFiles(info: Record<string, unknown>): string[] {
  const saving = info.saving as Record<string, unknown> | undefined;
  if (!saving) return [];
  const base = typeof saving.base_path === 'string' ? saving.base_path : typeof saving.master === 'string' ? dirname(saving.master) : '';
  const out = new Set<string>();
  const add = (p: unknown): void => {
    if (typeof p === 'string' && p) out.add(isAbsolute(p) ? p : join(base, p));
  };
  add(saving.master);
  add(saving.sparse);
  if (Array.isArray(saving.files)) saving.files.forEach(add);
  const derived = info.derived as Record<string, unknown> | undefined;
  if (derived) add(derived.master);
  return [...out];
}

function checksums(paths: string[]): Promise<Map<string, string>> {
  return new Promise((resolve) => {
    if (!paths.length) return resolve(new Map());
    execFile('sha256sum', ['--', ...paths], { timeout: CHECKSUM_MS, maxBuffer: 16 * 1024 * 1024 }, (_err, stdout) => {
      // a file that vanished or a deadline: the others' sums still count
      const out = new Map<string, string>();
      for (const line of String(stdout ?? '').split('\n')) {
        const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
        if (m) out.set(m[2], m[1]);
      }
      resolve(out);
    });
  });
}

export async function describeFiles(paths: string[]): Promise<DataFile[]> {
  const files: DataFile[] = [];
  for (const path of paths) {
    try {
      const st = await stat(path);
      if (st.isFile()) files.push({ path, size: st.size, sha256: null, mtime: st.mtime.toISOString() });
    } catch {
      // listed by saving but not there (an aborted write): not a file of the dataset
    }
  }
  const sums = await checksums(files.map((f) => f.path));
  for (const f of files) f.sha256 = sums.get(f.path) ?? null;
  return files;
}

function boundedMetadata(info: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(info);
  if (text.length <= MAX_METADATA_BYTES) return info;
  return { truncated: true, keys: Object.keys(info) };
}

export interface CaptureContext {
  beamline: string;
  /** the pid of the dataset a scan key became (derived datasets point at their source) */
  pidOfScan: (key: string) => Promise<string | null>;
}

/** The dataset of a closed scan (files described off the event loop). */
export async function datasetOfScan(scan: Scan, ctx: CaptureContext): Promise<Dataset> {
  const id = scan.identity;
  const info = scan.info as Record<string, unknown>;
  const files = await describeFiles(savedFiles(info));
  const derived = info.derived as { source_key?: unknown } | undefined;
  const sourcePid = derived && typeof derived.source_key === 'string' ? await ctx.pidOfScan(derived.source_key) : null;
  const saving = info.saving as Record<string, unknown> | undefined;
  const prefix = typeof saving?.prefix === 'string' ? saving.prefix : `${id.name}_${String(id.number).padStart(4, '0')}`;
  const streams = [...scan.streams.values()].map((s) => ({ name: s.name, kind: s.kind, length: s.length }));
  const scanInfo = scan.summary().info;
  return {
    pid: newPid(),
    name: prefix,
    type: derived ? 'derived' : 'raw',
    proposal: id.proposal,
    sample: id.sample,
    beamline: ctx.beamline,
    collection: id.dataset,
    title: typeof (scanInfo as { title?: unknown }).title === 'string' ? String((scanInfo as { title: string }).title) : `${id.name} ${id.number}`,
    description: `${derived ? 'derived' : 'scan'} ${id.name} #${id.number} (session ${id.session})`,
    created: scan.created.toISOString(),
    end: typeof info.end_time === 'string' ? info.end_time : new Date().toISOString(),
    scanKey: scan.key,
    folder: typeof saving?.base_path === 'string' ? saving.base_path : files.length ? dirname(files[0].path) : '',
    metadata: { identity: { ...id }, streams, run: boundedMetadata(info) },
    sources: sourcePid ? [sourcePid] : [],
    files,
    size: files.reduce((n, f) => n + f.size, 0),
  };
}
