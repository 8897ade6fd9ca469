/**
 * How the viewer (h5web) reaches the h5grove endpoint: the URL under a Jupyter base URL, the
 * token and query h5web's fetcher sends, and a refusal's reason kept for h5web to show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROVE_PREFIX, GroveFetchError, groveUrl, jupyterFetcher } from '../src/h5viewer/fetcher.js';

test('the h5grove URL sits under the Jupyter base URL, without a trailing slash', () => {
  assert.equal(groveUrl('/jl/'), '/jl/daqlab/h5grove');
  assert.equal(groveUrl('http://host:8888/'), 'http://host:8888/daqlab/h5grove');
  assert.equal(GROVE_PREFIX, 'daqlab/h5grove');
});

test('the fetcher sends the token and the parameters, and returns the body', async () => {
  const seen: { url: string; init: RequestInit }[] = [];
  const fake = (async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    return new Response(new Uint8Array([1, 2, 3]), { status: 200 });
  }) as unknown as typeof fetch;
  const body = await jupyterFetcher('secret', fake)('/jl/daqlab/h5grove/data', { file: 'scan/a b.h5', path: '/entry/data', selection: '0,:,:' });
  assert.deepEqual([...new Uint8Array(body)], [1, 2, 3]);
  const url = new URL(seen[0].url, 'http://x');
  assert.equal(url.pathname, '/jl/daqlab/h5grove/data');
  assert.equal(url.searchParams.get('file'), 'scan/a b.h5');
  assert.equal(url.searchParams.get('selection'), '0,:,:');
  assert.deepEqual(seen[0].init.headers, { Authorization: 'token secret' });
  // no token (cookie login): no Authorization header
  await jupyterFetcher('', fake)('/u', {});
  assert.deepEqual(seen[1].init.headers, {});
});

test("a refusal keeps the server's reason and the body h5web reads", async () => {
  const fake = (async () =>
    new Response(JSON.stringify({ message: "file: '../x.h5' is outside the Jupyter root directory", status: 403 }), { status: 403 })) as unknown as typeof fetch;
  await assert.rejects(jupyterFetcher('', fake)('/u', { file: '../x.h5' }), (e: unknown) => {
    assert.ok(e instanceof GroveFetchError);
    assert.equal(e.status, 403);
    assert.match(e.message, /outside the Jupyter root/);
    assert.ok(e.buffer.byteLength > 0);
    return true;
  });
});

test('a saved master is opened by its path under the Jupyter root, never outside it', async () => {
  const { underRoot } = await import('../src/h5viewer/open.js');
  assert.equal(underRoot('/data/lab/scan/x_master.h5', '/data/lab'), 'scan/x_master.h5');
  assert.equal(underRoot('/data/lab/scan/x_master.h5', '/data/lab/'), 'scan/x_master.h5');
  assert.equal(underRoot('/data/lab2/x.h5', '/data/lab'), null); // a sibling with the same prefix
  assert.equal(underRoot('/data/lab/../etc/x.h5', '/data/lab'), null);
  assert.equal(underRoot('/x.h5', '/'), 'x.h5');
  assert.equal(underRoot('relative.h5', '/data'), null);
});
