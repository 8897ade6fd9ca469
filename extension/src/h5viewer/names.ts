/** The viewer's names in JupyterLab's document registry (no imports: node tests load this). */
export const FILE_TYPE = 'daqlab-hdf5';
export const FACTORY = 'daqlab HDF5 viewer';
export const EXTENSIONS = ['.h5', '.hdf5', '.nxs', '.nx', '.cxi'];
