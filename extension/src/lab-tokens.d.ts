/**
 * The one JupyterLab service we use from @jupyterlab/apputils, declared here so the
 * extension does not pull that package (and its UI stack) into its build: at run time
 * the token comes from JupyterLab itself (a shared core module, never bundled).
 */
declare module '@jupyterlab/apputils' {
  import type { Token } from '@lumino/coreutils';
  export interface ICommandPalette {
    addItem(options: { command: string; category: string; args?: Record<string, unknown>; rank?: number }): { dispose(): void };
  }
  export const ICommandPalette: Token<ICommandPalette>;
}
