#!/usr/bin/env node
/** `daqlab-server`: start the acquisition server (see --help). */
import { DEFAULTS, USAGE, parseConfig } from './config.js';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { startServer } from './index.js';
import { linkToControl } from './processing/receivers/remote/link.js';
import { registration } from './processing/receivers/remote/registration.js';
import { ReceiverHostService } from './processing/receivers/remote/host.js';
import { log, setLogLevel } from './log.js';
import { PROTOCOL_VERSION } from './protocol/index.js';
import { VERSION } from './version.js';

/** The longest a clean shutdown may take before the process exits regardless. */
const SHUTDOWN_MS = 3000;

async function main(): Promise<void> {
  // before any parsing: `--version` answers even beside options this build does not know
  if (process.argv.includes('--version')) {
    process.stdout.write(`daqlab-server ${VERSION} (protocol ${PROTOCOL_VERSION}, node ${process.versions.node})\n`);
    return;
  }
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
  if (cfg.role === 'receiver') {
    // register with the control server; a refusal ends this process (it cannot serve its topology)
    const name = cfg.hostName ?? hostname().split('.')[0];
    const address = ['0.0.0.0', '::'].includes(cfg.host) ? hostname() : cfg.host;
    // the frame path: runs the control server places here (pipelines on this host's threads, results sent back)
    const host = new ReceiverHostService(server.service.steps, (batch) => link.call('receivers.results', { ...batch }));
    const link = linkToControl({
      control: cfg.control!,
      token: cfg.token,
      registration: registration(name, address, (server.http.address() as AddressInfo).port, server.service.steps),
      onRequest: (req) => host.handle(req),
      onLost: () => host.lost(),
      onRefused: (reason) => {
        log('error', `the control server refused this receiver host: ${reason}`);
        void server.close().finally(() => process.exit(1));
      },
    });
    const close = server.close;
    server.close = async () => {
      link.close();
      await close();
    };
  }
  // Shutdown is bounded whatever is running: a clean close gets SHUTDOWN_MS, then the process exits anyway
  // (writers and receivers are worker threads; what they flushed is on disk), and a second signal exits at once.
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log('warn', `${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log('info', `${signal}: shutting down`);
    setTimeout(() => {
      log('warn', `shutdown took longer than ${SHUTDOWN_MS / 1000} s: exiting`);
      process.exit(0);
    }, SHUTDOWN_MS).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
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
