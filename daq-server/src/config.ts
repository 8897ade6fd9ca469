/** Server configuration: defaults, then a JSON config file, then command-line flags. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDectrisAddress } from './detectors/dectris/address.js';
import { ROLES, isTopology, selectHost, type Role, type TopologyHost } from './topology.js';
import { parseStore } from './store/redis/url.js';
import { parseLima2Spec } from './api/lima2/spec.js';
import { parseJungfraujochAddress } from './detectors/jungfraujoch/address.js';

export interface ServerConfig {
  host: string;
  port: number;
  detectors: string[];
  memoryBudget: number;
  token: string | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** JS modules adding processing steps */
  plugins: string[];
  /** saved scans (master files) offered as replay detectors */
  replays: string[];
  /** DECTRIS detectors: NAME=http://HOST[:PORT][,stream=tcp://HOST:PORT][,format=cbor|legacy] */
  dectris: string[];
  /** Jungfraujoch brokers: NAME=http://HOST:PORT[,stream=tcp://HOST:PORT][,metadata=tcp://HOST:PORT] */
  jungfraujoch: string[];
  /** jobs on Slurm (docs/ARCHITECTURE.md, "Jobs on Slurm") */
  slurm: 'rest' | 'cli' | 'auto' | 'off';
  slurmrestd: string | null;
  slurmConf: string | null;
  slurmPartition: string | null;
  jobsDir: string;
  /** the Python of the notebook template (null: the repository's .venv, else /usr/bin/python3) */
  jobsPython: string | null;
  /** token → unix user map for jobs ({"tokens": {"<token>": {"user": "alice", "staff": false}}}) */
  users: string | null;
  /** $DAQLAB_JUPYTER_SECRET: lets the Jupyter server extension assert its users (access/forwarded.ts); env only, never argv */
  jupyterSecret?: string | null;
  /** folders a client may name files in (saving base_path, poni, *_file parameters); realpaths */
  dataRoots: string[];
  /** the server's own persistent state (scan numbering, the index of finished scans) */
  stateDir: string;
  /** browser origins allowed to open the WebSocket besides loopback ones (e.g. the Jupyter server's) */
  allowOrigins: string[];
  /** standalone (one process does everything), or this host's role in a topology (docs/ARCHITECTURE.md, "Roles") */
  role: 'standalone' | Role;
  /** this host's name in the topology file (--host-name) */
  hostName: string | null;
  /** a receiver's control server (ws://HOST:PORT/ws): from the topology file or --control */
  control: string | null;
  /** `memory`, or `redis://HOST:PORT/DB`: scans also published in Redis in blissdata's model (store/redis/); the topology file may name it */
  store: string;
  /** every host of the topology file (null without one) */
  topology: TopologyHost[] | null;
  /** seed of the simulated sample the default devices measure (devices/sample.ts) */
  sampleSeed: number;
  /** detectors also served as LIMA2 systems: NAME[:PORT] (api/lima2/) */
  lima2: string[];
  /** the catalogue: 'sqlite:PATH' (default sqlite under the state folder), 'off' */
  catalogue: string;
  /** this server's beamline (instrument) in the catalogue and the data policy's folders */
  beamline: string;
}

export const DEFAULTS: ServerConfig = {
  host: '127.0.0.1',
  port: 8765,
  detectors: [],
  memoryBudget: 4 * 1024 ** 3,
  token: null,
  logLevel: 'info',
  plugins: [],
  replays: [],
  dectris: [],
  jungfraujoch: [],
  slurm: 'auto',
  slurmrestd: null,
  slurmConf: null,
  slurmPartition: null,
  jobsDir: join(tmpdir(), 'daqlab-jobs'),
  jobsPython: null,
  users: null,
  dataRoots: [],
  stateDir: '',
  allowOrigins: [],
  role: 'standalone',
  hostName: null,
  control: null,
  store: 'memory',
  topology: null,
  sampleSeed: 1,
  lima2: [],
  catalogue: '',
  beamline: 'daqlab',
};

export const USAGE = `usage: daqlab-server [options]
  --host HOST            interface to bind (default 127.0.0.1; any other needs --token)
  --port PORT            TCP port (default 8765; 0 picks a free one)
  --detector NAME        offer only this detector (repeatable or comma-separated; default: all simulators)
  --config FILE          JSON file with any of: host, port, detectors, memory_budget, token, log_level, plugins, dectris, jungfraujoch;
                         or a topology file (a "hosts" section: every host, its role and address) of which
                         this host takes its part (README, "Install the server on a beamline computer")
  --host-name NAME       this host's name in the topology file (also $DAQLAB_HOST_NAME; default: the hostname)
  --role ROLE            control | receiver: the host of the topology with this role (when only one has it)
  --control URL          a receiver's control server, ws://HOST:PORT (default: the topology file's control host)
  --memory-budget SIZE   bytes the in-memory store may hold (frames, results, scan metadata), e.g. 4G, 512M (default 4G)
  --token TOKEN          require this token from clients (also $DAQLAB_TOKEN)
  --log-level LEVEL      debug | info | warn | error (default info)
  --plugin FILE          load processing steps from a JS module (repeatable; default export: a step or a list)
  --replay MASTER        offer a saved scan as detector replay-PREFIX (repeatable): its frames, replayed
  --dectris NAME=URL[,stream=tcp://HOST:PORT][,format=cbor|legacy]
                         a DECTRIS detector (EIGER, EIGER2, PILATUS4) at its DCU's SIMPLON URL, e.g.
                         det=http://10.0.0.5 (repeatable; stream default tcp://HOST:31001 for cbor, :9999 legacy)
  --jungfraujoch NAME=URL[,stream=tcp://HOST:PORT][,metadata=tcp://HOST:PORT]
                         a detector behind a Jungfraujoch broker, e.g. jf=http://10.0.0.6:5232 (repeatable;
                         stream and metadata default to what the broker reports)
  --slurm MODE           jobs on Slurm: rest | cli | auto | off (default auto: rest with --slurmrestd, cli with
                         --slurm-conf or /etc/slurm/slurm.conf, else off; also $DAQLAB_SLURM)
  --slurmrestd URL       slurmrestd's address, e.g. http://127.0.0.1:6820 (also $DAQLAB_SLURMRESTD_URL)
  --slurm-conf FILE      slurm.conf for the Slurm tools (also $DAQLAB_SLURM_CONF)
  --slurm-partition NAME partition of jobs that name none (default: Slurm's default)
  --jobs-dir DIR         job folders (scripts, params, logs); must be shared with the cluster's nodes
  --jobs-python PATH     Python of the notebook template, runnable by job users (default: .venv/bin/python)
                         (default $DAQLAB_JOBS_DIR or <tmp>/daqlab-jobs)
  --users FILE           JSON {"tokens": {"<token>": {"user": "alice", "staff": false}}}: whom each token acts for
                         in jobs (without it: the unix user the server runs as; also $DAQLAB_USERS)
  --data-root DIR        a folder clients may save into and name files in (repeatable; also $DAQLAB_DATA_ROOTS,
                         ':'-separated; default: the folder the server starts in)
  --state-dir DIR        the server's persistent state: scan numbers, finished scans (also $DAQLAB_STATE_DIR;
                         default: .daqlab/state under the folder the server starts in)
  --allow-origin ORIGIN  a browser origin allowed to connect besides loopback ones, e.g. https://jupyter.example.org
                         (repeatable; also $DAQLAB_ALLOW_ORIGINS, ',' or whitespace separated)
  --version              print the server's version and its protocol version
  --sample-seed N        seed of the simulated sample the default motors, counters and MCA measure (default 1;
                         also $DAQLAB_SAMPLE_SEED)
  --store STORE          memory (default), or redis://[USER:PASSWORD@]HOST:PORT/DB: every scan is also published
                         there in blissdata's data model and scans others publish there join this server's store
                         (a Redis with the JSON module; a password off loopback, in the URL or $DAQLAB_REDIS_PASSWORD)
  --lima2 NAME[:PORT]    also serve detector NAME as a LIMA2 system (the conductor's HTTP API that lima2-client and
                         BLISS drive) on PORT (default 58712) of --host (repeatable)
  --catalogue WHERE      the catalogue of proposals, samples and datasets: sqlite:PATH, postgresql://USER@HOST:PORT/DB or off (also
                         $DAQLAB_CATALOGUE; default sqlite:<state dir>/catalogue.sqlite, off without a state dir)
  --beamline NAME        this beamline's name in the catalogue and the policy's folders (default daqlab;
                         also $DAQLAB_BEAMLINE)
  --help                 show this help`;

/**
 * Data roots and the state folder as absolute paths; their defaults hang off the working folder. The CLI
 * always persists its state; an embedder (tests, benches) that names no state folder keeps none.
 */
export function resolvePaths(cfg: ServerConfig, persistState: boolean): void {
  const roots = cfg.dataRoots.length ? cfg.dataRoots : [process.cwd()];
  cfg.dataRoots = [...new Set(roots.map((r) => resolve(r)))];
  if (cfg.stateDir || persistState) cfg.stateDir = resolve(cfg.stateDir || join(process.cwd(), '.daqlab', 'state'));
  for (const o of cfg.allowOrigins) {
    if (!/^https?:\/\/[^\s/]+$/.test(o)) throw new Error(`--allow-origin: expected an origin like https://host[:port] (no path), got ${JSON.stringify(o)}`);
  }
}

/** Where the catalogue lives: null (off) or a SQLite path; the default hangs off the state folder. */
export function catalogueTarget(cfg: ServerConfig): { kind: 'sqlite'; path: string } | { kind: 'postgresql'; url: string } | null {
  const c = cfg.catalogue.trim();
  if (c === 'off') return null;
  if (c === '') return cfg.stateDir ? { kind: 'sqlite', path: join(cfg.stateDir, 'catalogue.sqlite') } : null;
  if (c.startsWith('sqlite:') && c.length > 7) return { kind: 'sqlite', path: c.slice(7) === ':memory:' ? ':memory:' : resolve(c.slice(7)) };
  if (/^postgres(ql)?:\/\/[^\s]+$/.test(c)) return { kind: 'postgresql', url: c };
  throw new Error(`--catalogue: expected sqlite:PATH, postgresql://USER@HOST:PORT/DB or off, got ${JSON.stringify(c)}`);
}

/** Parse sizes like 4G, 512M, 1.5GiB, 1000000. */
export function parseSize(text: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`${field}: expected a size like 4G, 512M or a number of bytes, got ${JSON.stringify(text)}`);
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** The fields of a plain config file (a topology file's shared and per-host sections take them too). */
export const CONFIG_FILE_FIELDS = ['host', 'port', 'detectors', 'memory_budget', 'token', 'log_level', 'plugins', 'replays', 'dectris', 'jungfraujoch', 'data_roots', 'state_dir', 'allow_origins', 'store', 'lima2', 'catalogue', 'beamline'];

function fromFile(path: string, which: { hostName: string | null; role: Role | null }): Partial<ServerConfig> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`--config ${path}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`--config ${path}: expected a JSON object`);
  const out: Partial<ServerConfig> = {};
  if (isTopology(raw)) {
    const { fields, placement } = selectHost(path, raw, CONFIG_FILE_FIELDS, which);
    raw = fields;
    Object.assign(out, { role: placement.role, hostName: placement.hostName, store: placement.store, topology: placement.hosts });
    if (placement.role === 'receiver') out.control = placement.control;
  }
  const known = CONFIG_FILE_FIELDS;
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`--config ${path}: unknown field(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  if (raw.host !== undefined) out.host = String(raw.host);
  if (raw.port !== undefined) out.port = Number(raw.port);
  if (raw.detectors !== undefined) out.detectors = ([] as unknown[]).concat(raw.detectors).map(String);
  if (raw.memory_budget !== undefined) out.memoryBudget = parseSize(String(raw.memory_budget), 'memory_budget');
  if (raw.token !== undefined) out.token = raw.token === null ? null : String(raw.token);
  if (raw.log_level !== undefined) out.logLevel = raw.log_level as ServerConfig['logLevel'];
  if (raw.plugins !== undefined) out.plugins = ([] as unknown[]).concat(raw.plugins).map(String);
  if (raw.replays !== undefined) out.replays = ([] as unknown[]).concat(raw.replays).map(String);
  if (raw.dectris !== undefined) out.dectris = ([] as unknown[]).concat(raw.dectris).map(String);
  if (raw.jungfraujoch !== undefined) out.jungfraujoch = ([] as unknown[]).concat(raw.jungfraujoch).map(String);
  if (raw.data_roots !== undefined) out.dataRoots = ([] as unknown[]).concat(raw.data_roots).map(String);
  if (raw.state_dir !== undefined) out.stateDir = String(raw.state_dir);
  if (raw.catalogue !== undefined) out.catalogue = String(raw.catalogue);
  if (raw.beamline !== undefined) out.beamline = String(raw.beamline);
  if (raw.allow_origins !== undefined) out.allowOrigins = ([] as unknown[]).concat(raw.allow_origins).map(String);
  if (raw.store !== undefined) out.store = String(raw.store); // checked with the flags (parseConfig)
  if (raw.lima2 !== undefined) out.lima2 = ([] as unknown[]).concat(raw.lima2).map(String);
  return out;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      detector: { type: 'string', multiple: true },
      config: { type: 'string' },
      'memory-budget': { type: 'string' },
      token: { type: 'string' },
      'log-level': { type: 'string' },
      plugin: { type: 'string', multiple: true },
      replay: { type: 'string', multiple: true },
      dectris: { type: 'string', multiple: true },
      jungfraujoch: { type: 'string', multiple: true },
      slurm: { type: 'string' },
      slurmrestd: { type: 'string' },
      'slurm-conf': { type: 'string' },
      'slurm-partition': { type: 'string' },
      'jobs-dir': { type: 'string' },
      'jobs-python': { type: 'string' },
      users: { type: 'string' },
      'data-root': { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'host-name': { type: 'string' },
      role: { type: 'string' },
      control: { type: 'string' },
      'sample-seed': { type: 'string' },
      store: { type: 'string' },
      lima2: { type: 'string', multiple: true },
      catalogue: { type: 'string' },
      beamline: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const cfg: ServerConfig = { ...DEFAULTS, token: env.DAQLAB_TOKEN || null };
  if (env.DAQLAB_SLURM && env.DAQLAB_SLURM !== 'local') cfg.slurm = env.DAQLAB_SLURM as ServerConfig['slurm'];
  cfg.slurmrestd = env.DAQLAB_SLURMRESTD_URL || null;
  cfg.slurmConf = env.DAQLAB_SLURM_CONF || null;
  if (env.DAQLAB_JOBS_DIR) cfg.jobsDir = env.DAQLAB_JOBS_DIR;
  cfg.users = env.DAQLAB_USERS || null;
  cfg.jupyterSecret = env.DAQLAB_JUPYTER_SECRET || null;
  if (env.DAQLAB_DATA_ROOTS) cfg.dataRoots = env.DAQLAB_DATA_ROOTS.split(delimiter).filter(Boolean);
  if (env.DAQLAB_STATE_DIR) cfg.stateDir = env.DAQLAB_STATE_DIR;
  if (env.DAQLAB_ALLOW_ORIGINS) cfg.allowOrigins = env.DAQLAB_ALLOW_ORIGINS.split(/[\s,]+/).filter(Boolean);
  if (env.DAQLAB_CATALOGUE) cfg.catalogue = env.DAQLAB_CATALOGUE;
  if (env.DAQLAB_BEAMLINE) cfg.beamline = env.DAQLAB_BEAMLINE;
  const role = values.role ?? null;
  if (role !== null && !ROLES.includes(role as Role)) throw new Error(`--role: expected ${ROLES.join(' or ')}, got ${role}`);
  const which = { hostName: values['host-name'] ?? env.DAQLAB_HOST_NAME ?? null, role: role as Role | null };
  if (values.config) Object.assign(cfg, fromFile(values.config, which));
  else if (which.hostName !== null) cfg.hostName = which.hostName; // a receiver registers under this name
  if (role !== null) cfg.role = role as Role;
  if (values.control !== undefined) cfg.control = values.control;
  if (cfg.control !== null && !/^wss?:\/\/[^\s/]+(\/ws)?\/?$/.test(cfg.control)) throw new Error(`--control: expected ws://HOST:PORT, got ${cfg.control}`);
  if (cfg.control !== null && !/\/ws$/.test(cfg.control)) cfg.control = `${cfg.control.replace(/\/$/, '')}/ws`;
  if (values.host !== undefined) cfg.host = values.host;
  if (values.port !== undefined) cfg.port = Number(values.port);
  if (values.detector) cfg.detectors = values.detector.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  if (values['memory-budget'] !== undefined) cfg.memoryBudget = parseSize(values['memory-budget'], '--memory-budget');
  if (values.token !== undefined) cfg.token = values.token || null;
  if (values.plugin) cfg.plugins = [...cfg.plugins, ...values.plugin];
  if (values.replay) cfg.replays = [...cfg.replays, ...values.replay];
  if (values.dectris) cfg.dectris = [...cfg.dectris, ...values.dectris];
  for (const d of cfg.dectris) parseDectrisAddress(d); // a typo fails at start, naming the option
  if (values.jungfraujoch) cfg.jungfraujoch = [...cfg.jungfraujoch, ...values.jungfraujoch];
  for (const j of cfg.jungfraujoch) parseJungfraujochAddress(j);
  if (values.slurm !== undefined) cfg.slurm = values.slurm as ServerConfig['slurm'];
  if (values.slurmrestd !== undefined) cfg.slurmrestd = values.slurmrestd || null;
  if (values['slurm-conf'] !== undefined) cfg.slurmConf = values['slurm-conf'] || null;
  if (values['slurm-partition'] !== undefined) cfg.slurmPartition = values['slurm-partition'] || null;
  if (values['jobs-dir'] !== undefined) cfg.jobsDir = values['jobs-dir'];
  if (env.DAQLAB_JOBS_PYTHON) cfg.jobsPython = env.DAQLAB_JOBS_PYTHON;
  if (values['jobs-python'] !== undefined) cfg.jobsPython = values['jobs-python'] || null;
  if (values.users !== undefined) cfg.users = values.users || null;
  if (values['data-root']) cfg.dataRoots = values['data-root'];
  if (values['state-dir'] !== undefined) cfg.stateDir = values['state-dir'];
  if (values['allow-origin']) cfg.allowOrigins = [...cfg.allowOrigins, ...values['allow-origin']];
  const seed = values['sample-seed'] ?? env.DAQLAB_SAMPLE_SEED;
  if (seed !== undefined) {
    cfg.sampleSeed = Number(seed);
    if (!Number.isSafeInteger(cfg.sampleSeed) || cfg.sampleSeed < 0) throw new Error(`--sample-seed: expected an integer ≥ 0, got ${seed}`);
  }
  if (values.store !== undefined) cfg.store = values.store;
  parseStore(cfg.store, values.store !== undefined ? '--store' : 'store', Boolean(env.DAQLAB_REDIS_PASSWORD)); // a wrong URL fails at start, naming the option (never showing a password)
  if (values.lima2) cfg.lima2 = [...cfg.lima2, ...values.lima2];
  for (const spec of cfg.lima2) parseLima2Spec(spec); // a typo fails at start, naming the option
  if (values.catalogue !== undefined) cfg.catalogue = values.catalogue;
  if (values.beamline !== undefined) cfg.beamline = values.beamline;
  resolvePaths(cfg, true);
  catalogueTarget(cfg);
  if (!['rest', 'cli', 'auto', 'off'].includes(cfg.slurm)) throw new Error(`--slurm: expected rest, cli, auto or off, got ${cfg.slurm}`);
  if (cfg.slurmrestd !== null && !/^https?:\/\/[^\s]+$/.test(cfg.slurmrestd)) throw new Error(`--slurmrestd: expected http://host:port, got ${cfg.slurmrestd}`);
  if (values['log-level'] !== undefined) cfg.logLevel = values['log-level'] as ServerConfig['logLevel'];
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new Error(`--port: expected 0–65535, got ${cfg.port}`);
  if (!['debug', 'info', 'warn', 'error'].includes(cfg.logLevel)) throw new Error(`--log-level: expected debug, info, warn or error, got ${cfg.logLevel}`);
  if (!(cfg.memoryBudget > 0)) throw new Error('--memory-budget: must be positive');
  if (cfg.role === 'receiver' && cfg.control === null) throw new Error('--role receiver: needs its control server: --control ws://HOST:PORT (or a topology file)');
  if (cfg.role === 'receiver' && !cfg.token && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(new URL(cfg.control!).hostname)) {
    throw new Error(`--token: a receiver needs the control server's token to register with ${cfg.control} (off loopback)`);
  }
  return cfg;
}
