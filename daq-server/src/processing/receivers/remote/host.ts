/**
 * The receiver host's side of the frame path: it answers the control server's `remote.*` requests (wire.ts)
 * with at most one run at a time (a new prepare replaces the old run), and stops its run when the control
 * server goes away (the control server FAULTs the scan on its side).
 */
import { log } from '../../../log.js';
import type { StepRegistry } from '../../registry.js';
import { HostRun } from './host-run.js';
import { encodeRecord, type ControlRequest, type ResultBatch } from './wire.js';

export class ReceiverHostService {
  private run: HostRun | null = null;

  constructor(
    private readonly steps: StepRegistry,
    /** sends a result batch to the control server (`receivers.results`), resolving on its acknowledgement */
    private readonly send: (batch: ResultBatch) => Promise<unknown>,
  ) {}

  private current(run: string, op: string): HostRun {
    if (!this.run || this.run.req.run !== run) throw new Error(`${op}: run ${run} is not this host's current run`);
    return this.run;
  }

  async handle(req: ControlRequest): Promise<unknown> {
    switch (req.op) {
      case 'remote.prepare': {
        this.run?.close();
        this.run = null;
        const { op: _op, ...prepare } = req;
        const { run, ready } = await HostRun.start(prepare, this.steps, async (b) => {
          await this.send(b);
        });
        this.run = run;
        log('info', 'receiver host: run prepared', { run: req.run, receivers: req.receivers, stream: req.stream });
        return ready;
      }
      case 'remote.partials': {
        return encodeRecord(await this.current(req.run, req.op).partials(false));
      }
      case 'remote.series':
        this.current(req.run, req.op).armedSeries = Number.isInteger(req.series) ? req.series : null;
        return null;
      case 'remote.finish': {
        const done = await this.current(req.run, req.op).finish(req.stop === true);
        log('info', 'receiver host: run finished', { run: req.run, received: done.received, dropped: done.dropped });
        return done;
      }
      case 'remote.close':
        if (this.run?.req.run === req.run) {
          this.run.close();
          this.run = null;
        }
        return null;
    }
  }

  /** The control server is gone: nobody takes this run's results any more. */
  lost(): void {
    if (!this.run) return;
    log('warn', 'receiver host: the control server went away during a run: run stopped', { run: this.run.req.run });
    this.run.close();
    this.run = null;
  }
}
