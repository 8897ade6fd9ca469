/**
 * Acquisition states and the transitions allowed between them (LIMA2 model).
 *
 *   IDLE ──prepare──▶ PREPARED ──start──▶ RUNNING ──(done|stop|abort)──▶ STOPPED
 *     ▲                  │  ▲ prepare                                     │
 *     │                  └──┘                 STOPPED ──prepare──▶ PREPARED
 *     └──────reset────── FAULT ◀── (any failure, from any state)
 *   PREPARED ──abort──▶ IDLE
 */
import { DaqError, type AcqState } from '../protocol/index.js';

export type Command = 'prepare' | 'start' | 'trigger' | 'stop' | 'abort' | 'reset';

const ALLOWED: Record<Command, readonly AcqState[]> = {
  prepare: ['IDLE', 'PREPARED', 'STOPPED'],
  start: ['PREPARED'],
  trigger: ['RUNNING'],
  stop: ['RUNNING'],
  abort: ['PREPARED', 'RUNNING'],
  reset: ['FAULT', 'IDLE', 'STOPPED'],
};

const HINT: Partial<Record<AcqState, string>> = {
  IDLE: 'nothing is prepared: call prepare first',
  PREPARED: 'the acquisition is prepared but not started',
  RUNNING: 'an acquisition is running: stop or abort it first',
  STOPPED: 'the acquisition has ended: prepare a new one',
  FAULT: 'the detector is in FAULT: call reset first',
};

export function allowed(command: Command, state: AcqState): boolean {
  return ALLOWED[command].includes(state);
}

/** Throw a StateError saying what was refused, in which state, and what to do. */
export function assertAllowed(command: Command, state: AcqState, subject: string): void {
  if (allowed(command, state)) return;
  const hint = HINT[state] ? `: ${HINT[state]}` : '';
  throw new DaqError('StateError', `cannot ${command} ${subject} in state ${state}${hint}`, undefined, {
    state,
    command,
    allowed_in: [...ALLOWED[command]],
  });
}
