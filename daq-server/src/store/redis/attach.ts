/** `--store redis://…`: publish this server's scans in Redis and import the scans others publish there. */
import type { ScanStore } from '../types.js';
import { RedisImporter } from './importer.js';
import { RedisPublisher, type PublisherOptions } from './publisher.js';

export interface RedisStore {
  publisher: RedisPublisher;
  importer: RedisImporter;
  close(): Promise<void>;
}

export async function attachRedisStore(store: ScanStore, url: string, options: PublisherOptions = {}): Promise<RedisStore> {
  const publisher = await RedisPublisher.attach(store, url, options);
  const importer = new RedisImporter(store, publisher.redis, url, { log: options.log, isOwn: (key) => publisher.owns(key) });
  importer.start();
  return {
    publisher,
    importer,
    close: async () => {
      importer.stop();
      await publisher.close();
    },
  };
}
