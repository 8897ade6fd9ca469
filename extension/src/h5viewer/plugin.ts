/**
 * Registers the HDF5/NeXus viewer (h5web, view.ts) with JupyterLab's document registry: a file
 * type for .h5 .hdf5 .nxs .nx .cxi, a model factory that never loads the file's content (files
 * can be many GB: h5web reads through the server extension's h5grove endpoint instead), and the
 * widget factory, default for that file type (double-click opens it; also under "Open With").
 */
import { ABCWidgetFactory, DocumentWidget, TextModelFactory, type DocumentRegistry } from '@jupyterlab/docregistry';
import { PageConfig } from '@jupyterlab/coreutils';
import { H5WebWidget } from './view.js';

import { EXTENSIONS, FACTORY, FILE_TYPE } from './names.js';

export { EXTENSIONS, FACTORY, FILE_TYPE };
const MODEL = 'daqlab-h5-nocontent';

/** What the viewer uses of the JupyterLab application. */
export interface H5LabApp {
  docRegistry: {
    addFileType(ft: DocumentRegistry.IFileType): unknown;
    addModelFactory(f: TextModelFactory): unknown;
    addWidgetFactory(f: ABCWidgetFactory<DocumentWidget<H5WebWidget>>): unknown;
  };
}

/** The context asks the Contents API for metadata only (fileFormat null: no content, no hash). */
class NoContentModelFactory extends TextModelFactory {
  override get name(): string {
    return MODEL;
  }
  override get fileFormat(): null {
    return null;
  }
}

class H5ViewerFactory extends ABCWidgetFactory<DocumentWidget<H5WebWidget>> {
  protected createNewWidget(context: DocumentRegistry.IContext): DocumentWidget<H5WebWidget> {
    const content = new H5WebWidget({
      path: context.localPath ?? context.path,
      baseUrl: PageConfig.getBaseUrl(),
      token: PageConfig.getToken(),
    });
    const widget = new DocumentWidget({ content, context });
    widget.addClass('daqlab-h5-document');
    return widget;
  }
}

export function registerH5Viewer(app: H5LabApp): void {
  app.docRegistry.addFileType({
    name: FILE_TYPE,
    displayName: 'HDF5 / NeXus',
    extensions: EXTENSIONS,
    mimeTypes: ['application/x-hdf5'],
    contentType: 'file',
    fileFormat: null,
    iconClass: 'daqlab-h5-icon',
  });
  app.docRegistry.addModelFactory(new NoContentModelFactory(false));
  app.docRegistry.addWidgetFactory(
    new H5ViewerFactory({
      name: FACTORY,
      label: 'daqlab HDF5 viewer',
      fileTypes: [FILE_TYPE],
      defaultFor: [FILE_TYPE],
      readOnly: true,
      modelName: MODEL,
      preferKernel: false,
      canStartKernel: false,
    }),
  );
}
