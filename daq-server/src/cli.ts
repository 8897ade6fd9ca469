#!/usr/bin/env node
/** `daqlab-server`: start the acquisition server (see --help). */
import { DEFAULTS, USAGE, parseConfig } from './config.js';
import { startServer } from './index.js';
import { log, setLogLevel } from './log.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`daqlab-server: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (cfg === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  setLogLevel(cfg.logLevel);
  let server;
  try {
    server = await startServer(cfg);
  } catch (err) {
    process.stderr.write(`daqlab-server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (cfg.port === DEFAULTS.port) process.title = 'daqlab-server';
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: shutting down`);
    void server.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // announced last, once the signal handlers are in place: tests and the start script wait for this line
  log('info', `daqlab-server listening on ${server.url}`, {
    detectors: [...server.service.controllers.keys()].join(','),
    memory_budget: cfg.memoryBudget,
    token: cfg.token ? 'required' : 'none',
  });
}

process.on('uncaughtException', (err) => log('error', 'uncaught exception (server keeps running)', { error: String(err.stack) }));
process.on('unhandledRejection', (err) => log('error', 'unhandled rejection (server keeps running)', { error: String(err) }));

void main();
