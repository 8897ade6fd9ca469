/**
 * How every view stays connected to the daqlab server: the address (settings
 * first, then the widget's own), then connect → `hello` → attach → wait until
 * lost, saying what happened and retrying with back-off while the view lives.
 */
import { PageConfig } from '@jupyterlab/coreutils';
import { DaqClient, resolveServerUrl } from './client.js';
import { frontendSettings, noteServerUsed } from './settings.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The WebSocket address of the server for a widget model with `server_url` and `token`. */
export function serverAddress(model: { get(name: string): unknown }): { url: string; token: string } {
  const configured = frontendSettings.serverUrl || (model.get('server_url') as string);
  const token = frontendSettings.token || (model.get('token') as string);
  return { url: resolveServerUrl(configured, window.location.href, PageConfig.getBaseUrl(), token), token };
}

export interface KeepConnected {
  address: () => { url: string; token: string };
  /** false once the view is removed or restarted: the loop ends */
  alive: () => boolean;
  status: (text: string) => void;
  message: (text: string) => void;
  /** the server answered `hello`: take the client and subscribe */
  attach: (client: DaqClient) => Promise<void>;
  /** the connection was lost: drop what belonged to it */
  detach: () => void;
  timeoutMs?: number;
}

export async function keepConnected(o: KeepConnected): Promise<void> {
  let delay = 1000;
  while (o.alive()) {
    const { url, token } = o.address();
    const shown = url.replace(/token=[^&]+/, 'token=…');
    const client = new DaqClient(url, o.timeoutMs ? { timeoutMs: o.timeoutMs } : {});
    try {
      o.status('connecting');
      await client.connect();
      const lost = new Promise<string>((resolve) => (client.onclose = resolve));
      // a proxy accepts the WebSocket even when nothing listens behind it: only a hello proves the server is there
      await client.request('hello');
      if (!o.alive()) return client.close();
      noteServerUsed(url, token);
      await o.attach(client);
      delay = 1000;
      const reason = await lost;
      if (!o.alive()) return;
      o.detach();
      o.status('disconnected');
      o.message(`lost the daqlab server at ${shown} (${reason}) — reconnecting…`);
    } catch (e) {
      client.close();
      if (!o.alive()) return;
      o.detach();
      o.status('unreachable');
      o.message(
        `daqlab server unreachable at ${shown}: ${(e as Error).message}. ` +
          `Is daqlab-server running (npm start), and jupyter-server-proxy installed? Retrying in ${delay / 1000} s…`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 10000);
  }
}
