/**
 * The part of @jupyterlab/docregistry the viewer uses, typed here. At run time the module
 * is JupyterLab's own (a shared core package the labextension builder never bundles), so it
 * is not an npm dependency: this keeps the extension's build free of JupyterLab's
 * application packages, as panel.ts's `LabApp` does for @jupyterlab/application.
 */
declare module '@jupyterlab/docregistry' {
  import type { Widget } from '@lumino/widgets';

  export type FileFormat = 'json' | 'text' | 'base64' | null;

  export namespace DocumentRegistry {
    interface IContext {
      readonly path: string;
      readonly localPath: string;
      readonly ready: Promise<void>;
    }
    interface IFileType {
      name: string;
      displayName?: string;
      extensions: string[];
      mimeTypes?: string[];
      contentType?: 'file';
      fileFormat?: FileFormat;
      iconClass?: string;
    }
    interface IWidgetFactoryOptions {
      name: string;
      label?: string;
      fileTypes: string[];
      defaultFor?: string[];
      defaultRendered?: string[];
      readOnly?: boolean;
      modelName?: string;
      preferKernel?: boolean;
      canStartKernel?: boolean;
    }
  }

  export class DocumentWidget<T extends Widget = Widget> extends Widget {
    constructor(options: { content: T; context: DocumentRegistry.IContext });
    readonly content: T;
    readonly context: DocumentRegistry.IContext;
  }

  export abstract class ABCWidgetFactory<T extends Widget> {
    constructor(options: DocumentRegistry.IWidgetFactoryOptions);
    protected abstract createNewWidget(context: DocumentRegistry.IContext): T;
  }

  export class TextModelFactory {
    constructor(collaborationEnabled?: boolean);
    get name(): string;
    get fileFormat(): FileFormat;
  }
}
