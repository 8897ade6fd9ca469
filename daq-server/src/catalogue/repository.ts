/** The catalogue's storage, one interface for every backend (sqlite.ts, postgres/). */
import type { DataFile, Dataset, DatasetQuery, Instrument, Proposal, PublishedData, Sample, Visibility } from './types.js';

export interface CatalogueRepository {
  readonly kind: string;
  putInstrument(i: Instrument): void;
  instruments(): Instrument[];
  /** insert or replace (staff register proposals; the user office would, at a facility) */
  putProposal(p: Proposal): void;
  proposal(id: string): Proposal | null;
  proposals(v: Visibility, limit: number, skip: number): Proposal[];
  addSample(s: Sample): void;
  sample(proposal: string, name: string): Sample | null;
  sampleByPid(pid: string): Sample | null;
  samples(v: Visibility, proposal: string | null, limit: number, skip: number): Sample[];
  addDataset(d: Dataset): void;
  dataset(pid: string, v: Visibility): Dataset | null;
  datasets(q: DatasetQuery, v: Visibility): Dataset[];
  countDatasets(q: DatasetQuery, v: Visibility): number;
  /** add (or update, by path) files of a dataset, and grow its size by theirs */
  addDatafiles(pid: string, files: DataFile[]): void;
  /** is a policy dataset name (folder) already used for this proposal and sample? */
  /** the pid of the dataset a scan became (no visibility: internal, for derived datasets and captures) */
  pidOfScan(scanKey: string): string | null;
  collectionUsed(proposal: string, sample: string, collection: string): boolean;
  /** insert or replace a DOI's record */
  putPublished(p: PublishedData): void;
  /** no visibility: the service decides (landing pages are public once findable) */
  publishedByDoi(doi: string): PublishedData | null;
  published(v: Visibility, limit: number, skip: number): PublishedData[];
  close(): void;
}
