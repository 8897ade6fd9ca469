/**
 * What the HDF5 viewer's data providers return: the JSON of the server extension's
 * `meta`, `attrs` and `nxdefault` endpoints and the decoded `data` responses
 * (docs/PROTOCOL.md, "HDF5 viewer"). One definition for every provider.
 */

/** `forbidden`: a link that leads out of the Jupyter root (or to a FIFO, device…): not followed */
export type EntityKind = 'group' | 'dataset' | 'datatype' | 'missing' | 'forbidden' | 'unknown';
export type LinkKind = 'hard' | 'soft' | 'external';

export interface Attr {
  name: string;
  dtype?: string;
  shape?: number[];
  value?: unknown;
  /** a long array left out of `meta` (ask `attrs`) */
  truncated?: boolean;
  error?: string;
}

/** One member of a group, its link followed. */
export interface Child {
  name: string;
  link: LinkKind;
  /** soft/external link: the path it points to */
  target?: string;
  /** external link: the file */
  file?: string;
  kind: EntityKind;
  nx_class?: string | null;
  default?: string;
  shape?: number[] | null;
  dtype?: string;
  virtual?: boolean;
  error?: string;
}

export interface VdsInfo {
  count: number;
  /** `forbidden`: why the server will not read through this source (outside the Jupyter root…) */
  sources: { file: string; dataset: string; bounds: number[][]; forbidden?: string }[];
}

/** A group or dataset with its attributes; a group's children one level down. */
export interface EntityMeta extends Omit<Child, 'link'> {
  path: string;
  link?: LinkKind;
  attrs: Attr[];
  children?: Child[];
  truncated?: boolean;
  ndim?: number;
  chunks?: number[] | null;
  filters?: string[];
  nbytes?: number;
  vds?: VdsInfo;
}

export interface AxisInfo {
  name: string;
  path: string;
  shape: number[];
  units: string | null;
  long_name: string | null;
}

/** The NXdata a `@default` chain ends on; `path: null` when there is none. */
export interface NxPlot {
  path: string | null;
  signal?: { name: string; path: string; shape: number[]; dtype: string; units: string | null; long_name: string | null };
  /** one per signal dimension, null where the NXdata names none */
  axes?: (AxisInfo | null)[];
  errors?: string | null;
  interpretation?: string | null;
  title?: string | null;
}

/** Numeric data as the browser receives it (64-bit integers arrive as float64). */
export type NumArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

export interface SliceHeader {
  path: string;
  dtype: string;
  source_dtype: string;
  /** shape of `data` (after binning) */
  shape: number[];
  source_shape: number[];
  select: string;
  /** shape of the selection before binning */
  selected_shape: number[];
  binning: number;
  method: 'none' | 'mean' | 'stride';
  nbytes: number;
}

export interface Slice {
  header: SliceHeader;
  data: NumArray;
}

/** A selection read as JSON values (any dtype; small selections only). */
export interface Values {
  path: string;
  dtype: string;
  shape: number[] | null;
  value: unknown;
}
