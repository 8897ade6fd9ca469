/**
 * LIMA2's processing classes as lima2-client 4.3 describes them (lima2/common/pipelines.py,
 * lima2/conductor/processing/*.py): class name, frame sources (frame type, the processing
 * params key of their saving, the label of their progress counter `nb_frames_{label}`), the
 * static reduced data sources and the main progress indicator. Each class maps onto one
 * daqlab pipeline.
 */

/** lima2/common/types.py FrameType */
export type Lima2FrameType = 'DENSE' | 'SPARSE' | 'SMX_SPARSE' | 'VECTOR';

export interface FrameSourceDef {
  frameType: Lima2FrameType;
  /** processing params key of its saving parameters (null: never saved) */
  savingChannel: string | null;
  /** progress counter nb_frames_{label} (null: the class's main indicator) */
  label: string | null;
}

export interface ClassDef {
  /** LIMA2 class name (TANGO_CLASS) */
  name: string;
  /** the daqlab pipeline it runs as */
  pipeline: 'legacy' | 'smx' | 'azint' | 'xpcs';
  frameSources: Record<string, FrameSourceDef>;
  /** static reduced data sources (roi_stats is added when ROIs are defined, like the conductor does) */
  reducedData: string[];
  progressIndicator: string;
}

export const CLASSES: ClassDef[] = [
  {
    // pipelines.py `legacy`; conductor/processing/legacy.py PROGRESS_INDICATOR
    name: 'LimaProcessingLegacy',
    pipeline: 'legacy',
    frameSources: {
      input_frame: { frameType: 'DENSE', savingChannel: null, label: 'input' },
      frame: { frameType: 'DENSE', savingChannel: 'saving', label: 'processed' },
    },
    reducedData: [],
    progressIndicator: 'nb_frames_processed',
  },
  {
    // pipelines.py `smx`
    name: 'LimaProcessingSmx',
    pipeline: 'smx',
    frameSources: {
      frame: { frameType: 'DENSE', savingChannel: 'saving_dense', label: 'input' },
      sparse_frame: { frameType: 'SMX_SPARSE', savingChannel: 'saving_sparse', label: 'sparse' },
      acc_corrected: { frameType: 'DENSE', savingChannel: 'saving_accumulation_corrected', label: null },
      acc_peaks: { frameType: 'DENSE', savingChannel: 'saving_accumulation_peak', label: null },
    },
    reducedData: ['nb_peaks'],
    progressIndicator: 'nb_frames_sparse',
  },
  {
    // pipelines.py `fai`
    name: 'LimaProcessingFai',
    pipeline: 'azint',
    frameSources: {
      frame: { frameType: 'DENSE', savingChannel: 'saving_dense', label: 'source' },
      fai_averint: { frameType: 'VECTOR', savingChannel: 'saving_fai', label: 'integrated' },
    },
    reducedData: [],
    progressIndicator: 'nb_frames_integrated',
  },
  {
    // pipelines.py `xpcs`; conductor/processing/xpcs.py PROGRESS_INDICATOR
    name: 'LimaProcessingXpcs',
    pipeline: 'xpcs',
    frameSources: {
      input_frame: { frameType: 'DENSE', savingChannel: null, label: 'input' },
      frame: { frameType: 'DENSE', savingChannel: 'saving_dense', label: 'processed' },
      sparse_frame: { frameType: 'SPARSE', savingChannel: 'saving_sparse', label: 'sparse' },
      accumulated_frame: { frameType: 'DENSE', savingChannel: null, label: 'accumulated' },
    },
    reducedData: ['fill_factor'],
    progressIndicator: 'nb_frames_processed',
  },
];

export function classDef(name: string): ClassDef | undefined {
  return CLASSES.find((c) => c.name === name);
}
