/**
 * Who may read and write which logbook entries: the access rules of access/ applied to what an entry
 * is attached to. An entry of a proposal (its session, sample or dataset included) follows that
 * proposal: its members and the staff of its beamline read and write it, automation writes it, anyone
 * reads it once the proposal is released. An entry of no proposal is the beamline's own logbook: its
 * staff read and write it, automation writes it. Entries naming a proposal the catalogue does not know
 * are the operator's (and all-beamline staff's) only: nobody else could be said to own them.
 *
 * The proposals themselves are the catalogue's (ProposalDirectory); without a catalogue there is no
 * identity model and everyone is the operator, as on every other path. The catalogue answers asynchronously:
 * the facts of a proposal are read beforehand (`know`, awaited by the logbook's callers) and the decisions
 * below are taken synchronously from them; a proposal whose facts are not at hand is refused (fail closed).
 * The logbook's own SQLite stays synchronous (moving it off the event loop is the next step).
 */
import { DaqError } from '../protocol/index.js';
import { canRead, canWrite, isStaffOf, type Principal, type ProposalFacts } from '../access/index.js';
import type { LogbookScope } from './types.js';

/** What the logbook needs to know of proposals (catalogue/service.ts implements it). */
export interface ProposalDirectory {
  /** the facts of a registered proposal as at hand, null when there is none (or they were not read yet) */
  proposalFacts(id: string): ProposalFacts | null;
  /** read the facts of these proposals, so that proposalFacts has them */
  know(ids: Iterable<string>): Promise<void>;
  /** every proposal `p` may read (bounded by the catalogue) */
  readableProposalIds(p: Principal): Promise<string[]>;
  now(): Date;
}

/** What an entry is attached to, as far as access goes. */
export interface EntryPlace {
  proposal?: string | null;
  beamline?: string | null;
}

const everything = (p: Principal): boolean => p.operator || p.staffOf.includes('*');

export class LogbookAccess {
  constructor(private readonly dir: ProposalDirectory | null) {}

  /** The entries a search or statistics may count for `p`; null: every entry. */
  async scope(p: Principal): Promise<LogbookScope | null> {
    if (!this.dir || everything(p)) return null;
    return { proposals: await this.dir.readableProposalIds(p), beamlines: p.staffOf };
  }

  /** Have the facts of the places' proposals at hand for the synchronous decisions below. */
  async know(p: Principal, places: (EntryPlace | null | undefined)[]): Promise<void> {
    if (!this.dir || everything(p)) return;
    await this.dir.know(places.map((e) => e?.proposal ?? '').filter(Boolean));
  }

  canRead(p: Principal, e: EntryPlace): boolean {
    if (!this.dir || everything(p)) return true;
    if (e.proposal) {
      const facts = this.dir.proposalFacts(e.proposal);
      return !!facts && canRead(p, facts, this.dir.now());
    }
    return !!e.beamline && isStaffOf(p, e.beamline);
  }

  /**
   * Refused unless `p` may write an entry attached to `e`. The refusal of a proposal `p` may not read
   * is the same whether it exists or not (the catalogue's wording), so nothing leaks.
   */
  requireWrite(p: Principal, e: EntryPlace): void {
    if (!this.dir || everything(p)) return;
    if (e.proposal) {
      const facts = this.dir.proposalFacts(e.proposal);
      if (!facts || !(canRead(p, facts, this.dir.now()) || p.automation)) {
        throw new DaqError('NotFoundError', `proposal ${JSON.stringify(e.proposal)}: no such proposal that ${p.name} may read (members, staff of its beamline, or everyone once released)`, [
          { field: 'proposal', message: 'no such proposal readable by you' },
        ]);
      }
      if (!canWrite(p, facts)) {
        throw new DaqError('AuthError', `proposal ${e.proposal}: ${p.name} may read its logbook but not write to it (members, staff of its beamline, automation)`, [
          { field: 'proposal', message: 'read only for you' },
        ]);
      }
      return;
    }
    if (p.automation || (e.beamline && isStaffOf(p, e.beamline))) return;
    throw new DaqError('AuthError', `beamline: the logbook of beamline ${e.beamline ?? '(none named)'} is written by its staff and automation; ${p.name} writes to a proposal's logbook: name the proposal`, [
      { field: 'proposal', message: 'required: the proposal this entry belongs to' },
    ]);
  }

  /** The stats of one proposal are refused as its reading would be. */
  requireReadProposal(p: Principal, proposal: string): void {
    if (!this.canRead(p, { proposal })) {
      throw new DaqError('NotFoundError', `proposal ${JSON.stringify(proposal)}: no such proposal that ${p.name} may read (members, staff of its beamline, or everyone once released)`, [
        { field: 'proposal', message: 'no such proposal readable by you' },
      ]);
    }
  }
}
