/**
 * Who may read what, decided at query time from the principal, the proposal and the clock (so no job
 * has to run when an embargo ends, and tests move the clock). Staff see their beamline, members their
 * proposal, everyone a proposal whose release date has passed; the operator sees everything.
 */
import type { Principal } from './principal.js';

/** The default embargo after the end of a session (ESRF: 3 years). */
export const EMBARGO_YEARS = 3;

export function defaultRelease(sessionEnd: Date, years = EMBARGO_YEARS): Date {
  const d = new Date(sessionEnd.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

export interface ProposalFacts {
  id: string;
  beamline: string;
  /** user names of the team */
  team: string[];
  releaseDate: Date;
}

export const isStaffOf = (p: Principal, beamline: string): boolean => p.operator || p.staffOf.includes('*') || p.staffOf.includes(beamline);
export const isMember = (p: Principal, prop: ProposalFacts): boolean => p.proposals.includes(prop.id) || (p.name !== 'public' && prop.team.includes(p.name));
export const isReleased = (prop: ProposalFacts, now: Date): boolean => prop.releaseDate.getTime() <= now.getTime();

export function canRead(p: Principal, prop: ProposalFacts, now: Date): boolean {
  return isStaffOf(p, prop.beamline) || isMember(p, prop) || isReleased(prop, now);
}

/** Writing (datasets, samples, policy): the operator, automation, staff of the beamline, members of the proposal. */
export function canWrite(p: Principal, prop: ProposalFacts): boolean {
  return p.operator || p.automation || isStaffOf(p, prop.beamline) || isMember(p, prop);
}

/** Registering proposals and changing their dates: the operator and staff of the beamline. */
export const canAdminister = (p: Principal, beamline: string): boolean => isStaffOf(p, beamline);
