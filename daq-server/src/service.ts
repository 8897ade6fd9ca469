/**
 * The daqlab service: the scan store, one controller per detector, and the
 * event bus that fans state changes out to every connected client.
 */
import { EventEmitter } from 'node:events';
import { DaqError, type EventMessage } from './protocol/index.js';
import type { DetectorPlugin } from './detectors/plugin.js';
import { DetectorController } from './control/controller.js';
import { createStore } from './store/index.js';
import { ScanHistory } from './store/history.js';
import type { ScanStore } from './store/types.js';
import type { MemoryScan, MemoryScanStore } from './store/index.js';
import { log } from './log.js';
import { StepRegistry } from './processing/registry.js';
import type { JobsService } from './jobs/service.js';
import { registerDerived } from './jobs/derived.js';
import { readableFile } from './catalogue/files.js';
import { simulatedDevices, type DeviceRegistry } from './devices/registry.js';
import { ScanEngine } from './scanning/engine.js';
import { controllerDetector } from './scanning/detectors.js';
import { WorkflowService } from './workflows/service.js';
import { WORKFLOWS_DIR } from './workflows/local.js';
import type { Catalogue } from './catalogue/service.js';
import type { Logbook } from './logbook/logbook.js';
import { Notifier } from './logbook/notifications.js';
import { LogbookAccess } from './logbook/access.js';

import type { ReceiverRegistry } from './processing/receivers/remote/registry.js';
export interface ServiceOptions {
  plugins: DetectorPlugin[];
  memoryBudget: number;
  /** processing steps (built-ins plus plugins loaded at start) */
  steps?: StepRegistry;
  /** jobs on Slurm (jobs/service.ts); absent in embedders that need none */
  jobs?: JobsService;
  /** folders clients may name files in (absolute; config.ts resolves them) */
  dataRoots?: string[];
  /** the server's persistent state folder; null: nothing persists (embedders, unit tests) */
  stateDir?: string | null;
  /** a control server's registry of receiver hosts (--role control); absent: receivers.register is refused */
  receivers?: ReceiverRegistry;
  /** axes, counters, MCAs (default: the simulated beamline of devices/registry.ts) */
  devices?: DeviceRegistry;
  /** the catalogue (catalogue/): every closed scan becomes a dataset; null: none */
  catalogue?: Catalogue | null;
  /** the e-logbook (logbook/); absent in embedders that need none */
  logbook?: Logbook;
}

export class DaqService extends EventEmitter<{ event: [EventMessage] }> {
  readonly store: ScanStore;
  readonly controllers = new Map<string, DetectorController>();
  readonly started = Date.now();
  readonly steps: StepRegistry;
  readonly jobs: JobsService | null;
  readonly dataRoots: string[];
  readonly stateDir: string | null;
  readonly receivers: ReceiverRegistry | null;
  /** scan numbers and finished scans kept across restarts (null: no state folder) */
  readonly history: ScanHistory | null;
  /** the one registry of axes, counters and MCAs, and the step-scan engine that drives them */
  readonly devices: DeviceRegistry;
  readonly scanning: ScanEngine;
  readonly catalogue: Catalogue | null;
  readonly logbook: Logbook | null;
  /** ewoks graphs run on scans' masters when they end (workflows/) */
  readonly workflows: WorkflowService;

  constructor(options: ServiceOptions) {
    super();
    this.setMaxListeners(0);
    const store = createStore({ memoryBudget: options.memoryBudget });
    this.store = store;
    this.steps = options.steps ?? new StepRegistry();
    this.jobs = options.jobs ?? null;
    this.dataRoots = options.dataRoots ?? [process.cwd()];
    this.stateDir = options.stateDir || null;
    this.receivers = options.receivers ?? null;
    this.history = this.stateDir ? this.openHistory(this.stateDir, store) : null;
    this.catalogue = options.catalogue ?? null;
    if (this.catalogue) {
      const catalogue = this.catalogue;
      store.onScanState((scan) => {
        if (scan.state === 'CLOSED' && !(scan as MemoryScan).evicted?.reason.includes('restart')) catalogue.capture(scan);
      });
      // each scan's proposal at hand for the decisions on its events (catalogue/service.ts `know`)
      store.onScan((scan) => void catalogue.know([scan.identity.proposal]).catch(() => {}));
    }
    this.logbook = options.logbook ?? null;
    if (this.logbook) {
      // every entry is news for clients (the Logbook panel); daqlab writes its own notifications
      this.logbook.onEntry((entry) => this.publish({ event: 'logbook.entry', entry }));
      const notifier = new Notifier(this.logbook, store);
      notifier.attach(this);
      this.jobs?.onDerived((d) => notifier.jobResult(d));
      // the logbook follows the catalogue's proposals: who reads and writes which entries (logbook/access.ts)
      if (this.catalogue) {
        this.logbook.access = new LogbookAccess(this.catalogue);
        this.logbook.beamline = this.catalogue.beamline;
        const catalogue = this.catalogue;
        this.logbook.currentProposal = () => catalogue.policy().proposal;
      }
    }
    // a completed template job's result joins the store as a derived scan (jobs/derived.ts)
    // (its proposal: the source scan's, or the proposal folder its files lie in)
    this.jobs?.onDerived((d) => registerDerived(this.store, d, (path) => this.catalogue?.proposalOfFile(path) ?? null));
    if (this.jobs && this.catalogue) this.jobs.mayRead = readableFile(this.catalogue);
    for (const plugin of options.plugins) {
      const ctl = new DetectorController(plugin, this.store, this.steps, this.dataRoots);
      ctl.receiverHosts = options.receivers ?? null;
      ctl.on('state', (s) => {
        log('info', 'acquisition state', { detector: s.detector, uuid: s.uuid, state: s.state, reason: s.reason });
        const finished = 'finished' in s ? s.finished : true;
        this.publish({ event: 'acq.state', detector: s.detector, uuid: s.uuid, state: s.state, reason: s.reason, finished });
      });
      ctl.on('counters', (s) =>
        this.publish({ event: 'acq.counters', detector: s.detector, uuid: s.uuid, state: s.state, counters: s.counters, fps: s.fps, finished: s.finished }),
      );
      this.controllers.set(plugin.name, ctl);
    }
    this.devices = options.devices ?? simulatedDevices();
    this.scanning = new ScanEngine(this.store, this.devices, (name) => {
      const ctl = this.controllers.get(name);
      return ctl ? controllerDetector(ctl) : null;
    }, this.dataRoots);
    this.devices.on('state', (device) => this.publish({ event: 'device.state', device }));
    this.scanning.on('status', (status) => this.publish({ event: 'scanning.state', status }));
    this.workflows = new WorkflowService({
      store: this.store, dataRoots: this.dataRoots, workflowsDir: WORKFLOWS_DIR, jobs: this.jobs,
      proposalOf: (path) => this.catalogue?.proposalOfFile(path) ?? null,
    });
    this.workflows.on('state', (workflow) => this.publish({ event: 'workflow.state', workflow }));
    this.store.onScan((scan) => this.publish({ event: 'scan.new', scan: scan.summary() }));
    this.store.onScanState((scan) => this.publish({ event: 'scan.state', key: scan.key, state: scan.state }));
    this.store.onTrim((t) => {
      log('info', 'store trimmed', { ...t });
      this.publish({ event: 'store.trimmed', ...t });
    });
    this.store.onEvict((e) => {
      log('info', e.dropped ? 'store dropped scan' : 'store evicted scan', { ...e });
      this.publish({ event: 'store.evicted', ...e });
    });
  }

  /** Numbering continues where the last run left it; its finished scans are listed again. */
  private openHistory(dir: string, store: MemoryScanStore): ScanHistory | null {
    let history: ScanHistory;
    try {
      history = new ScanHistory(dir, (message, fields) => log('warn', message, fields));
    } catch (err) {
      log('warn', 'state folder unusable: scan numbers and finished scans will not persist', { dir, error: String(err) });
      return null;
    }
    store.seedNumbers(history.numbers());
    const restored = history.restore(store);
    if (restored) log('info', 'finished scans of earlier runs listed again', { count: restored, dir });
    // the number is recorded before the scan's files are created (the saver runs after createScan)
    store.onScan(() => history.saveNumbers(store.numbers()));
    store.onScanState((scan) => {
      if (scan.state === 'CLOSED') void history.recordFinished(scan as MemoryScan);
    });
    return history;
  }

  private publish(message: EventMessage): void {
    this.emit('event', message);
  }

  detector(name: unknown): DetectorController {
    const ctl = typeof name === 'string' ? this.controllers.get(name) : undefined;
    if (!ctl) {
      throw new DaqError(
        'NotFoundError',
        `unknown detector ${JSON.stringify(name)}; available: ${[...this.controllers.keys()].join(', ')}`,
      );
    }
    return ctl;
  }

  /** Find an acquisition by uuid on any detector. */
  acquisition(uuid: unknown): { ctl: DetectorController; acq: ReturnType<DetectorController['acquisition']> } {
    for (const ctl of this.controllers.values()) {
      try {
        return { ctl, acq: ctl.acquisition(uuid) };
      } catch {
        // not this detector's
      }
    }
    throw new DaqError('NotFoundError', `no acquisition with uuid ${JSON.stringify(uuid)}`);
  }

  /** The store could not keep scan `key` (e.g. Redis unreachable): its acquisition FAULTs with `reason`. */
  /** `--store redis://`: a finished scan's streams left Redis near its maxmemory (store/redis/memory.ts), told to clients */
  redisTrimmed(report: { key: string; streams: string[]; entries: number; reason: string }): void {
    log('info', 'scan trimmed from Redis', { ...report });
    this.publish({ event: 'store.redis_trimmed', ...report });
  }

  storeFault(key: string, reason: string): void {
    for (const ctl of this.controllers.values()) ctl.storeFault(key, reason);
  }

  shutdown(): void {
    this.jobs?.shutdown();
    this.scanning.shutdown();
    this.workflows.shutdown();
    this.devices.shutdown();
    void this.catalogue?.close().catch(() => {});
    this.logbook?.close();
    for (const ctl of this.controllers.values()) ctl.shutdown();
  }
}
