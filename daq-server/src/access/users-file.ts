/**
 * The `--users` file, read once for every service that needs to know who a token stands for (jobs,
 * catalogue, SciCat): `{"tokens": {"<token>": {"user": "alice", "staff": false, ...}}}`. Besides the
 * jobs' fields an entry may carry `beamlines` (staff of these beamlines; `staff: true` without it:
 * staff of every beamline), `proposals` (member of these), `automation: true` (software that writes
 * datasets and logbook entries) and `password_sha256` (hex; SciCat's `auth/login`).
 */
import { readFileSync } from 'node:fs';

export interface UserEntry {
  user: string;
  staff: boolean;
  beamlines: string[];
  proposals: string[];
  automation: boolean;
  passwordSha256: string | null;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function names(path: string, value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && NAME_RE.test(v))) {
    throw new Error(`--users ${path}: "${field}" must be a list of names (letters, digits, . _ -)`);
  }
  return value as string[];
}

export function readUsersFile(path: string): Map<string, UserEntry> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`--users ${path}: ${(err as Error).message}`);
  }
  const tokens = (raw as { tokens?: unknown })?.tokens;
  if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) {
    throw new Error(`--users ${path}: expected {"tokens": {"<token>": {"user": "name", "staff": false}}}`);
  }
  const out = new Map<string, UserEntry>();
  for (const [token, e] of Object.entries(tokens as Record<string, Record<string, unknown> | null>)) {
    if (token.length < 8) throw new Error(`--users ${path}: tokens must have at least 8 characters`);
    if (typeof e?.user !== 'string' || !NAME_RE.test(e.user)) throw new Error(`--users ${path}: token entry needs "user": a unix user name`);
    const hash = e.password_sha256;
    if (hash !== undefined && (typeof hash !== 'string' || !/^[0-9a-f]{64}$/i.test(hash))) {
      throw new Error(`--users ${path}: "password_sha256" of ${e.user} must be 64 hex digits`);
    }
    out.set(token, {
      user: e.user,
      staff: e.staff === true,
      beamlines: names(path, e.beamlines, 'beamlines'),
      proposals: names(path, e.proposals, 'proposals'),
      automation: e.automation === true,
      passwordSha256: typeof hash === 'string' ? hash.toLowerCase() : null,
    });
  }
  return out;
}
