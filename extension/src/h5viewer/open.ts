/**
 * "Open in viewer" for a saved scan: the daqlab server reports its master as an absolute path;
 * the viewer (and the file browser) know files by their path under Jupyter's root directory.
 */
import { FACTORY } from './names.js';

export const OPEN_IN_VIEWER = 'daqlab:open-in-viewer';

/** `file` relative to `root` (both absolute, '/'-separated), or null when it is not under it. */
export function underRoot(file: string, root: string): string | null {
  if (!file.startsWith('/') || !root.startsWith('/') || file.split('/').includes('..')) return null;
  const norm = (p: string) => p.replace(/\/+/g, '/').replace(/\/$/, '');
  const f = norm(file);
  const r = norm(root);
  if (r === '') return f.slice(1);
  return f.startsWith(r + '/') ? f.slice(r.length + 1) : null;
}

export interface ViewerCommands {
  addCommand(id: string, options: { label: string; execute: (args: Record<string, unknown>) => unknown }): unknown;
  execute(id: string, args?: Record<string, unknown>): Promise<unknown>;
}

/** `daqlab:open-in-viewer {path}`: open a file (relative to Jupyter's root) in the HDF5 viewer. */
export function addOpenInViewer(commands: ViewerCommands): void {
  commands.addCommand(OPEN_IN_VIEWER, {
    label: 'Open in the HDF5 viewer',
    execute: (args) => commands.execute('docmanager:open', { path: String(args.path ?? ''), factory: FACTORY }),
  });
}
