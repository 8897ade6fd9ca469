/** A minimal CBOR encoder for hand-made test messages (definite lengths, doubles). */
export class Tag {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 256) return [(major << 5) | 24, n];
  if (n < 65536) return [(major << 5) | 25, n >> 8, n & 255];
  if (n < 2 ** 32) return [(major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  return [(major << 5) | 27, ...u32(Math.floor(n / 2 ** 32)), ...u32(n >>> 0)];
}
const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];

export function encode(v: unknown): Uint8Array {
  const out: number[] = [];
  const put = (x: unknown): void => {
    if (x instanceof Tag) {
      out.push(...head(6, x.tag));
      put(x.value);
    } else if (x instanceof Uint8Array) {
      out.push(...head(2, x.length));
      for (const b of x) out.push(b);
    } else if (typeof x === 'string') {
      const b = new TextEncoder().encode(x);
      out.push(...head(3, b.length));
      for (const c of b) out.push(c);
    } else if (Array.isArray(x)) {
      out.push(...head(4, x.length));
      x.forEach(put);
    } else if (x === null) out.push(0xf6);
    else if (x === true) out.push(0xf5);
    else if (x === false) out.push(0xf4);
    else if (typeof x === 'number') {
      if (Number.isInteger(x) && x >= 0) out.push(...head(0, x));
      else if (Number.isInteger(x)) out.push(...head(1, -1 - x));
      else {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, x);
        out.push(0xfb, ...b);
      }
    } else if (typeof x === 'object') {
      const entries = Object.entries(x as object);
      out.push(...head(5, entries.length));
      for (const [k, val] of entries) {
        put(k);
        put(val);
      }
    } else throw new Error(`cannot encode ${typeof x}`);
  };
  put(v);
  return Uint8Array.from(out);
}

/** `55799(value)` as DECTRIS sends it. */
export const message = (v: unknown): Uint8Array => encode(new Tag(55799, v));
