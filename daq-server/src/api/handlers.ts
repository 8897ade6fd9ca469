/** One handler per control operation (docs/PROTOCOL.md, "Operations"). */
import {
  DaqError,
  MAX_MESSAGE_BYTES,
  MAX_SUBSCRIPTIONS,
  MAX_WINDOW,
  PROTOCOL_VERSION,
  SUB_MODES,
  COMPRESSIONS,
  type Compression,
  dtypeSize,
  perItemHeader,
  product,
  type Op,
  type Request,
  type ScanIdentity,
} from '../protocol/index.js';
import type { ArrayItems, EventItems, Stream } from '../store/types.js';
import { VERSION } from '../version.js';
import { encodeEvents, encodeItems } from './arrow-encode.js';
import { bool, frameStatsParam, int, num, object, oneOf, preview, roi, str } from './params.js';
import { MAX_EVENTS_PER_PAYLOAD, MAX_ITEMS_PER_PAYLOAD } from './outbox.js';
import type { Session } from './session.js';
import { Subscription } from './subscription.js';
import { itemsFrameStats, makeTransform } from './transform.js';
import { validate } from '../control/validate.js';
import { PIPELINES, pipeline, pipelineSchema } from '../processing/pipelines.js';
import { JOBS_HANDLERS } from './jobs-handlers.js';
import { DEVICES_HANDLERS } from './devices-handlers.js';
import { WORKFLOW_HANDLERS } from './workflow-handlers.js';
import { CATALOGUE_HANDLERS } from './catalogue-handlers.js';
import { canSee, knowScans, readableScan, visibleOnly } from './scan-access.js';
import { LOGBOOK_HANDLERS } from './logbook-handlers.js';
import { checkUserJson } from './json-bounds.js';
import { RECEIVERS_HANDLERS } from './receivers-handlers.js';

type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

const READ_PAYLOAD_TARGET = MAX_MESSAGE_BYTES * 0.75;
/** The sections of acq.prepare's params (each is kept in the scan's info). */
const PREPARE_SECTIONS = ['acquisition', 'detector', 'processing', 'saving', 'scan'] as const;
const IDENTITY_FIELDS = ['name', 'number', 'session', 'proposal', 'sample', 'dataset', 'path'] as const;

function streamOf(session: Session, req: Request): { scanKey: string; stream: Stream } {
  const scan = readableScan(session, str(req, 'scan'));
  return { scanKey: scan.key, stream: scan.stream(str(req, 'stream')) };
}

/** `compression`: one of COMPRESSIONS, and only for array streams. */
function compressionOf(req: Request, stream: Stream): Compression {
  const c = oneOf(req, 'compression', COMPRESSIONS, 'none');
  if (c !== 'none' && stream.kind !== 'array') {
    throw new DaqError('ParameterError', `compression: ${stream.name} is an event stream; only array items are compressed`, [
      { field: 'compression', message: `only array streams can be compressed; ${stream.name} is an event stream` },
    ]);
  }
  return c;
}

/** stream.read: send the items as data messages tagged with the request id, then reply. */
async function read(session: Session, req: Request): Promise<unknown> {
  const { scanKey, stream } = streamOf(session, req);
  const single = bool(req, 'single', false);
  const compression = compressionOf(req, stream);
  const start = int(req, 'start', 0) as number;
  const step = int(req, 'step', 1, 1) as number;
  const block = bool(req, 'block', false);
  const timeout = num(req, 'timeout', null);
  let stop = int(req, 'stop', null);
  let batch: ArrayItems | EventItems;
  if (single) {
    if (block && start >= 0) await stream.waitFor(start, timeout === null ? undefined : timeout * 1000);
    const item = stream.get(start);
    const index = start < 0 ? stream.length + start : start;
    batch =
      stream.kind === 'array'
        ? {
            first: index,
            items: [(item as { data: never }).data],
            valid: [(item as { valid: boolean }).valid],
            step: 1,
            times: [(item as { time?: number }).time ?? NaN],
            frames: [(item as { frame?: number }).frame ?? NaN],
          }
        : stream.slice(index, index + 1); // get() said it is there; the slice adds its frame index
  } else {
    stop ??= stream.sealed ? stream.length : Math.max(stream.length, start);
    batch = (stream.slice as (a: number, b: number, c: number) => ArrayItems | EventItems)(start, stop, step);
  }
  const count = batch.items.length;
  const indexes = Array.from({ length: count }, (_, k) => batch.first + k * step);
  let msg = 0;
  const header = (first: number, n: number) => ({
    req: req.id,
    scan: scanKey,
    stream: stream.name,
    kind: stream.kind,
    first,
    count: n,
    msg: msg++,
  });
  if (stream.kind === 'array') {
    const view = { roi: roi(req), binning: int(req, 'binning', 1, 1) as number };
    const t = makeTransform(stream.dtype, stream.shape, view);
    const percentiles = frameStatsParam(req);
    const items = (batch as ArrayItems).items;
    const valid = (batch as ArrayItems).valid;
    const per = Math.min(MAX_ITEMS_PER_PAYLOAD, Math.max(1, Math.floor(READ_PAYLOAD_TARGET / Math.max(1, product(t.shape) * dtypeSize(t.dtype)))));
    for (let k = 0; k < count; k += per) {
      const n = Math.min(per, count - k);
      // encode only once the connection can take it: a client that does not read holds no copies
      if (!(await session.out.room(n * product(t.shape) * dtypeSize(t.dtype)))) break;
      const chunks = encodeItems(
        { scan: scanKey, stream: stream.name, dtype: t.dtype, shape: t.shape, view: JSON.stringify([view.roi, view.binning]) },
        compression,
        indexes.slice(k, k + n),
        items.slice(k, k + n).map((x) => t.apply(x)),
        valid.slice(k, k + n),
      );
      const stats = itemsFrameStats(items.slice(k, k + n), stream.dtype, percentiles);
      await session.out.data({ ...header(indexes[k], n), ...perItemHeader(k, n, (batch as ArrayItems).times, batch.frames), ...(stats ? { frame_stats: stats } : {}) }, chunks);
    }
  } else {
    const events = (batch as EventItems).items;
    for (let k = 0; k < count; k += MAX_EVENTS_PER_PAYLOAD) {
      const n = Math.min(MAX_EVENTS_PER_PAYLOAD, count - k);
      await session.out.data({ ...header(indexes[k], n), ...perItemHeader(k, n, undefined, batch.frames) }, encodeEvents(scanKey, stream.name, indexes[k], events.slice(k, k + n), step));
    }
  }
  return { first: count ? batch.first : null, count, messages: msg, length: stream.length, sealed: stream.sealed };
}

/** `window`: 1 ≤ window ≤ MAX_WINDOW (flow control must bound what a connection holds). */
function windowOf(req: Request, mode: string): number {
  const w = int(req, 'window', mode === 'latest' ? 1 : 16, 1) as number;
  if (w > MAX_WINDOW) {
    throw new DaqError('ParameterError', `window: at most ${MAX_WINDOW} messages may be sent ahead of sub.ack, got ${w}`, [
      { field: 'window', message: `must be ≤ ${MAX_WINDOW}, got ${w}` },
    ]);
  }
  return w;
}

function subscribe(session: Session, req: Request): unknown {
  if (session.subscriptions.size >= MAX_SUBSCRIPTIONS) {
    throw new DaqError(
      'LimitError',
      `subscribe: this connection already has ${session.subscriptions.size} subscriptions (at most ${MAX_SUBSCRIPTIONS}); unsubscribe some first`,
      undefined,
      { limit: 'subscriptions', max: MAX_SUBSCRIPTIONS },
    );
  }
  const { scanKey, stream } = streamOf(session, req);
  const mode = oneOf(req, 'mode', SUB_MODES, 'lossless');
  let start = int(req, 'start', 0) as number;
  if (start < 0) start = Math.max(0, stream.length + start);
  const group = str(req, 'group', null);
  if (group && mode !== 'lossless') {
    throw new DaqError('ParameterError', 'group: consumer groups are lossless; use mode "lossless"', [
      { field: 'group', message: 'consumer groups need mode "lossless"' },
    ]);
  }
  const id = session.newSubscriptionId();
  const sub = new Subscription(
    {
      id,
      scanKey,
      stream,
      start,
      stop: int(req, 'stop', null, 0),
      mode,
      roi: roi(req),
      binning: int(req, 'binning', 1, 1) as number,
      every: int(req, 'every', 1, 1) as number,
      maxRate: num(req, 'max_rate', 0) as number,
      window: windowOf(req, mode),
      group,
      member: str(req, 'member', null),
      compression: compressionOf(req, stream),
      frameStats: stream.kind === 'array' ? frameStatsParam(req) : null,
    },
    session.out,
  );
  session.subscriptions.set(id, sub);
  // data flows after the reply has been sent (replies are sent when this handler returns)
  setImmediate(() => {
    void sub.run().finally(() => session.subscriptions.delete(id));
  });
  return sub.describe();
}

function subscription(session: Session, req: Request): Subscription {
  const id = str(req, 'sub');
  const sub = session.subscriptions.get(id);
  if (!sub) throw new DaqError('NotFoundError', `no subscription ${preview(id)} on this connection (it may have ended)`);
  return sub;
}

function identityQuery(req: Request): Partial<ScanIdentity> & { since?: number } {
  const q: Record<string, unknown> = {};
  for (const f of IDENTITY_FIELDS) {
    if (req[f] === undefined) continue;
    q[f] = f === 'number' ? int(req, f) : str(req, f);
  }
  const since = int(req, 'since', null, 0);
  if (since !== null) q.since = since;
  return q;
}

/**
 * acq.prepare: user JSON the scan keeps and broadcasts (scan.info, and each section as stored in the
 * scan's info) is bounded in depth and size, so no client can break the decoders of the others.
 */
function checkUserJsonOf(params: Record<string, unknown>): void {
  const scan = params.scan;
  const { info, ...identity } = typeof scan === 'object' && scan !== null ? (scan as Record<string, unknown>) : { info: undefined };
  const section = (k: string): unknown => (k === 'scan' && typeof scan === 'object' && scan !== null ? identity : params[k]);
  checkUserJson(
    [['scan.info', info], ...PREPARE_SECTIONS.map((k): [string, unknown, null] => [k, section(k), null])],
    'acq.prepare: invalid parameters',
  );
}

export const HANDLERS: Record<Op, Handler> = {
  hello: (s, r) => {
    const client = str(r, 'client', null);
    if (client !== null) {
      if (client.length > 128 || !/^[\x20-\x7e]+$/.test(client)) {
        throw new DaqError('ParameterError', 'client: a client id is at most 128 printable ASCII characters', [
          { field: 'client', message: 'must be at most 128 printable ASCII characters' },
        ]);
      }
      s.clientId = client;
    }
    return {
      server: 'daqlab',
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      max_message_bytes: MAX_MESSAGE_BYTES,
      detectors: [...s.service.controllers.keys()],
      identity: s.identity,
    };
  },
  'detectors.list': (s) => ({ detectors: [...s.service.controllers.keys()] }),
  'detector.info': (s, r) => s.service.detector(str(r, 'detector')).info(),
  'detector.state': (s, r) => s.service.detector(str(r, 'detector')).describeState(),
  'detector.status': async (s, r) => {
    // the hardware's live state (real detectors); simulators have none
    const ctl = s.service.detector(str(r, 'detector'));
    return { detector: ctl.name, ...((await ctl.plugin.status?.()) ?? {}) };
  },
  'detector.calibration': async (s, r) => {
    const ctl = s.service.detector(str(r, 'detector'));
    if (!ctl.plugin.calibration) throw new DaqError('NotFoundError', `${ctl.name} has no calibration maps`);
    const config = structuredClone(object(r, 'config') ?? {});
    validate(ctl.schema, { detector: config }, `calibration ${ctl.name}: invalid detector config`);
    const maps = await ctl.plugin.calibration(config);
    let msg = 0;
    const described = [];
    for (const [name, m] of Object.entries(maps)) {
      const chunks = encodeItems({ scan: '', stream: name, dtype: m.dtype, shape: m.shape }, 'none', [0], [m.data], [true]);
      await s.out.data({ req: r.id, scan: '', stream: name, kind: 'array', first: 0, count: 1, msg: msg++ }, chunks);
      described.push({ name, dtype: m.dtype, shape: m.shape });
    }
    return { maps: described };
  },
  'schema.get': (s, r) => s.service.detector(str(r, 'detector')).schema,
  'pipelines.list': (s, r) => {
    s.service.detector(str(r, 'detector'));
    return {
      pipelines: PIPELINES.map((p) => ({
        name: p.name,
        description: p.description,
        ordered: Boolean(p.ordered),
        steps: p.uses.filter((n) => s.service.steps.has(n)),
        available: p.uses.every((n) => s.service.steps.has(n) || n === 'jungfrau_correction'),
      })),
      steps: s.service.steps.names().map((n) => ({ name: n, description: s.service.steps.get(n).description })),
    };
  },
  'pipeline.schema': (s, r) => {
    s.service.detector(str(r, 'detector'));
    return pipelineSchema(pipeline(str(r, 'pipeline')), s.service.steps);
  },
  'acq.prepare': async (s, r) => {
    const ctl = s.service.detector(str(r, 'detector'));
    const params = object(r, 'params') ?? {};
    checkUserJsonOf(params);
    // the data policy fills the scan's proposal/sample/dataset and the saving folder (catalogue/service.ts)
    await s.service.catalogue?.applyPolicy(s.principal(), params);
    // a workflow is checked before the acquisition is prepared, and attached to its scan after
    const saved = (params.saving as { enabled?: unknown } | undefined)?.enabled === true;
    const workflow = r.workflow === undefined || r.workflow === null ? null : await s.service.workflows.check(r.workflow, saved);
    const acq = await ctl.prepare(params, s.actor(bool(r, 'force', false)));
    const attached = workflow ? { workflow: s.service.workflows.attach(acq.scan, workflow, s.token) } : {};
    return { ...acq.status(), owner: ctl.ownerOf(acq), scan_summary: acq.scan.summary(), ...attached };
  },
  'acq.start': (s, r) => {
    const { ctl } = s.service.acquisition(str(r, 'uuid'));
    return ctl.start(r.uuid).status();
  },
  'acq.trigger': (s, r) => s.service.acquisition(str(r, 'uuid')).ctl.trigger(r.uuid).status(),
  'acq.stop': (s, r) => s.service.acquisition(str(r, 'uuid')).ctl.stop(r.uuid, s.actor(bool(r, 'force', false))).status(),
  'acq.abort': (s, r) => s.service.acquisition(str(r, 'uuid')).ctl.abort(r.uuid, s.actor(bool(r, 'force', false))).status(),
  'acq.reset': (s, r) => {
    const ctl = s.service.detector(str(r, 'detector'));
    ctl.reset();
    return ctl.describeState();
  },
  'acq.status': (s, r) => s.service.acquisition(str(r, 'uuid')).acq.status(),
  'scans.last': async (s) => {
    await knowScans(s, s.service.store.search({}));
    const last = s.service.store.last();
    if (!last || canSee(s, last)) return last?.summary() ?? null;
    return visibleOnly(s, s.service.store.search({})).pop()?.summary() ?? null;
  },
  'scans.search': async (s, r) => {
    const found = s.service.store.search(identityQuery(r));
    await knowScans(s, found);
    return { scans: visibleOnly(s, found).map((scan) => scan.summary()), seq: s.service.store.lastSeq };
  },
  'scans.wait_next': async (s, r) => {
    const after = int(r, 'after', s.service.store.lastSeq, 0) as number;
    const timeout = num(r, 'timeout', null);
    // scans this session may not see are passed over, within the same deadline
    const deadline = timeout === null ? null : Date.now() + timeout * 1000;
    for (let seq = after; ; ) {
      const scan = await s.service.store.waitNext(seq, deadline === null ? undefined : Math.max(0, deadline - Date.now()));
      if (!scan) throw new DaqError('TimeoutError', `no new scan after seq ${after} within ${timeout} s`);
      await knowScans(s, [scan]);
      if (canSee(s, scan)) return scan.summary();
      seq = scan.seq;
    }
  },
  'scan.get': (s, r) => readableScan(s, str(r, 'scan')).summary(),
  'stream.info': (s, r) => streamOf(s, r).stream.describe(),
  'stream.read': read,
  subscribe,
  'sub.ack': (s, r) => {
    const msg = int(r, 'msg');
    subscription(s, r).ack(msg);
    return { sub: r.sub, msg };
  },
  unsubscribe: (s, r) => {
    subscription(s, r).close();
    s.subscriptions.delete(String(r.sub));
    return { sub: r.sub };
  },
  ...JOBS_HANDLERS,
  ...RECEIVERS_HANDLERS,
  ...DEVICES_HANDLERS,
  ...WORKFLOW_HANDLERS,
  ...CATALOGUE_HANDLERS,
  ...LOGBOOK_HANDLERS,
};
