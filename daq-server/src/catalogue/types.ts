/** The catalogue's entities (the ICAT/SciCat model, reduced to what daqlab records). */

export const TEAM_ROLES = ['principal-investigator', 'co-proposer', 'local-contact', 'member'] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

export interface Instrument {
  name: string;
  title: string;
}

export interface Proposal {
  id: string;
  title: string;
  abstract: string;
  beamline: string;
  team: { user: string; role: TeamRole }[];
  /** the session (ISO times) */
  start: string;
  end: string;
  /** when the data becomes public (ISO); default end of session + 3 years */
  releaseDate: string;
}

export interface Sample {
  pid: string;
  proposal: string;
  name: string;
  description: string;
  created: string;
}

export interface DataFile {
  path: string;
  size: number;
  /** hex sha256; null when the file could not be read */
  sha256: string | null;
  mtime: string | null;
}

export interface Dataset {
  pid: string;
  /** e.g. the scan's file prefix (`ascan_0003`) */
  name: string;
  type: 'raw' | 'derived';
  proposal: string;
  sample: string;
  beamline: string;
  /** the policy's dataset (folder `<sample>_<dataset>`) it belongs to */
  collection: string;
  title: string;
  description: string;
  created: string;
  end: string | null;
  scanKey: string | null;
  folder: string;
  /** run description, detector info, timing, processing parameters (JSON) */
  metadata: Record<string, unknown>;
  /** derived datasets: the pids of their sources */
  sources: string[];
  files: DataFile[];
  size: number;
}

export interface PublishedData {
  doi: string;
  title: string;
  abstract: string;
  creators: string[];
  publisher: string;
  year: number;
  datasets: string[];
  status: DoiState;
  created: string;
  /** the proposal whose data it cites */
  proposal: string;
  /** one or more datasets, or a proposal's whole session */
  kind: 'dataset' | 'session';
  updated: string;
}

/** DataCite's states of a DOI, in the only order they may change. */
export const DOI_STATES = ['draft', 'registered', 'findable'] as const;
export type DoiState = (typeof DOI_STATES)[number];

/** A query of datasets; `visible` narrows it to what a principal may read. */
export interface DatasetQuery {
  proposal?: string;
  sample?: string;
  /** words, each in name, title, description, sample or the scan key (case-insensitive) */
  text?: string;
  type?: 'raw' | 'derived';
  pid?: string;
  collection?: string;
  limit: number;
  skip: number;
  order?: 'created' | '-created';
}

/** What a reader may see, as the repository applies it in SQL. */
export interface Visibility {
  all: boolean;
  /** proposals of which the reader is a member (by the users file) */
  proposals: string[];
  /** a user name looked up in the proposals' teams (null: none) */
  user: string | null;
  /** beamlines of which the reader is staff ('*': every) */
  beamlines: string[];
  /** released: proposals whose release date is before this (ISO) */
  now: string;
}

export const MAX_LIMIT = 1000;
