/**
 * What daqlab writes in the logbook by itself (type notification, software
 * "daqlab"): scans starting and ending (title, frames, files), faults, dropped
 * frames, and results of jobs. It listens to the service's event bus and reads
 * the scan's info from the store; nothing in the acquisition path waits on it,
 * and a failure to write is logged, never thrown into the service.
 */
import { hostname } from 'node:os';
import type { EventMessage, ScanSummary } from '../protocol/index.js';
import type { ScanStore } from '../store/types.js';
import { log } from '../log.js';
import type { Logbook } from './logbook.js';

export const SOFTWARE = 'daqlab';

export interface EventSource {
  on(event: 'event', fn: (m: EventMessage) => void): unknown;
}

/** The result of a job, as jobs/derived.ts announces it. */
export interface JobResult {
  job_id: string;
  user: string;
  job_name: string;
  template: string;
  master: string;
  source: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const esc = (s: unknown): string => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export class Notifier {
  private readonly machine = hostname();

  constructor(
    private readonly logbook: Logbook,
    private readonly store: ScanStore,
  ) {}

  /** Follow the service's events from now on. */
  attach(source: EventSource): void {
    source.on('event', (m) => {
      try {
        this.onEvent(m);
      } catch (err) {
        log('warn', 'logbook: a notification could not be written', { event: m.event, error: String(err) });
      }
    });
  }

  private write(category: 'info' | 'error', html: string, tags: string[], scan: ScanSummary | null): void {
    const id = scan?.identity;
    this.logbook.add(
      {
        type: 'notification',
        category,
        format: 'html',
        content: html,
        tags,
        software: SOFTWARE,
        machine: this.machine,
        ...(id?.proposal ? { proposal: id.proposal } : {}),
        ...(id?.session ? { session: id.session } : {}),
        ...(id?.sample ? { sample: id.sample } : {}),
        ...(scan ? { dataset: scan.key } : {}),
      },
      SOFTWARE,
    );
  }

  private summary(key: unknown): ScanSummary | null {
    if (typeof key !== 'string') return null;
    try {
      return this.store.scan(key).summary();
    } catch {
      return null; // evicted already
    }
  }

  private title(s: ScanSummary): string {
    const scanInfo = obj(s.info.scan);
    const title = typeof scanInfo.title === 'string' ? scanInfo.title : s.identity.name;
    return `${esc(title)} #${s.identity.number}`;
  }

  onEvent(m: EventMessage): void {
    if (m.event === 'scan.state' && (m.state === 'STARTED' || m.state === 'CLOSED')) {
      const s = this.summary(m.key);
      if (!s) return;
      const detector = obj(s.info.detector).name ?? obj(s.info.detector).model ?? '';
      if (m.state === 'STARTED') {
        const frames = obj(s.info.acquisition).nb_frames;
        const n = frames === 0 ? 'continuous' : `${esc(frames)} frames`;
        this.write('info', `<p>Scan <b>${this.title(s)}</b> started${detector ? ` on ${esc(detector)}` : ''}: ${n}.</p>`, ['scan', 'scan-start'], s);
        return;
      }
      const counters = obj(s.info.counters);
      const saving = obj(s.info.saving);
      const files = Array.isArray(saving.files) ? (saving.files as unknown[]).map(String) : [];
      if (typeof saving.master === 'string') files.unshift(saving.master);
      const lines = [
        `<p>Scan <b>${this.title(s)}</b> ended (${esc(s.info.end_reason ?? 'closed')}): ${esc(counters.nb_frames_acquired ?? 0)} frames acquired, ${esc(counters.nb_frames_saved ?? 0)} saved.</p>`,
      ];
      if (files.length) lines.push(`<ul>${files.slice(0, 50).map((f) => `<li><code>${esc(f)}</code></li>`).join('')}</ul>`);
      this.write('info', lines.join(''), ['scan', 'scan-end'], s);
      const dropped = Number(counters.nb_frames_dropped ?? 0);
      if (dropped > 0) {
        const acquired = Number(counters.nb_frames_acquired ?? 0);
        const pct = acquired ? ` (${((100 * dropped) / acquired).toFixed(1)} %)` : '';
        this.write('error', `<p>Scan <b>${this.title(s)}</b>: ${dropped} frames dropped${pct}: processing could not keep up.</p>`, ['scan', 'dropped-frames'], s);
      }
      return;
    }
    if (m.event === 'acq.state' && m.state === 'FAULT') {
      this.write('error', `<p>Detector <b>${esc(m.detector)}</b> fault: ${esc(m.reason ?? 'no reason given')}</p>`, ['fault'], null);
    }
  }

  /** A job's result joined the store as a derived scan. */
  jobResult(d: JobResult): void {
    try {
      this.write(
        'info',
        `<p>Job <b>${esc(d.job_name)}</b> (${esc(d.job_id)}, template ${esc(d.template)}, user ${esc(d.user)}) finished: <code>${esc(d.master)}</code> from <code>${esc(d.source)}</code>.</p>`,
        ['job', 'job-result'],
        null,
      );
    } catch (err) {
      log('warn', 'logbook: a job notification could not be written', { job: d.job_id, error: String(err) });
    }
  }
}
