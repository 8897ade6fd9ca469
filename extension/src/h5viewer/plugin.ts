/**
 * Registers the HDF5/NeXus viewer with JupyterLab's document registry: a file type for
 * .h5 .hdf5 .nxs .nx .cxi, a model factory that never loads the file's content (files can be
 * many GB: the viewer reads through the server extension instead), and the widget factory,
 * default for that file type (double-click opens it; also under "Open With").
 */
import { ABCWidgetFactory, DocumentWidget, TextModelFactory, type DocumentRegistry } from '@jupyterlab/docregistry';
import { PageConfig } from '@jupyterlab/coreutils';
import { JupyterH5Provider } from './jupyter-provider.js';
import { H5ViewerWidget } from './view.js';

export const FILE_TYPE = 'daqlab-hdf5';
export const FACTORY = 'daqlab HDF5 viewer';
const MODEL = 'daqlab-h5-nocontent';
export const EXTENSIONS = ['.h5', '.hdf5', '.nxs', '.nx', '.cxi'];

/** What the viewer uses of the JupyterLab application. */
export interface H5LabApp {
  docRegistry: {
    addFileType(ft: DocumentRegistry.IFileType): unknown;
    addModelFactory(f: TextModelFactory): unknown;
    addWidgetFactory(f: ABCWidgetFactory<DocumentWidget<H5ViewerWidget>>): unknown;
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

class H5ViewerFactory extends ABCWidgetFactory<DocumentWidget<H5ViewerWidget>> {
  protected createNewWidget(context: DocumentRegistry.IContext): DocumentWidget<H5ViewerWidget> {
    const provider = new JupyterH5Provider(context.localPath ?? context.path, {
      baseUrl: PageConfig.getBaseUrl(),
      token: PageConfig.getToken(),
    });
    const content = new H5ViewerWidget(provider);
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
