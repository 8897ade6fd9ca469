/**
 * The e-logbook's queries on a large logbook: N entries (default 1 000 000) over P investigations
 * (default 1 000), each of ~12 words from a 5 000-word vocabulary (Zipf-like), some tagged, in one SQLite
 * file. p50/p99 latency of `SqliteLogbook.search` (what `logbook.search` runs: the query plus turning rows
 * into entries) beside the bare SQL of the same rows in the same run, for: one investigation's newest 100,
 * a text search over one investigation, a text search everywhere, tag + category in one investigation.
 * Target (issue 19): p99 < 50 ms for a text search over one investigation's logbook.
 *
 *   node bench/dist/logbook.js [--entries 1000000] [--proposals 1000] [--queries 200] [--dir /dev/shm]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as LogbookModule from '../daq-server/dist/src/logbook/index.js';
import type * as ContentModule from '../daq-server/dist/src/logbook/content.js';

const DIST = new URL('../../daq-server/dist/', import.meta.url);
const { SqliteLogbook } = (await import(new URL('src/logbook/index.js', DIST).href)) as typeof LogbookModule;
const { render } = (await import(new URL('src/logbook/content.js', DIST).href)) as typeof ContentModule;

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number | string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : String(fallback);
};
const N = Number(opt('entries', 1_000_000));
const P = Number(opt('proposals', 1000));
const Q = Number(opt('queries', 200));
const dir = mkdtempSync(join(opt('dir', '/dev/shm'), 'daqlab-logbook-bench-'));

let seed = 12345;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
const word = (): string => VOCAB[Math.floor(VOCAB.length * rand() ** 3)]; // low ranks common
const CATS = ['info', 'error', 'debug', 'commandline', 'comment'] as const;

const repo = new SqliteLogbook(join(dir, 'logbook.sqlite'));
const t0 = performance.now();
const BATCH = 10_000;
for (let done = 0; done < N; done += BATCH) {
  repo.bulk(() => {
    for (let i = done; i < Math.min(N, done + BATCH); i++) {
      const text = Array.from({ length: 12 }, word).join(' ');
      repo.add({
        type: i % 3 ? 'notification' : 'annotation',
        category: CATS[i % CATS.length],
        tags: i % 7 === 0 ? ['alignment'] : [],
        format: 'plainText',
        ...render('plainText', text),
        author: 'bench',
        software: null,
        machine: null,
        links: { proposal: `p${i % P}`, beamline: 'id00' },
        attachments: [],
        created: new Date(Date.UTC(2026, 0, 1) + i * 1000),
      });
    }
  });
}
const fillS = (performance.now() - t0) / 1000;

function percentiles(fn: (k: number) => unknown): { p50: number; p99: number; rows: number } {
  const ms: number[] = [];
  let rows = 0;
  for (let k = 0; k < Q; k++) {
    const s = performance.now();
    const r = fn(k) as unknown[];
    ms.push(performance.now() - s);
    rows += r.length;
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(Q * 0.5)], p99: ms[Math.min(Q - 1, Math.floor(Q * 0.99))], rows: rows / Q };
}

const db = repo.raw;
const prop = (k: number): string => `p${(k * 37) % P}`;
const w = (k: number): string => VOCAB[20 + (k % 200)]; // fairly common words
const bare = {
  latest: db.prepare('SELECT * FROM entries WHERE proposal = ? ORDER BY id DESC LIMIT 100'),
  textIn: db.prepare('SELECT e.* FROM entries e WHERE e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?) AND e.proposal = ? ORDER BY e.id DESC LIMIT 100'),
  text: db.prepare('SELECT e.* FROM entries e WHERE e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?) ORDER BY e.id DESC LIMIT 100'),
  tagCat: db.prepare("SELECT e.* FROM entries e WHERE e.id IN (SELECT entry FROM entry_tags WHERE tag = ?) AND e.category IN (?) AND e.proposal = ? ORDER BY e.id DESC LIMIT 100"),
};
const cases: [string, (k: number) => unknown, (k: number) => unknown][] = [
  ['one investigation, newest 100', (k) => repo.search({ links: { proposal: prop(k) }, limit: 100 }), (k) => bare.latest.all(prop(k))],
  ['text in one investigation', (k) => repo.search({ text: w(k), links: { proposal: prop(k) }, limit: 100 }), (k) => bare.textIn.all(`"${w(k)}"`, prop(k))],
  ['text everywhere, newest 100', (k) => repo.search({ text: w(k), limit: 100 }), (k) => bare.text.all(`"${w(k)}"`)],
  ['tag + category in one investigation', (k) => repo.search({ tags: ['alignment'], categories: ['info'], links: { proposal: prop(k) }, limit: 100 }), (k) => bare.tagCat.all('alignment', 'info', prop(k))],
];
console.log(`logbook: ${N} entries over ${P} investigations, filled in ${fillS.toFixed(1)} s (${Math.round(N / fillS)} entries/s); ${Q} queries each`);
console.log('query'.padEnd(38), 'search p50/p99 ms'.padEnd(20), 'bare SQL p50/p99 ms'.padEnd(22), 'rows');
for (const [name, ours, ref] of cases) {
  const a = percentiles(ours);
  const b = percentiles(ref);
  console.log(name.padEnd(38), `${a.p50.toFixed(2)} / ${a.p99.toFixed(2)}`.padEnd(20), `${b.p50.toFixed(2)} / ${b.p99.toFixed(2)}`.padEnd(22), a.rows.toFixed(0));
}
repo.close();
rmSync(dir, { recursive: true, force: true });
