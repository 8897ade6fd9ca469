/**
 * What every daqlab side panel (DAQ, Jobs, Logbook) shares: a status line, its own connection to the
 * panels' server (panel.ts `panelServerAddress`), opened when the panel is first shown (no retry loop for
 * users who never open it), dropped and reopened when the settings or the server a widget used change,
 * and kept with back-off while the panel lives. A panel says only what it does with a connection
 * (`attach`) and what it drops when the connection goes (`detach`).
 */
import { Widget } from '@lumino/widgets';
import { DaqClient, frontendSettings, onServerUsed } from '@daqlab/widgets';
import { discoverServer } from './discover.js';
import { el, sleep } from './dom.js';

export type PanelState = 'idle' | 'ok' | 'error';

export interface PanelIdentity {
  id: string;
  /** the side-bar tab's label, hover caption and icon class */
  label: string;
  caption: string;
  iconClass: string;
  /** a class of its own beside `daqlab-panel` */
  className?: string;
}

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30000;

export abstract class ServerPanel extends Widget {
  protected readonly status = el('div', 'daqlab-panel-status');
  /** the live connection, null while there is none */
  protected client: DaqClient | null = null;
  private generation = 0;
  private started = false;

  /** `address` is read at each (re)connection: the settings may have changed in between. */
  constructor(who: PanelIdentity, private readonly address: () => string) {
    super();
    this.id = who.id;
    this.addClass('daqlab-panel');
    if (who.className) this.addClass(who.className);
    this.title.label = who.label;
    this.title.caption = who.caption;
    this.title.iconClass = who.iconClass;
    this.setStatus('not connected', 'idle');
    // a LiveImage that connected tells where the server is, unless the settings name it
    onServerUsed(() => {
      if (this.started && !frontendSettings.serverUrl) this.restart();
    });
  }

  /** The server's address as the status line shows it (no token). */
  protected shown = '';

  /**
   * The connection is up (the status line already says so): subscribe and load. A throw counts as a
   * failed connection (retried); a panel that can carry on without something says so itself.
   */
  protected abstract attach(client: DaqClient): Promise<void>;

  /** The connection is gone (lost, failed or replaced): drop what belonged to it. */
  protected detach(): void {}

  protected override onAfterShow(): void {
    if (!this.started) this.restart();
  }

  /** The settings changed (address, token): connect again if the panel is in use. */
  settingsChanged(): void {
    if (this.started) this.restart();
  }

  /** Drop the connection and connect again (the "reconnect" command). */
  reconnect(): void {
    this.restart();
  }

  protected setStatus(text: string, state: PanelState): void {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  private restart(): void {
    this.started = true;
    this.generation++;
    this.drop();
    void this.run(this.generation);
  }

  private drop(): void {
    this.client?.close();
    this.client = null;
    this.detach();
  }

  private async run(gen: number): Promise<void> {
    let delay = FIRST_RETRY_MS;
    await discoverServer(); // the Jupyter server may name the server's port (DAQLAB_PORT) before we guess
    const live = () => gen === this.generation && !this.isDisposed;
    while (live()) {
      const url = this.address();
      const shown = (this.shown = url.replace(/token=[^&]+/, 'token=…'));
      const client = new DaqClient(url);
      try {
        this.setStatus(`connecting to ${shown}`, 'idle');
        await client.connect();
        if (!live()) return client.close();
        const lost = new Promise<string>((resolve) => (client.onclose = resolve));
        this.client = client;
        this.setStatus(`connected to ${shown}`, 'ok');
        await this.attach(client);
        if (!live()) return;
        delay = FIRST_RETRY_MS;
        const reason = await lost;
        if (!live()) return;
        this.drop();
        this.setStatus(`lost ${shown} (${reason}); reconnecting…`, 'error');
      } catch (e) {
        client.close();
        if (!live()) return;
        this.drop();
        this.setStatus(`daqlab server unreachable at ${shown}: ${(e as Error).message}; retrying in ${delay / 1000} s`, 'error');
      }
      await sleep(delay);
      delay = Math.min(delay * 2, LAST_RETRY_MS);
    }
  }
}
