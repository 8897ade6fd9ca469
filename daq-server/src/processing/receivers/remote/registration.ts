/**
 * The handshake of a receiver host with its control server (`daqlab-server --role receiver`): what a
 * receiver says about itself in `receivers.register`, and what the control server checks before it
 * counts the host in. A receiver whose protocol or pipelines differ from the control server's is refused
 * here, at registration, not in the middle of a scan. The remote frame path itself is not built yet.
 */
import { createHash } from 'node:crypto';
import { DaqError, PROTOCOL_VERSION, type FieldError } from '../../../protocol/index.js';
import { VERSION } from '../../../version.js';
import { PIPELINES, pipelineSchema } from '../../pipelines.js';
import type { StepRegistry } from '../../registry.js';

/** What a receiver host sends in `receivers.register`. */
export interface ReceiverRegistration {
  /** its name in the topology (--host-name; default: the machine's hostname) */
  name: string;
  /** where the control server and the detector's other receivers reach it */
  address: string;
  port: number;
  protocol: number;
  /** the daqlab version it runs */
  version: string;
  /** pipeline name → version (pipelineVersions): the same processing, or refused */
  pipelines: Record<string, string>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ADDRESS = /^[A-Za-z0-9.:_-]{1,253}$/;
/** more pipelines than this in a registration is not a real receiver */
const MAX_PIPELINES = 256;

/**
 * One version per pipeline: a digest of the daqlab version, the pipeline's parameter schema and the steps it
 * may run (for `chain`: every registered step, plugins included). Two hosts with the same digest run the
 * same processing for the same parameters.
 */
export function pipelineVersions(steps: StepRegistry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of PIPELINES) {
    const uses = p.name === 'chain' ? steps.names() : p.uses.filter((s) => steps.has(s));
    const digest = createHash('sha256').update(JSON.stringify([VERSION, p.name, uses, pipelineSchema(p, steps)])).digest('hex');
    out[p.name] = digest.slice(0, 16);
  }
  return out;
}

/** This host's registration message. */
export function registration(name: string, address: string, port: number, steps: StepRegistry): ReceiverRegistration {
  return { name, address, port, protocol: PROTOCOL_VERSION, version: VERSION, pipelines: pipelineVersions(steps) };
}

function refuse(message: string, fields: FieldError[]): never {
  throw new DaqError('ParameterError', message, fields);
}

/**
 * Check a `receivers.register` request against this control server's own protocol and pipelines; the
 * registration, typed, or a ParameterError naming each field that differs.
 */
export function checkRegistration(req: Record<string, unknown>, mine: Record<string, string>): ReceiverRegistration {
  const field = (name: string, ok: boolean, message: string): void => {
    if (!ok) refuse(`receivers.register: ${name}: ${message}`, [{ field: name, message }]);
  };
  const { name, address, port, protocol, version, pipelines } = req;
  field('name', typeof name === 'string' && NAME.test(name), 'a host name: 1–63 letters, digits, ".", "_" or "-"');
  field('address', typeof address === 'string' && ADDRESS.test(address), 'the host name or IP address the receiver is reached at');
  field('port', Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535, 'an integer 0–65535');
  field('version', typeof version === 'string' && version.length <= 64, 'the daqlab version of the receiver (a string)');
  field('protocol', protocol === PROTOCOL_VERSION, `this control server speaks protocol ${PROTOCOL_VERSION}, the receiver ${JSON.stringify(protocol)}: run the same daqlab version on every host`);
  field('pipelines', typeof pipelines === 'object' && pipelines !== null && !Array.isArray(pipelines) && Object.keys(pipelines).length <= MAX_PIPELINES, 'an object {pipeline: version}');
  const theirs = pipelines as Record<string, unknown>;
  const differ: FieldError[] = [];
  for (const [p, v] of Object.entries(mine)) {
    if (theirs[p] === undefined) differ.push({ field: `pipelines.${p}`, message: `the receiver lacks pipeline ${p}` });
    else if (theirs[p] !== v) differ.push({ field: `pipelines.${p}`, message: `version ${String(theirs[p]).slice(0, 32)} differs from the control server's ${v} (other daqlab version or plugins)` });
  }
  if (differ.length) {
    refuse(`receivers.register: refused, the receiver's pipelines differ from the control server's: ${differ.map((d) => `${d.field}: ${d.message}`).join('; ')}`, differ);
  }
  return { name: name as string, address: address as string, port: port as number, protocol: protocol as number, version: version as string, pipelines: { ...mine } };
}
