/**
 * The "Jobs" side panel: the jobs board (@daqlab/widgets' JobsBoard: the user's
 * Slurm jobs live, their output, cancel / hold / release, a submit form) on its
 * own connection to the DAQ panel's server, reconnecting with back-off. A
 * server without a cluster says so.
 */
import { Widget } from '@lumino/widgets';
import { DaqClient, JobsBoard, onServerUsed } from '@daqlab/widgets';
import { panelServerAddress } from './panel.js';
import { discoverServer } from './discover.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class JobsPanel extends Widget {
  private status = document.createElement('div');
  private board = new JobsBoard();
  private client: DaqClient | null = null;
  private generation = 0;
  private started = false;

  constructor() {
    super();
    this.id = 'daqlab-jobs-panel';
    this.addClass('daqlab-panel');
    this.addClass('daqlab-jobs-panel');
    this.title.label = 'Jobs';
    this.title.caption = 'daqlab: analysis jobs on the Slurm cluster';
    this.title.iconClass = 'daqlab-jobs-icon';
    this.status.className = 'daqlab-panel-status';
    const title = document.createElement('h3');
    title.textContent = 'Jobs';
    this.node.append(title, this.status, this.board.node);
    this.setStatus('not connected', 'idle');
    onServerUsed(() => {
      if (this.started) this.restart();
    });
  }

  /** Connect on first show, not at page load. */
  protected override onAfterShow(): void {
    if (!this.started) this.restart();
  }

  settingsChanged(): void {
    if (this.started) this.restart();
  }

  private setStatus(text: string, state: 'idle' | 'ok' | 'error'): void {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  private restart(): void {
    this.started = true;
    this.generation++;
    this.client?.close();
    this.client = null;
    this.board.detach();
    void this.run(this.generation);
  }

  private async run(gen: number): Promise<void> {
    let delay = 1000;
    await discoverServer(); // the server's port as the Jupyter server knows it (discover.ts)
    while (gen === this.generation && !this.isDisposed) {
      const url = panelServerAddress();
      const shown = url.replace(/token=[^&]+/, 'token=…');
      const client = new DaqClient(url);
      try {
        this.setStatus(`connecting to ${shown}`, 'idle');
        await client.connect();
        if (gen !== this.generation) return client.close();
        const lost = new Promise<string>((resolve) => (client.onclose = resolve));
        this.client = client;
        this.setStatus(`connected to ${shown}`, 'ok');
        await this.board.attach(client);
        delay = 1000;
        const reason = await lost;
        if (gen !== this.generation) return;
        this.client = null;
        this.board.detach();
        this.setStatus(`lost ${shown} (${reason}); reconnecting…`, 'error');
      } catch (e) {
        client.close();
        if (gen !== this.generation) return;
        this.client = null;
        this.board.detach();
        this.setStatus(`daqlab server unreachable at ${shown}: ${(e as Error).message}; retrying in ${delay / 1000} s`, 'error');
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  }
}
