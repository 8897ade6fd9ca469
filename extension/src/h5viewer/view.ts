/**
 * The HDF5/NeXus viewer: h5web's App (@h5web/app) in a Lumino widget, fed by H5GroveProvider
 * from our h5grove endpoint (fetcher.ts). h5web follows NeXus `@default` from the root, so a
 * daqlab master opens on its default plot; zoom/pan, colour limits, mosaic/compare and export
 * are h5web's. React and react-dom are JupyterLab's own (shared singletons, not bundled); h5web
 * (with three.js, ~1.3 MB) is a chunk of its own, loaded when the first file is opened, not with
 * JupyterLab.
 */
import { Widget } from '@lumino/widgets';
import { createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { groveUrl, jupyterFetcher } from './fetcher.js';

export interface H5WebOptions {
  /** the file, relative to the Jupyter root directory */
  path: string;
  baseUrl: string;
  token: string;
}

export class H5WebWidget extends Widget {
  private root: Root | null = null;

  constructor(private readonly options: H5WebOptions) {
    super();
    this.addClass('daqlab-h5web');
    this.node.dataset.path = options.path;
  }

  protected override onAfterAttach(): void {
    if (this.root) {
      return;
    }
    const { path, baseUrl, token } = this.options;
    const root = (this.root = createRoot(this.node));
    void import('@h5web/app').then(({ App, H5GroveProvider }) => {
      if (this.root !== root) return; // disposed meanwhile
      root.render(
        createElement(
          H5GroveProvider,
          { url: groveUrl(baseUrl), filepath: path, fetcher: jupyterFetcher(token) },
          createElement(App, { sidebarOpen: true, disableDarkMode: true }),
        ),
      );
    });
  }

  override dispose(): void {
    this.root?.unmount();
    this.root = null;
    super.dispose();
  }
}
