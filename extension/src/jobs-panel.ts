/**
 * The "Jobs" side panel: the jobs board (@daqlab/widgets' JobsBoard: the user's
 * Slurm jobs live, their output, cancel / hold / release, a submit form) on its
 * own connection to the DAQ panel's server (panel-base.ts). A server without a
 * cluster says so.
 */
import { DaqClient, JobsBoard } from '@daqlab/widgets';
import { panelServerAddress } from './panel.js';
import { ServerPanel } from './panel-base.js';
import { el } from './dom.js';

export class JobsPanel extends ServerPanel {
  private board = new JobsBoard();

  constructor() {
    super(
      { id: 'daqlab-jobs-panel', className: 'daqlab-jobs-panel', label: 'Jobs', caption: 'daqlab: analysis jobs on the Slurm cluster', iconClass: 'daqlab-jobs-icon' },
      panelServerAddress,
    );
    this.node.append(el('h3', '', 'Jobs'), this.status, this.board.node);
  }

  protected async attach(client: DaqClient): Promise<void> {
    await this.board.attach(client);
  }

  protected override detach(): void {
    this.board.detach();
  }
}
