/** Start the LIMA2 conductor APIs a server's configuration asks for (--lima2), on its host and with its token. */
import type { ServerConfig } from '../../config.js';
import type { DaqService } from '../../service.js';
import { log } from '../../log.js';
import { listenLima2, type Lima2Running } from './server.js';
import { parseLima2Spec } from './spec.js';

export async function startLima2(service: DaqService, cfg: ServerConfig): Promise<Lima2Running[]> {
  const started: Lima2Running[] = [];
  try {
    for (const spec of cfg.lima2) {
      const { detector, port } = parseLima2Spec(spec);
      service.detector(detector); // unknown names fail here, listing the known ones
      const l = await listenLima2(service, { detector, host: cfg.host, port, token: cfg.token, allowOrigins: cfg.allowOrigins });
      started.push(l);
      // announced before the server's own line, which tests and scripts wait for
      log('info', `LIMA2 conductor for ${detector} listening on ${l.url}`);
    }
  } catch (err) {
    await Promise.all(started.map((l) => l.close()));
    throw err;
  }
  return started;
}
