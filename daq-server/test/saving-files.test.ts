import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createH5, writeWhole } from '../src/saving/files.js';

const dir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'svf-'));
const put = (text: string) => (tmp: string): void => fs.writeFileSync(tmp, text, { flag: 'wx' });
const leftovers = (d: string): string[] => fs.readdirSync(d).filter((n) => n.endsWith('.tmp'));

test('writeWhole: a new file appears whole; our own file is replaced; a foreign one only with overwrite', () => {
  const d = dir();
  const p = path.join(d, 'm.h5');
  const id = writeWhole(p, 'abort', null, put('one'));
  assert.equal(fs.readFileSync(p, 'utf8'), 'one');
  writeWhole(p, 'abort', id, put('two')); // ours: replaced
  assert.equal(fs.readFileSync(p, 'utf8'), 'two');
  fs.rmSync(p);
  fs.writeFileSync(p, 'foreign');
  assert.throws(() => writeWhole(p, 'abort', id, put('three')), (e: NodeJS.ErrnoException) => e.code === 'EEXIST' && e.message.includes(p));
  assert.equal(fs.readFileSync(p, 'utf8'), 'foreign');
  writeWhole(p, 'overwrite', id, put('four'));
  assert.equal(fs.readFileSync(p, 'utf8'), 'four');
  assert.deepEqual(leftovers(d), []);
});

test('writeWhole and createH5 never write through a symlink', () => {
  const d = dir();
  const victim = path.join(d, 'victim.txt');
  fs.writeFileSync(victim, 'victim');
  for (const name of ['a_master.h5', 'a_0_00000.h5']) {
    const p = path.join(d, name);
    fs.symlinkSync(victim, p);
    const write = (): unknown => (name.includes('master') ? writeWhole(p, 'abort', null, put('x')) : createH5(p, 'abort'));
    assert.throws(write, /file_exists_policy "abort"/);
    assert.ok(fs.lstatSync(p).isSymbolicLink());
    if (name.includes('master')) writeWhole(p, 'overwrite', null, put('x'));
    else createH5(p, 'overwrite').close();
    assert.ok(!fs.lstatSync(p).isSymbolicLink());
    assert.equal(fs.readFileSync(victim, 'utf8'), 'victim');
  }
  assert.deepEqual(leftovers(d), []);
});

test('writeWhole: a failed write leaves the file as it was and no temporary', () => {
  const d = dir();
  const p = path.join(d, 'm.h5');
  const id = writeWhole(p, 'abort', null, put('good'));
  assert.throws(() => writeWhole(p, 'abort', id, (tmp) => {
    fs.writeFileSync(tmp, 'half', { flag: 'wx' });
    throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  }), /ENOSPC/);
  assert.equal(fs.readFileSync(p, 'utf8'), 'good');
  assert.deepEqual(leftovers(d), []);
});
