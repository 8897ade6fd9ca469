/** The scan store in Redis, in blissdata's data model (protocol 1): see README.md beside this file. */
export { RedisPublisher, PIPELINE_BYTES, ENTRY_BYTES, type PublisherStats, type PublisherOptions } from './publisher.js';
export { parseStore, isLoopbackHost, type StoreChoice } from './url.js';
export * as blissdata from './protocol.js';
export { RedisImporter, IMPORT_AT_START, type ImporterOptions } from './importer.js';
export { attachRedisStore, type RedisStore } from './attach.js';
