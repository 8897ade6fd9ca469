/**
 * Progress: a progress bar and the counters of one acquisition (acquired,
 * processed, saved, dropped, invalid, fps), from the server's `acq.counters`
 * and `acq.state` events on the view's own WebSocket (no kernel round trip).
 * The Python side is kernel-bridge/daqlab/widgets.py.
 */
import { DOMWidgetModel, type ISerializers } from '@jupyter-widgets/base';
import type { DaqClient } from './client.js';
import { DaqView, el, type ScanSummaryLike } from './daqview.js';
import { widgetIdentity } from './version.js';

export class ProgressModel extends DOMWidgetModel {
  static override serializers: ISerializers = { ...DOMWidgetModel.serializers };

  override defaults() {
    return {
      ...super.defaults(),
      ...widgetIdentity('Progress'),
      server_url: 'proxy/8765/ws',
      token: '',
      acquisition: '',
      scan: '',
      follow: false,
    };
  }
}

interface Counters {
  nb_frames_acquired?: number;
  nb_frames_processed?: number;
  nb_frames_saved?: number;
  nb_frames_dropped?: number;
  nb_frames_invalid?: number;
}

interface AcqStatus {
  uuid: string;
  detector?: string;
  state?: string;
  reason?: string | null;
  counters?: Counters;
  nb_frames?: number;
  fps?: number;
  finished?: boolean;
  scan?: string;
}

const FIELDS: [keyof Counters | 'fps', string][] = [
  ['nb_frames_acquired', 'acquired'],
  ['nb_frames_processed', 'processed'],
  ['nb_frames_saved', 'saved'],
  ['nb_frames_dropped', 'dropped'],
  ['nb_frames_invalid', 'invalid'],
  ['fps', 'fps'],
];

export class ProgressView extends DaqView {
  protected readonly cssClass = 'daqlab-progress';
  protected readonly targetAttributes = 'change:acquisition';
  private bar!: HTMLProgressElement;
  private percent!: HTMLSpanElement;
  private stateLabel!: HTMLSpanElement;
  private cells: Record<string, HTMLSpanElement> = {};
  private status: AcqStatus | null = null;
  private removers: (() => void)[] = [];

  protected build(): void {
    this.stage.classList.add('daqlab-progress-stage');
    const line = el('div', 'daqlab-progress-line');
    this.bar = el('progress', 'daqlab-progress-bar');
    this.bar.max = 1;
    this.bar.value = 0;
    this.percent = el('span', 'daqlab-progress-percent', '');
    this.percent.dataset.field = 'percent';
    this.stateLabel = el('span', 'daqlab-progress-state', '');
    this.stateLabel.dataset.field = 'state';
    line.append(this.bar, this.percent, this.stateLabel);
    const grid = el('div', 'daqlab-progress-counters');
    for (const [, name] of FIELDS) {
      const box = el('div', 'daqlab-progress-counter');
      const value = el('span', 'daqlab-progress-value', '–');
      value.dataset.field = name;
      box.append(el('span', 'daqlab-progress-name', name), value);
      grid.append(box);
      this.cells[name] = value;
    }
    this.stage.append(line, grid);
  }

  protected detach(): void {
    this.removers.forEach((f) => f());
    this.removers = [];
  }

  protected override describeTarget(): string {
    return `cannot show acquisition ${this.model.get('acquisition') || '(the newest)'}`;
  }

  protected async attach(client: DaqClient): Promise<void> {
    let uuid = this.model.get('acquisition') as string;
    if (!uuid) {
      const last = await client.request<ScanSummaryLike | null>('scans.last');
      uuid = (last?.info?.acquisition_uuid as string | undefined) ?? '';
      if (!uuid) {
        this.statusLabel.textContent = 'waiting';
        this.showMessage('no acquisition yet: waiting for one…');
        return;
      }
    }
    const handler = (ev: Record<string, unknown>) => {
      if (ev.uuid !== uuid) return;
      this.status = { ...(this.status ?? { uuid }), ...(ev as unknown as AcqStatus) };
      this.show();
    };
    this.removers.push(client.on('acq.counters', handler), client.on('acq.state', handler));
    this.status = await client.request<AcqStatus>('acq.status', { uuid });
    this.statusLabel.textContent = `${this.status.detector ?? ''} · ${uuid.slice(0, 8)}${this.status.scan ? ` · ${this.status.scan}` : ''}`;
    this.showMessage(null);
    this.show();
  }

  protected async followScan(client: DaqClient, scan: ScanSummaryLike): Promise<Record<string, unknown> | null> {
    for (let i = 0; i < 6; i++) {
      const s = await client.request<ScanSummaryLike>('scan.get', { scan: scan.key });
      const uuid = s.info?.acquisition_uuid;
      if (typeof uuid === 'string' && uuid) return { acquisition: uuid, scan: s.key };
      await new Promise((r) => setTimeout(r, 500));
    }
    return null;
  }

  private show(): void {
    const s = this.status;
    if (!s) return;
    const c = s.counters ?? {};
    const total = s.nb_frames ?? 0;
    const acquired = c.nb_frames_acquired ?? 0;
    // "done" means processed (and saved) too: the bar follows the slowest of the stages that run
    const done = s.finished ? total : acquired;
    this.bar.max = total > 0 ? total : 1;
    this.bar.value = total > 0 ? Math.min(done, total) : 0;
    this.percent.textContent = total > 0 ? `${acquired} / ${total} (${((100 * Math.min(acquired, total)) / total).toFixed(0)}%)` : `${acquired}`;
    this.stateLabel.textContent = `${s.state ?? ''}${s.finished ? ' · finished' : ''}${s.reason ? ` · ${s.reason}` : ''}`;
    this.stateLabel.dataset.state = s.state ?? '';
    for (const [key, name] of FIELDS) {
      const v = key === 'fps' ? s.fps : c[key];
      this.cells[name].textContent = v === undefined || v === null ? '–' : key === 'fps' ? Number(v).toFixed(1) : String(v);
    }
    this.el.dataset.acquired = String(acquired);
  }
}
