/** Files a client names: confinement to the data roots and safe, bounded reading (docs/ARCHITECTURE.md, "Files clients name"). */
export { FS_TIMEOUT_MS, FsTimeoutError, fsLimits, withDeadline, stuckOperations } from './deadline.js';
export { confine, within, PathError } from './roots.js';
export { readUserFile, UserFileError, reason, type ReadLimits } from './read-user-file.js';
export { loadClientFiles, loadFile, fileRefs, fileText, isPoniPath, MAX_PONI_BYTES, MAX_MAP_BYTES, mapBytesFor, type ClientFiles, type FileRef, type KnownKeys } from './client-files.js';
export { makeFolder } from './make-folder.js';
