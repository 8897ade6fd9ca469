/** One request to a detector's REST API (SIMPLON, the Jungfraujoch broker): JSON out, text back, always with a deadline. */

export interface HttpAnswer {
  status: number;
  ok: boolean;
  text: string;
}

/**
 * Sends `body` as JSON (none when undefined) and reads the whole answer; a detector that does not answer within
 * `timeoutMs` is a fault, not a hang: `noAnswer` builds the caller's error from `METHOD URL: why`.
 */
export async function request(method: string, url: string, body: unknown, timeoutMs: number, noAnswer: (message: string) => Error): Promise<HttpAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      // AbortSignal.timeout takes whole milliseconds (a timeout from frame_time × images is fractional)
      signal: AbortSignal.timeout(Math.ceil(timeoutMs)),
    });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.message ?? e.message);
    throw noAnswer(`${method} ${url}: ${why}`);
  }
  return { status: res.status, ok: res.ok, text: await res.text() };
}
