/** Our dtype names to the HDF5 writer's type codes. */
import type { DType } from '../protocol/index.js';
import type { H5Dtype } from './hdf5/index.js';

const CODES: Record<DType, { code: H5Dtype; size: number }> = {
  uint8: { code: 'u1', size: 1 },
  int8: { code: 'i1', size: 1 },
  uint16: { code: 'u2', size: 2 },
  int16: { code: 'i2', size: 2 },
  uint32: { code: 'u4', size: 4 },
  int32: { code: 'i4', size: 4 },
  float32: { code: 'f4', size: 4 },
  float64: { code: 'f8', size: 8 },
};

export const h5dtype = (dtype: DType): { code: H5Dtype; size: number } => CODES[dtype];
