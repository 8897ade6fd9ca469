/** SimplonClient: a command's timeout may be any number of milliseconds (the trigger waits frames × frame_time + 60 s). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimplonClient } from '../../src/detectors/dectris/simplon.js';

test('a fractional timeout (frame_time 1/750 s) is waited for, not a RangeError', async () => {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const client = new SimplonClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.version = '1.8.0';
    // 20 images at 1/750 s + 60 s, as the dectris run computes it: 60026.67 ms
    assert.deepEqual(await client.command('trigger', 1000 * (20 * (1 / 750) + 60)), []);
  } finally {
    server.close();
  }
});
