/** Reading an HTTP request's body with a bound on its size, for every small HTTP server here (ours and the simulators'). */
import type { IncomingMessage } from 'node:http';

/**
 * The body as UTF-8 text; throws `tooLarge()` as soon as more than `max` bytes came, so a client cannot make
 * the server buffer without bound.
 */
export async function readBoundedBody(req: IncomingMessage, max: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
