/**
 * The reference for streaming: raw `ws` throughput of 8 MiB binary messages
 * between two processes on loopback. `node raw_ws.js serve N` blasts N
 * messages to each client that connects and prints its port;
 * `node raw_ws.js recv PORT` receives them and prints GB/s.
 */
import { WebSocket, WebSocketServer } from 'ws';

const MESSAGE = 8 * 1024 * 1024 - 4096;
const [mode, arg] = process.argv.slice(2);

if (mode === 'serve') {
  const count = Number(arg ?? 400);
  const payload = new Uint8Array(MESSAGE).fill(7);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('listening', () => console.log(JSON.stringify({ port: (wss.address() as { port: number }).port })));
  wss.on('connection', (ws) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < count && ws.bufferedAmount < 64 * 1024 * 1024) {
        ws.send(payload, { binary: true });
        sent++;
      }
      if (sent < count) setTimeout(pump, 1);
      else ws.send('done');
    };
    pump();
  });
} else if (mode === 'recv') {
  const ws = new WebSocket(`ws://127.0.0.1:${arg}`, { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  let bytes = 0;
  let t0 = 0;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const s = (performance.now() - t0) / 1000;
      console.log(JSON.stringify({ bytes, seconds: s, gb_s: bytes / s / 1e9 }));
      ws.close();
      return;
    }
    if (!t0) t0 = performance.now();
    bytes += (data as Buffer).length;
  });
} else {
  console.error('usage: raw_ws.js serve N | recv PORT');
  process.exit(2);
}
