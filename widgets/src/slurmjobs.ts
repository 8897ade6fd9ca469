/**
 * SlurmJobs: the jobs board (jobsboard.ts) as a notebook widget, on the view's
 * own WebSocket to the daqlab server (the same connect / retry loop as the
 * other views). The Python side is kernel-bridge/daqlab/jobs_widget.py.
 */
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from '@jupyter-widgets/base';
import { keepConnected, serverAddress } from './connection.js';
import { JobsBoard } from './jobsboard.js';
import { widgetIdentity } from './version.js';

export class SlurmJobsModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('SlurmJobs'),
      server_url: 'proxy/8765/ws',
      token: '',
    };
  }
}

export class SlurmJobsView extends DOMWidgetView {
  private board = new JobsBoard();
  private statusLabel = document.createElement('div');
  private closed = false;

  override render(): void {
    this.el.classList.add('daqlab-slurmjobs');
    this.statusLabel.className = 'daqlab-slurmjobs-status';
    this.el.append(this.statusLabel, this.board.node);
    void keepConnected({
      address: () => serverAddress(this.model),
      alive: () => !this.closed,
      status: (text) => (this.statusLabel.textContent = text),
      message: (text) => (this.statusLabel.textContent = text),
      attach: async (client) => {
        this.statusLabel.textContent = '';
        await this.board.attach(client);
      },
      detach: () => this.board.detach(),
    });
  }

  override remove(): void {
    this.closed = true;
    this.board.detach();
    super.remove();
  }
}
