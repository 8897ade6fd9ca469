/** files/: confinement to the data roots, bounded reading of client-named files, folders, deadlines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FS_TIMEOUT_MS, confine, fsLimits, loadClientFiles, makeFolder, readUserFile, withDeadline, stuckOperations } from '../../src/files/index.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'daqlab-files-')));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(root);
mkdirSync(outside);
writeFileSync(join(outside, 'secret.txt'), 'TOPSECRET-42\n');
writeFileSync(join(root, 'ok.txt'), 'hello');
symlinkSync(outside, join(root, 'escape'));
symlinkSync(join(outside, 'secret.txt'), join(root, 'secret-link'));
symlinkSync(join(outside, 'nothing-here'), join(root, 'dangling'));
test.after(() => rmSync(base, { recursive: true, force: true }));

const refusal = async (p: string): Promise<string> => {
  try {
    await confine(p, [root]);
  } catch (err) {
    return (err as Error).message.replace(p, '<path>');
  }
  return 'accepted';
};

test('confine: absolute paths under a root are accepted, with .. resolved', async () => {
  assert.equal(await confine(join(root, 'ok.txt'), [root]), join(root, 'ok.txt'));
  assert.equal(await confine(join(root, 'a', '..', 'ok.txt'), [root]), join(root, 'ok.txt'));
  assert.equal(await confine(join(root, 'new', 'deeper'), [root]), join(root, 'new', 'deeper'));
  assert.equal(await confine(root, [root]), root);
});

test('confine: relative, outside, escaping by .. or symlinks are refused, with one message whether the target exists or not', async () => {
  await assert.rejects(confine('ok.txt', [root]), /absolute/);
  await assert.rejects(confine('', [root]), /absolute/);
  const existing = await refusal(join(outside, 'secret.txt'));
  assert.match(existing, /outside the data roots/);
  for (const p of [
    join(outside, 'missing.txt'),
    join(root, '..', 'outside', 'secret.txt'),
    join(root, '..', '..', '..', 'etc'),
    join(root, 'escape', 'secret.txt'),
    join(root, 'escape', 'missing', 'deeper'),
    join(root, 'secret-link'),
    join(root, 'dangling'),
    join(root, 'dangling', 'sub'),
    `${root}-sibling/x`,
  ]) {
    assert.equal(await refusal(p), existing, p);
  }
});

test('readUserFile: a regular file is read; a FIFO, a folder, a device, a big file are refused at once', async () => {
  assert.equal(Buffer.from(await readUserFile(join(root, 'ok.txt'), { maxBytes: 100 })).toString(), 'hello');
  const fifo = join(root, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(root, 'big.bin');
  writeFileSync(big, '');
  truncateSync(big, 3 * 2 ** 30); // sparse: 3 GiB announced, nothing on disk
  const t0 = Date.now();
  await assert.rejects(readUserFile(fifo, { maxBytes: 100 }), /a FIFO, not a regular file/);
  await assert.rejects(readUserFile(root, { maxBytes: 100 }), /a folder, not a regular file/);
  await assert.rejects(readUserFile('/dev/zero', { maxBytes: 100 }), /a device, not a regular file/);
  await assert.rejects(readUserFile(big, { maxBytes: 1 << 20 }), /3 GiB, larger than the 1 MiB/);
  await assert.rejects(readUserFile(join(root, 'secret-link'), { maxBytes: 100 }), /symbolic link/);
  await assert.rejects(readUserFile(join(root, 'missing'), { maxBytes: 100 }), /no such file/);
  assert.ok(Date.now() - t0 < 1000, 'every refusal is prompt');
});

test('loadClientFiles: errors name the field and never quote the file', async () => {
  writeFileSync(join(root, 'secret.poni'), 'TOPSECRET-42\n');
  const { files, errors } = await loadClientFiles(
    {
      detector: { poni: join(root, 'ok.txt') },
      processing: { poni: join(outside, 'secret.txt'), mask_file: join(root, 'fifo'), dark_file: null, flat_file: 3 },
    },
    [root],
  );
  assert.deepEqual(Object.keys(files), [join(root, 'ok.txt')]);
  assert.deepEqual(errors.map((e) => e.field).sort(), ['processing.mask_file', 'processing.poni']);
  for (const e of errors) assert.doesNotMatch(e.message, /TOPSECRET/);
  // the text of a .poni file (several lines, the xpcs step takes it) is no path
  assert.deepEqual((await loadClientFiles({ processing: { poni: 'Distance: 1\nPoni1: 0\nPoni2: 0\n' } }, [root])).errors, []);
});

test('makeFolder: creates missing folders one by one, refuses files and unwritable places', async () => {
  await makeFolder(join(root, 'a', 'b', 'c'));
  assert.ok(existsSync(join(root, 'a', 'b', 'c')));
  await assert.rejects(makeFolder(join(root, 'ok.txt')), /exists and is not a folder/);
  await assert.rejects(makeFolder(join(root, 'ok.txt', 'sub')), /not a folder/);
  // /proc refuses new folders at once (Node's recursive mkdirSync loops forever there)
  const t0 = Date.now();
  await assert.rejects(makeFolder('/proc/nope/deeper'), /cannot be created/);
  assert.ok(Date.now() - t0 < 1000);
});

test('withDeadline: a hung operation times out naming what was attempted; while some are stuck new ones are refused', async () => {
  let release!: () => void;
  const hung = () => new Promise<void>((r) => (release = r));
  await assert.rejects(withDeadline(hung, 'creating the folder', 50), /creating the folder: the file system did not answer within 0.05 s/);
  const first = release;
  await assert.rejects(withDeadline(hung, 'opening the file', 50), /did not answer/);
  assert.equal(stuckOperations(), 2);
  await assert.rejects(withDeadline(async () => 1, 'checking', 50), /has not answered earlier requests/);
  first();
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(stuckOperations(), 0);
  assert.equal(await withDeadline(async () => 7, 'checking', 50), 7);
});

test('checkSavingTarget: a folder check that hangs inside a root times out, naming saving.base_path', async () => {
  const fsp = (await import('node:fs/promises')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const { checkSavingTarget } = await import('../../src/saving/params.js');
  const releases: (() => void)[] = [];
  const realMkdir = fsp.mkdir;
  fsp.mkdir = (() => new Promise<undefined>((r) => releases.push(() => r(undefined)))) as typeof fsp.mkdir;
  syncBuiltinESMExports();
  fsLimits.timeoutMs = 100;
  try {
    const p = { enabled: true, base_path: join(root, 'hung', 'folder'), file_exists_policy: 'abort' } as Parameters<typeof checkSavingTarget>[0];
    const t0 = Date.now();
    const { errors, folder } = await checkSavingTarget(p, 'x', 1, [root]);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(folder, null);
    assert.deepEqual(errors.map((e) => e.field), ['saving.base_path']);
    assert.match(errors[0].message, /creating the folder: the file system did not answer within 0.1 s/);
  } finally {
    fsp.mkdir = realMkdir;
    syncBuiltinESMExports();
    fsLimits.timeoutMs = FS_TIMEOUT_MS;
    for (const r of releases) r();
  }
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(stuckOperations(), 0);
  // and outside the roots nothing is touched at all
  const { errors } = await checkSavingTarget({ enabled: true, base_path: '/proc/nope', file_exists_policy: 'abort' } as Parameters<typeof checkSavingTarget>[0], 'x', 1, [root]);
  assert.match(errors[0].message, /outside the data roots/);
});

test('loadClientFiles: with the keys the schemas accept, other keys are not read at all', async () => {
  const { files, errors } = await loadClientFiles(
    { processing: { mask_file: join(root, 'ok.txt'), evil_file: join(root, 'fifo'), poni: join(root, 'fifo') } },
    [root],
    100,
    { processing: new Set(['mask_file']) },
  );
  assert.deepEqual(Object.keys(files), [join(root, 'ok.txt')]);
  assert.deepEqual(errors, []);
});
