/** Server configuration: defaults, then a JSON config file, then command-line flags. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

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
  slurm: 'auto',
  slurmrestd: null,
  slurmConf: null,
  slurmPartition: null,
  jobsDir: join(tmpdir(), 'daqlab-jobs'),
  jobsPython: null,
  users: null,
};

export const USAGE = `usage: daqlab-server [options]
  --host HOST            interface to bind (default 127.0.0.1; any other needs --token)
  --port PORT            TCP port (default 8765; 0 picks a free one)
  --detector NAME        offer only this detector (repeatable or comma-separated; default: all simulators)
  --config FILE          JSON file with any of: host, port, detectors, memory_budget, token, log_level, plugins
  --memory-budget SIZE   bytes of frames the in-memory store may hold, e.g. 4G, 512M (default 4G)
  --token TOKEN          require this token from clients (also $DAQLAB_TOKEN)
  --log-level LEVEL      debug | info | warn | error (default info)
  --plugin FILE          load processing steps from a JS module (repeatable; default export: a step or a list)
  --replay MASTER        offer a saved scan as detector replay-PREFIX (repeatable): its frames, replayed
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
  --help                 show this help`;

/** Parse sizes like 4G, 512M, 1.5GiB, 1000000. */
export function parseSize(text: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`${field}: expected a size like 4G, 512M or a number of bytes, got ${JSON.stringify(text)}`);
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * 1024 ** power);
}

function fromFile(path: string): Partial<ServerConfig> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`--config ${path}: ${(err as Error).message}`);
  }
  const known = ['host', 'port', 'detectors', 'memory_budget', 'token', 'log_level', 'plugins', 'replays'];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`--config ${path}: unknown field(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const out: Partial<ServerConfig> = {};
  if (raw.host !== undefined) out.host = String(raw.host);
  if (raw.port !== undefined) out.port = Number(raw.port);
  if (raw.detectors !== undefined) out.detectors = ([] as unknown[]).concat(raw.detectors).map(String);
  if (raw.memory_budget !== undefined) out.memoryBudget = parseSize(String(raw.memory_budget), 'memory_budget');
  if (raw.token !== undefined) out.token = raw.token === null ? null : String(raw.token);
  if (raw.log_level !== undefined) out.logLevel = raw.log_level as ServerConfig['logLevel'];
  if (raw.plugins !== undefined) out.plugins = ([] as unknown[]).concat(raw.plugins).map(String);
  if (raw.replays !== undefined) out.replays = ([] as unknown[]).concat(raw.replays).map(String);
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
      slurm: { type: 'string' },
      slurmrestd: { type: 'string' },
      'slurm-conf': { type: 'string' },
      'slurm-partition': { type: 'string' },
      'jobs-dir': { type: 'string' },
      'jobs-python': { type: 'string' },
      users: { type: 'string' },
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
  if (values.config) Object.assign(cfg, fromFile(values.config));
  if (values.host !== undefined) cfg.host = values.host;
  if (values.port !== undefined) cfg.port = Number(values.port);
  if (values.detector) cfg.detectors = values.detector.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  if (values['memory-budget'] !== undefined) cfg.memoryBudget = parseSize(values['memory-budget'], '--memory-budget');
  if (values.token !== undefined) cfg.token = values.token || null;
  if (values.plugin) cfg.plugins = [...cfg.plugins, ...values.plugin];
  if (values.replay) cfg.replays = [...cfg.replays, ...values.replay];
  if (values.slurm !== undefined) cfg.slurm = values.slurm as ServerConfig['slurm'];
  if (values.slurmrestd !== undefined) cfg.slurmrestd = values.slurmrestd || null;
  if (values['slurm-conf'] !== undefined) cfg.slurmConf = values['slurm-conf'] || null;
  if (values['slurm-partition'] !== undefined) cfg.slurmPartition = values['slurm-partition'] || null;
  if (values['jobs-dir'] !== undefined) cfg.jobsDir = values['jobs-dir'];
  if (env.DAQLAB_JOBS_PYTHON) cfg.jobsPython = env.DAQLAB_JOBS_PYTHON;
  if (values['jobs-python'] !== undefined) cfg.jobsPython = values['jobs-python'] || null;
  if (values.users !== undefined) cfg.users = values.users || null;
  if (!['rest', 'cli', 'auto', 'off'].includes(cfg.slurm)) throw new Error(`--slurm: expected rest, cli, auto or off, got ${cfg.slurm}`);
  if (cfg.slurmrestd !== null && !/^https?:\/\/[^\s]+$/.test(cfg.slurmrestd)) throw new Error(`--slurmrestd: expected http://host:port, got ${cfg.slurmrestd}`);
  if (values['log-level'] !== undefined) cfg.logLevel = values['log-level'] as ServerConfig['logLevel'];
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new Error(`--port: expected 0–65535, got ${cfg.port}`);
  if (!['debug', 'info', 'warn', 'error'].includes(cfg.logLevel)) throw new Error(`--log-level: expected debug, info, warn or error, got ${cfg.logLevel}`);
  if (!(cfg.memoryBudget > 0)) throw new Error('--memory-budget: must be positive');
  return cfg;
}
