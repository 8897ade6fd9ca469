/**
 * Can a job's user run the programs a template names? The server (root) can,
 * but a job runs as its user: an interpreter under a private folder (a venv
 * made from a Python in /root) fails only inside the job, as "Permission
 * denied" in its stderr. Checked at submission instead, from the mode bits of
 * the path and of the file it resolves to (supplementary groups are not known
 * here: a group bit the user might have through one is given the benefit of the doubt).
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JobUser } from './types.js';

function allows(path: string, as: JobUser, bit: number): boolean {
  let st;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  if (as.uid === 0) return true;
  if (st.uid === as.uid) return (st.mode & (bit << 6)) !== 0;
  if (st.mode & bit) return true;
  return (st.mode & (bit << 3)) !== 0; // a group bit: the user's primary or (maybe) a supplementary group
}

/** The first folder or file on the way to `path` that `as` cannot pass or execute, or null when none. */
export function blockedFor(path: string, as: JobUser): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return path;
  }
  for (const p of [path, real]) {
    for (let d = dirname(p); ; d = dirname(d)) {
      if (!allows(d, as, 0o1)) return d;
      if (d === dirname(d)) break;
    }
  }
  return allows(real, as, 0o1) ? null : real;
}
