/**
 * The catalogue's storage, one interface for every backend: asynchronous, so that no query holds the event loop
 * (SQLite runs in a worker thread, sqlite-thread.ts; PostgreSQL through an async pool with timeouts, postgres/).
 */
import { DaqError } from '../protocol/index.js';
import type { DataFile, Dataset, DatasetQuery, Instrument, Proposal, PublishedData, Sample, Visibility } from './types.js';

export interface CatalogueRepository {
  readonly kind: string;
  putInstrument(i: Instrument): Promise<void>;
  instruments(): Promise<Instrument[]>;
  /** insert or replace (staff register proposals; the user office would, at a facility) */
  putProposal(p: Proposal): Promise<void>;
  proposal(id: string): Promise<Proposal | null>;
  proposals(v: Visibility, limit: number, skip: number): Promise<Proposal[]>;
  addSample(s: Sample): Promise<void>;
  sample(proposal: string, name: string): Promise<Sample | null>;
  sampleByPid(pid: string): Promise<Sample | null>;
  samples(v: Visibility, proposal: string | null, limit: number, skip: number): Promise<Sample[]>;
  addDataset(d: Dataset): Promise<void>;
  dataset(pid: string, v: Visibility): Promise<Dataset | null>;
  datasets(q: DatasetQuery, v: Visibility): Promise<Dataset[]>;
  countDatasets(q: DatasetQuery, v: Visibility): Promise<number>;
  /** add (or update, by path) files of a dataset, and grow its size by theirs */
  addDatafiles(pid: string, files: DataFile[]): Promise<void>;
  /** the pid of the dataset a scan became (no visibility: internal, for derived datasets and captures) */
  pidOfScan(scanKey: string): Promise<string | null>;
  /** is a policy dataset name (folder) already used for this proposal and sample? */
  collectionUsed(proposal: string, sample: string, collection: string): Promise<boolean>;
  /** insert or replace a DOI's record */
  putPublished(p: PublishedData): Promise<void>;
  /** no visibility: the service decides (landing pages are public once findable) */
  publishedByDoi(doi: string): Promise<PublishedData | null>;
  published(v: Visibility, limit: number, skip: number): Promise<PublishedData[]>;
  close(): Promise<void>;
}

/** The operations of the repository (what a worker thread is asked to run). */
export type RepositoryOp = Exclude<keyof CatalogueRepository, 'kind'>;

/** The same operations answered synchronously: SQLite's engine (sqlite.ts), which only ever runs inside a worker. */
export type SyncRepository = { readonly kind: string } & {
  [K in RepositoryOp]: (...args: Parameters<CatalogueRepository[K]>) => Awaited<ReturnType<CatalogueRepository[K]>>;
};

/** The database did not answer in time (or not at all): the caller's request fails, the event loop never waits. */
export class CatalogueTimeout extends DaqError {
  constructor(message: string) {
    super('TimeoutError', message);
  }
}
