import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logbook, SqliteLogbook } from '../../src/logbook/index.js';
import { cleanHtml } from '../../src/logbook/content.js';
import { DaqError, LOGBOOK_MAX_ATTACHMENT_BYTES } from '../../src/protocol/index.js';

const authors = { authorOf: (t: string | null) => (t === 'tok-alice' ? 'alice' : 'daqlab-user') };
const fresh = (path = ':memory:'): Logbook => new Logbook(new SqliteLogbook(path), authors);

function isParamError(field: string): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof DaqError, String(err));
    assert.equal(err.type, 'ParameterError');
    assert.ok(err.fields?.some((f) => f.field === field), `${field} not named in ${JSON.stringify(err.fields)}`);
    return true;
  };
}

function paramError(fn: () => unknown, field: string): void {
  assert.throws(fn, isParamError(field));
}

/** search and stats are asynchronous (their scope comes from the catalogue) */
async function paramErrorAsync(fn: () => Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(fn, isParamError(field));
}

test('HTML is sanitised: scripts, handlers, javascript: URLs and styles go, formatting stays', async () => {
  const dirty =
    '<p onclick="steal()">beam <b>on</b><script>alert(1)</script></p><a href="javascript:alert(2)">x</a>' +
    '<img src="x" onerror="alert(3)"><iframe src="https://evil"></iframe><style>body{}</style>' +
    '<a href="https://esrf.fr" target="_blank">ok</a><img src="data:image/png;base64,AAAA"><svg onload="alert(4)"></svg>';
  const clean = cleanHtml(dirty);
  for (const bad of ['script', 'onclick', 'onerror', 'javascript:', 'iframe', 'style', 'onload', 'alert']) {
    assert.ok(!clean.toLowerCase().includes(bad), `${bad} survived in ${clean}`);
  }
  assert.match(clean, /<b>on<\/b>/);
  assert.match(clean, /href="https:\/\/esrf.fr"/);
  assert.match(clean, /src="data:image\/png;base64,AAAA"/);
  const lb = fresh();
  const e = lb.add({ content: '<p>scan <script>x()</script><em>fine</em></p>', format: 'html' }, 'alice');
  assert.equal(e.content, e.html);
  assert.ok(!e.html.includes('script'));
  assert.equal(e.text, 'scan fine');
  const md = lb.add({ content: '# Title\n\n**bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)>', format: 'markdown' }, 'alice');
  assert.match(md.html, /<h1>Title<\/h1>/);
  assert.match(md.html, /<strong>bold<\/strong>/);
  assert.ok(!/javascript|onerror/.test(md.html), md.html);
  const plain = lb.add({ content: '<b>not html</b>' }, 'alice');
  assert.equal(plain.html, '<p>&lt;b&gt;not html&lt;/b&gt;</p>');
});

test('entries are sequential, edits are new versions, nothing is lost', async () => {
  const lb = fresh();
  const seen: number[] = [];
  lb.onEntry((e) => seen.push(e.id));
  const a = lb.add({ content: 'first', tags: ['alignment'], proposal: 'mx1234' }, 'alice');
  const b = lb.add({ content: 'second', category: 'info', type: 'notification' }, 'daqlab');
  assert.equal(b.id, a.id + 1);
  assert.equal(a.version, 1);
  assert.equal(a.type, 'annotation');
  assert.equal(a.category, 'comment');
  const e2 = lb.edit({ entry: a.id, content: 'first, corrected', tags: ['alignment', 'fixed'] }, 'bob');
  assert.equal(e2.version, 2);
  assert.equal(e2.author, 'bob');
  assert.equal(e2.created, a.created);
  assert.deepEqual(lb.versions(a.id).map((v) => [v.version, v.content, v.author]), [
    [1, 'first', 'alice'],
    [2, 'first, corrected', 'bob'],
  ]);
  assert.deepEqual(seen, [a.id, b.id, a.id]);
  assert.equal((await lb.search({ text: 'corrected' })).length, 1);
  assert.equal((await lb.search({ text: 'first' }))[0].version, 2);
  assert.throws(() => lb.edit({ entry: 999, content: 'x' }, 'bob'), /no logbook entry 999/);
});

test('search by text, tag, category, type, link and time range; stats per investigation', async () => {
  const lb = fresh();
  lb.add({ content: 'Lysozyme crystal centred', tags: ['sample'], proposal: 'mx1' }, 'alice');
  lb.add({ content: 'beam lost', category: 'error', type: 'notification', proposal: 'mx1' }, 'daqlab');
  lb.add({ content: 'lysozyme again', tags: ['sample', 'retry'], proposal: 'mx2', created: '2020-01-01T00:00:00Z' }, 'bob');
  assert.deepEqual((await lb.search({ text: 'LYSOZYME' })).map((e) => e.proposal).sort(), ['mx1', 'mx2']);
  assert.equal((await lb.search({ text: 'lysozyme', proposal: 'mx1' })).length, 1);
  assert.equal((await lb.search({ tags: ['sample', 'retry'] })).length, 1);
  assert.equal((await lb.search({ category: 'error' }))[0].text, 'beam lost');
  assert.equal((await lb.search({ category: ['error', 'comment'] })).length, 3);
  assert.equal((await lb.search({ type: 'notification' })).length, 1);
  assert.equal((await lb.search({ since: '2021-01-01T00:00:00Z' })).length, 2);
  assert.equal((await lb.search({ until: '2021-01-01T00:00:00Z' })).length, 1);
  assert.equal((await lb.search({ text: '"); DROP TABLE entries; --' })).length, 0); // FTS syntax is quoted away
  assert.equal((await lb.search({ limit: 1 })).length, 1);
  const s = (await lb.stats('mx1'));
  assert.equal(s.entries, 2);
  assert.deepEqual(s.by_category, { comment: 1, error: 1 });
  assert.deepEqual(s.by_type, { annotation: 1, notification: 1 });
  assert.deepEqual(s.tags, { sample: 1 });
  assert.equal((await lb.stats(null)).entries, 3);
});

test('bad input is refused naming the field: unknown type/category/format, oversized attachment, bad tags', async () => {
  const lb = fresh();
  paramError(() => lb.add({ content: 'x', category: 'gossip' }, 'a'), 'category');
  paramError(() => lb.add({ content: 'x', type: 'broadcast' }, 'a'), 'type');
  paramError(() => lb.add({ content: 'x', format: 'rtf' }, 'a'), 'format');
  paramError(() => lb.add({ content: 42 }, 'a'), 'content');
  paramError(() => lb.add({ content: 'x', tags: [''] }, 'a'), 'tags[0]');
  await paramErrorAsync(() => lb.search({ limit: 100000 }), 'limit');
  await paramErrorAsync(() => lb.search({ since: 'yesterday-ish' }), 'since');
  const big = Buffer.alloc(LOGBOOK_MAX_ATTACHMENT_BYTES + 3).toString('base64');
  assert.throws(
    () => lb.add({ content: 'x', attachments: [{ name: 'big.bin', base64: big }] }, 'a'),
    (err: DaqError) => err.type === 'ParameterError' && err.message.includes(String(LOGBOOK_MAX_ATTACHMENT_BYTES)) && err.fields![0].field === 'attachments[0]',
  );
  paramError(() => lb.add({ content: 'x', attachments: [{ name: 'a', base64: 'not base64!' }] }, 'a'), 'attachments[0].base64');
  assert.equal((await lb.search({})).length, 0);
});

test('attachments are kept and read back; the logbook persists in its file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-logbook-'));
  try {
    const path = join(dir, 'logbook.sqlite');
    let lb = fresh(path);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const e = lb.add({ content: 'a plot', attachments: [{ name: 'plot.png', base64: `data:image/png;base64,${png.toString('base64')}` }] }, 'alice');
    assert.deepEqual(e.attachments.map((a) => [a.name, a.mime, a.size]), [['plot.png', 'image/png', 7]]);
    lb.close();
    lb = fresh(path);
    const a = lb.attachment(e.attachments[0].id);
    assert.deepEqual(a.data, png);
    assert.equal(lb.get(e.id).text, 'a plot');
    assert.equal((await lb.stats(null)).attachment_bytes, 7);
    lb.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
