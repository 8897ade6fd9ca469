/**
 * One config file for a whole installation: every host, its role, and what they share (detectors, store,
 * data roots, token). Each host runs `daqlab-server --config topology.json` and picks its own part: by
 * `--host-name` (or $DAQLAB_HOST_NAME), else by `--role` when one host has it, else by the machine's hostname.
 *
 *   { "token": "…", "detectors": ["sim-eiger-4m"], "store": "memory", "data_roots": ["/data"],
 *     "hosts": { "ctrl":  { "role": "control",  "address": "10.0.0.1", "host": "0.0.0.0" },
 *                "recv1": { "role": "receiver", "address": "10.0.0.11", "memory_budget": "32G" } } }
 *
 * A host's section may set any field of a plain config file (it overrides the shared value) besides its
 * `role` and `address` (how the other hosts reach it). Every error names the field, e.g. `hosts.recv1.port`.
 */
import { hostname } from 'node:os';

export type Role = 'control' | 'receiver';
export const ROLES: readonly Role[] = ['control', 'receiver'];

/** One host of the topology as the others see it. */
export interface TopologyHost {
  name: string;
  role: Role;
  /** host name or IP address the other hosts reach it at */
  address: string;
  port: number;
}

/** The part of a topology one host runs, and where the rest is. */
export interface Placement {
  /** this host's name in the file */
  hostName: string;
  role: Role;
  /** the control server's WebSocket URL (what a receiver registers with) */
  control: string;
  /** the scan store every host uses: `memory` (embedded) or a redis:// URL */
  store: string;
  hosts: TopologyHost[];
}

const DEFAULT_PORT = 8765;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** a DNS name, an IPv4 address or a bracket-less IPv6 address: no scheme, port, path or spaces */
const ADDRESS = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9a-fA-F:]{2,39})$/;
const STORE = /^(?:memory|rediss?:\/\/(?:[^\s@/]+@)?[^\s:/@]+(?::\d{1,5})?(?:\/\d{1,2})?)$/;

/** JSON types of the plain config file's fields, checked wherever a topology sets them */
const FIELD_TYPES: Record<string, 'string' | 'strings' | 'port' | 'size' | 'string-or-null'> = {
  host: 'string',
  port: 'port',
  detectors: 'strings',
  memory_budget: 'size',
  token: 'string-or-null',
  log_level: 'string',
  plugins: 'strings',
  replays: 'strings',
  dectris: 'strings',
  data_roots: 'strings',
  state_dir: 'string',
  allow_origins: 'strings',
};

type Json = Record<string, unknown>;

function fail(file: string, field: string, message: string): never {
  throw new Error(`--config ${file}: ${field}: ${message}`);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A store URL fit for errors and logs: the password never appears. */
export function redactStore(store: unknown): unknown {
  return typeof store === 'string' ? store.replace(/\/\/([^:@/\s]*):[^@\s]*@/, '//$1:***@') : store;
}

/** A topology file is a config file with a `hosts` section. */
export function isTopology(raw: Json): boolean {
  return 'hosts' in raw;
}

function checkType(file: string, field: string, value: unknown): void {
  const type = FIELD_TYPES[field.split('.').pop()!];
  const ok = {
    string: () => typeof value === 'string',
    'string-or-null': () => value === null || typeof value === 'string',
    strings: () => typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string')),
    port: () => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535,
    size: () => typeof value === 'string' || (Number.isInteger(value) && (value as number) > 0),
  };
  const expected = {
    string: 'a string',
    'string-or-null': 'a string or null',
    strings: 'a string or a list of strings',
    port: 'an integer 1–65535 (the other hosts must know it: 0 is not allowed here)',
    size: 'a size like "16G" or a number of bytes',
  };
  if (type && !ok[type]()) fail(file, field, `expected ${expected[type]}, got ${JSON.stringify(value)}`);
}

function checkFields(file: string, prefix: string, obj: Json, allowed: readonly string[]): void {
  for (const [key, value] of Object.entries(obj)) {
    if (!allowed.includes(key)) fail(file, prefix + key, `unknown field; known: ${allowed.join(', ')}`);
    checkType(file, prefix + key, value);
  }
}

function parseHosts(file: string, raw: unknown): TopologyHost[] {
  if (!isObject(raw) || Object.keys(raw).length === 0) fail(file, 'hosts', 'expected an object {name: {role, address, ...}} with at least one host');
  const hosts = Object.entries(raw).map(([name, spec]): TopologyHost => {
    const at = `hosts.${name}`;
    if (!NAME.test(name)) fail(file, at, 'a host name is 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit');
    if (!isObject(spec)) fail(file, at, 'expected an object {role, address, ...}');
    if (!ROLES.includes(spec.role as Role)) fail(file, `${at}.role`, `expected ${ROLES.join(' or ')}, got ${JSON.stringify(spec.role)}`);
    if (typeof spec.address !== 'string' || !ADDRESS.test(spec.address)) {
      fail(file, `${at}.address`, `expected the host name or IP address the other hosts reach it at (no scheme or port), got ${JSON.stringify(spec.address)}`);
    }
    return { name, role: spec.role as Role, address: spec.address, port: spec.port === undefined ? DEFAULT_PORT : (spec.port as number) };
  });
  const controls = hosts.filter((h) => h.role === 'control');
  if (controls.length !== 1) fail(file, 'hosts', `exactly one host has role "control", found ${controls.length}${controls.length ? ` (${controls.map((h) => h.name).join(', ')})` : ''}`);
  return hosts;
}

/** Which host of the file this process is: --host-name, else the only one of --role, else the hostname. */
function pickHost(file: string, hosts: TopologyHost[], hostName: string | null, role: Role | null, machine: string): TopologyHost {
  const names = hosts.map((h) => h.name).join(', ');
  if (hostName !== null) {
    const host = hosts.find((h) => h.name === hostName);
    if (!host) fail(file, 'hosts', `no host named ${JSON.stringify(hostName)} (--host-name); hosts: ${names}`);
    if (role !== null && host.role !== role) fail(file, `hosts.${hostName}.role`, `is ${host.role}, but --role says ${role}`);
    return host;
  }
  const ofRole = role === null ? [] : hosts.filter((h) => h.role === role);
  if (ofRole.length === 1) return ofRole[0];
  const short = machine.split('.')[0];
  const mine = hosts.find((h) => h.name === machine) ?? hosts.find((h) => h.name === short);
  if (mine && (role === null || mine.role === role)) return mine;
  return fail(file, 'hosts', `which host is this? This machine is ${JSON.stringify(machine)}, not one of ${names}: pass --host-name NAME (or $DAQLAB_HOST_NAME)`);
}

/**
 * This host's part of a topology file: the plain config fields it runs with (shared ones overridden by its
 * own section) and its placement. `plainFields`: the fields a plain config file may have.
 */
export function selectHost(
  file: string,
  raw: Json,
  plainFields: readonly string[],
  which: { hostName: string | null; role: Role | null; machine?: string },
): { fields: Json; placement: Placement } {
  checkFields(file, '', raw, [...plainFields, 'hosts', 'store']);
  const hosts = parseHosts(file, raw.hosts);
  const store = raw.store === undefined ? 'memory' : raw.store;
  if (typeof store !== 'string' || !STORE.test(store)) {
    fail(file, 'store', `expected "memory" or redis://[user:password@]HOST[:PORT][/DB], got ${JSON.stringify(redactStore(store))}`);
  }
  const host = pickHost(file, hosts, which.hostName, which.role, which.machine ?? hostname());
  const section = (raw.hosts as Json)[host.name] as Json;
  checkFields(file, `hosts.${host.name}.`, section, [...plainFields, 'role', 'address']);
  const { hosts: _hosts, store: _store, ...shared } = raw;
  const { role: _role, address: _address, ...own } = section;
  const control = hosts.find((h) => h.role === 'control')!;
  // a host binds the address the others reach it at unless its section says otherwise (e.g. 0.0.0.0)
  const fields: Json = { ...shared, host: host.address, port: host.port, ...own };
  const controlAddress = control.address.includes(':') ? `[${control.address}]` : control.address;
  return { fields, placement: { hostName: host.name, role: host.role, control: `ws://${controlAddress}:${control.port}/ws`, store, hosts } };
}
