/**
 * The viewer's one data interface (h5web's idea): the UI asks a DataProvider and never
 * knows where the file is. `JupyterH5Provider` asks the Jupyter server extension;
 * `MockProvider` answers from memory, so the UI logic is tested in Node without a server.
 */
import type { Attr, EntityMeta, NxPlot, Slice, Values } from './types.js';

export interface DataProvider {
  /** the file's name, for titles */
  readonly file: string;
  /** a group (with its children) or a dataset at `path` */
  meta(path: string): Promise<EntityMeta>;
  /** every attribute of `path`, long arrays included */
  attrs(path: string): Promise<Attr[]>;
  /** the NXdata plot `path`'s `@default` chain ends on (`/`: the file's default plot) */
  nxDefault(path: string): Promise<NxPlot>;
  /**
   * Numbers of a hyperslab, `select` like `"3,:,10:20"` (missing trailing dimensions are
   * whole); binned on the way so the result has at most `maxPixels` values.
   */
  slice(path: string, select: string, maxPixels?: number): Promise<Slice>;
  /** a small selection as JSON values, any dtype (scalars, strings, the value table) */
  values(path: string, select?: string): Promise<Values>;
}

/** Errors from a provider: the message says what was wrong (the server's reason). */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly status = 0,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
