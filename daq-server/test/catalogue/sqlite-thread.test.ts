/** catalogue/sqlite-thread.ts: SQLite's queries off the event loop, each bounded; a stuck call fails clearly and the next works. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ThreadedSqliteCatalogue } from '../../src/catalogue/sqlite-thread.js';
import { CatalogueTimeout } from '../../src/catalogue/repository.js';

const dir = mkdtempSync(join(tmpdir(), 'daqlab-sqlite-thread-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a write that waits on a locked database: the event loop keeps turning, the call fails at its bound, the next one works', async () => {
  const path = join(dir, 'c.sqlite');
  const repo = await ThreadedSqliteCatalogue.open(path, 500);
  try {
    await repo.putInstrument({ name: 'id11', title: 'ID11' });
    // another process's writer holds the lock (SQLite itself would wait up to 5 s for it, in the worker)
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    let longest = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      ticks++;
      longest = Math.max(longest, Date.now() - last);
      last = Date.now();
    }, 10);
    const t0 = Date.now();
    await assert.rejects(repo.putInstrument({ name: 'id13', title: 'ID13' }), (e: unknown) => e instanceof CatalogueTimeout && /did not answer putInstrument within 500 ms/.test((e as Error).message));
    const took = Date.now() - t0;
    clearInterval(timer);
    assert.ok(took >= 450 && took < 3000, `failed after ${took} ms`);
    assert.ok(ticks >= 10 && longest < 400, `the event loop turned ${ticks} times, the longest gap ${longest} ms`);
    // reads go on meanwhile (WAL), and once the lock is gone a fresh worker writes
    other.exec('ROLLBACK');
    other.close();
    await repo.putInstrument({ name: 'id13', title: 'ID13' });
    assert.deepEqual((await repo.instruments()).map((i) => i.name), ['id11', 'id13']);
  } finally {
    await repo.close();
  }
});

test('a database of a newer schema is refused at open, through the worker, with the engine\'s message', async () => {
  const path = join(dir, 'newer.sqlite');
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  await assert.rejects(ThreadedSqliteCatalogue.open(path), /schema version 99 is newer/);
});
