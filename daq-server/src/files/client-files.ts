/**
 * The files a `prepare` names: `poni` (a path when it is one line; several
 * lines are the text of a .poni file, which the xpcs step accepts) and every
 * `*_file` parameter, in the `detector` and `processing` sections. They are
 * confined to the data roots and read once, asynchronously and bounded,
 * before anything else uses them; detectors and steps then get the bytes
 * (`ClientFiles`, keyed by the path as the client wrote it) instead of
 * reading paths themselves, in the main thread and in worker threads alike.
 */
import type { FieldError } from '../protocol/index.js';
import { confine } from './roots.js';
import { readUserFile } from './read-user-file.js';

/** Client-named files by the path as written in the request; the bytes may be shared memory. */
export type ClientFiles = Readonly<Record<string, Uint8Array>>;

/**
 * A .poni file is a few hundred bytes. A map is at most what the detector could use: 6 gain stages of
 * float64 per pixel (Jungfrau gains), plus a header; MAX_MAP_BYTES caps it whatever the detector.
 */
export const MAX_PONI_BYTES = 1 << 20;
export const MAX_MAP_BYTES = 512 << 20;
export const mapBytesFor = (pixels: number): number => Math.min(MAX_MAP_BYTES, 6 * 8 * pixels + (1 << 20));

export interface FileRef {
  /** dotted field, e.g. `processing.mask_file` */
  field: string;
  path: string;
  maxBytes: number;
}

const SECTIONS = ['detector', 'processing'] as const;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A `poni` string names a file when it is a single line (the text of a .poni file has several). */
export const isPoniPath = (v: unknown): v is string => typeof v === 'string' && !v.includes('\n');

/** The parameters each section accepts (its schema's properties): only those files are read. */
export type KnownKeys = Partial<Record<(typeof SECTIONS)[number], ReadonlySet<string>>>;

/**
 * The file parameters of a raw prepare request (values that are not strings are left to validation).
 * With `known`, keys a section does not accept are skipped: validation refuses them, unread.
 */
export function fileRefs(raw: unknown, maxMapBytes = MAX_MAP_BYTES, known?: KnownKeys): FileRef[] {
  const out: FileRef[] = [];
  if (!isObj(raw)) return out;
  for (const s of SECTIONS) {
    const section = raw[s];
    if (!isObj(section)) continue;
    for (const [key, value] of Object.entries(section)) {
      if (known?.[s] && !known[s].has(key)) continue;
      if (key === 'poni' && isPoniPath(value)) out.push({ field: `${s}.${key}`, path: value, maxBytes: MAX_PONI_BYTES });
      else if (key.endsWith('_file') && typeof value === 'string') out.push({ field: `${s}.${key}`, path: value, maxBytes: maxMapBytes });
    }
  }
  return out;
}

/** Confine and read one file; the message of a failure is for the field. */
export async function loadFile(path: string, roots: readonly string[], maxBytes: number): Promise<Uint8Array> {
  const real = await confine(path, roots);
  return readUserFile(real, { maxBytes });
}

/**
 * Confine and read every file a prepare names, in parallel. Errors name the
 * field and say what is wrong (never what the file holds).
 */
export async function loadClientFiles(
  raw: unknown,
  roots: readonly string[],
  maxMapBytes = MAX_MAP_BYTES,
  known?: KnownKeys,
): Promise<{ files: Record<string, Uint8Array>; errors: FieldError[] }> {
  const refs = fileRefs(raw, maxMapBytes, known);
  const files: Record<string, Uint8Array> = {};
  const errors: FieldError[] = [];
  const reads = new Map<string, Promise<Uint8Array>>();
  await Promise.all(
    refs.map(async (ref) => {
      const key = `${ref.maxBytes}\0${ref.path}`;
      let read = reads.get(key);
      if (!read) reads.set(key, (read = loadFile(ref.path, roots, ref.maxBytes)));
      try {
        files[ref.path] = await read;
      } catch (err) {
        errors.push({ field: ref.field, message: message(ref.path, err) });
      }
    }),
  );
  return { files, errors };
}

const message = (path: string, err: unknown): string => {
  const m = (err as Error).message;
  // path errors already name the path (or say it must be one); file errors say what the file is
  return (err as Error).name === 'PathError' ? m : `${path}: ${m}`;
};

/** The text of a client file (UTF-8). */
export const fileText = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
