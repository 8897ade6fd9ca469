/**
 * Batch templates: the jobs a cluster runs on a saved scan, each a pipeline
 * of the online processing with default parameters. A template is a row of
 * this table, not code: the runner is the same for all, so a new pipeline
 * (e.g. `tomo`) becomes a batch job by adding a row — or by naming the
 * pipeline itself as the template.
 */
import { PIPELINES } from '../processing/pipelines.js';

export interface BatchTemplate {
  name: string;
  /** the online pipeline it runs */
  pipeline: string;
  description: string;
  /** processing parameters applied before the job's own (the job's win) */
  defaults: Record<string, unknown>;
  /**
   * Processing parameters taken from the source scan when it ran the same
   * pipeline online and the job does not give them (over `defaults`): a
   * replay then reproduces the online result without restating its settings.
   */
  inherit?: string[];
}

export const TEMPLATES: BatchTemplate[] = [
  { name: 'azint', pipeline: 'azint', description: 'azimuthal integration of a saved scan', defaults: {} },
  { name: 'smx', pipeline: 'smx', description: 'serial-crystallography hit finding on a saved scan', defaults: {} },
  {
    name: 'tomo',
    pipeline: 'tomo',
    description: 'tomography reconstruction of a saved scan',
    defaults: {},
    // what each frame is comes from the master's NXtomo (the replay detector's tomo_scan); the reconstruction settings from the online run
    inherit: ['filter', 'center_of_rotation', 'cor_search', 'slice_start', 'slice_stop'],
  },
  { name: 'xpcs', pipeline: 'xpcs', description: 'XPCS correlation of a saved scan', defaults: {} },
  { name: 'legacy', pipeline: 'legacy', description: 'LIMA2 legacy corrections and ROI statistics of a saved scan', defaults: {} },
];

/** The template of that name; any pipeline of this server is also a template of the same name. */
export function findTemplate(name: string): BatchTemplate | null {
  const row = TEMPLATES.find((t) => t.name === name);
  if (row) return row;
  const p = PIPELINES.find((x) => x.name === name && x.name !== 'none');
  return p ? { name, pipeline: p.name, description: p.description, defaults: {} } : null;
}

/** Templates whose pipeline this server has. */
export const templateNames = (): string[] =>
  [...new Set([...TEMPLATES.map((t) => t.name), ...PIPELINES.map((p) => p.name)])].filter((n) => n !== 'none' && PIPELINES.some((p) => p.name === findTemplate(n)?.pipeline));
