/**
 * A small CBOR decoder (RFC 8949) for DECTRIS Stream2 messages. Byte strings
 * come back as views into the message buffer (no copy: an EIGER2 16M frame is
 * half a megabyte compressed), tags as `Tagged` for the caller to interpret
 * (stream2.ts knows 40, 64–87 and 56500). Every length is checked against the
 * bytes left, nesting is bounded: bad input throws CborError, never reads
 * outside the buffer or recurses without bound.
 */

export class CborError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CborError';
  }
}

/** A tagged item whose meaning the caller decides. */
export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

/** Self-describe CBOR (RFC 8949 §3.4.6): a marker, stripped. */
export const TAG_SELF_DESCRIBE = 55799;

/** Deepest nesting accepted (a Stream2 message nests about 6 deep). */
const MAX_DEPTH = 64;
const BREAK = Symbol('break');

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeCbor(bytes: Uint8Array): unknown {
  const d = new Decoder(bytes);
  const value = d.item(0);
  if (value === BREAK) throw new CborError('unexpected break code at top level');
  if (d.pos !== bytes.length) throw new CborError(`${bytes.length - d.pos} bytes of trailing data after the CBOR item`);
  return value;
}

class Decoder {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) throw new CborError(`truncated: need ${n} bytes at offset ${this.pos}, ${this.bytes.length - this.pos} left`);
  }

  /** The argument of an initial byte (additional info `ai`); -1 for indefinite length. */
  private argument(ai: number): number {
    if (ai < 24) return ai;
    switch (ai) {
      case 24:
        this.need(1);
        return this.bytes[this.pos++];
      case 25:
        this.need(2);
        this.pos += 2;
        return this.view.getUint16(this.pos - 2);
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getUint32(this.pos - 4);
      case 27: {
        this.need(8);
        const big = this.view.getBigUint64(this.pos);
        this.pos += 8;
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new CborError(`integer ${big} at offset ${this.pos - 8} is beyond 2^53`);
        return Number(big);
      }
      case 31:
        return -1;
      default:
        throw new CborError(`reserved additional information ${ai} at offset ${this.pos - 1}`);
    }
  }

  private length(ai: number, what: string): number {
    const n = this.argument(ai);
    // a declared length larger than what is left can not be right (each element takes at least one byte)
    if (n > this.bytes.length - this.pos) throw new CborError(`truncated: ${what} declares ${n} items/bytes, ${this.bytes.length - this.pos} bytes left`);
    return n;
  }

  item(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new CborError(`nesting deeper than ${MAX_DEPTH}`);
    this.need(1);
    const ib = this.bytes[this.pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    switch (major) {
      case 0:
        if (ai === 31) throw new CborError('indefinite length on an integer');
        return this.argument(ai);
      case 1:
        if (ai === 31) throw new CborError('indefinite length on an integer');
        return -1 - this.argument(ai);
      case 2:
      case 3: {
        const raw = ai === 31 ? this.chunks(major) : this.span(this.length(ai, 'string'));
        if (major === 2) return raw;
        try {
          return utf8.decode(raw);
        } catch {
          throw new CborError(`invalid UTF-8 in a text string before offset ${this.pos}`);
        }
      }
      case 4: {
        const out: unknown[] = [];
        const n = ai === 31 ? -1 : this.length(ai, 'array');
        for (let k = 0; n < 0 || k < n; k++) {
          const v = this.item(depth + 1);
          if (v === BREAK) {
            if (n < 0) break;
            throw new CborError('break code inside a definite-length array');
          }
          out.push(v);
        }
        return out;
      }
      case 5: {
        const out: Record<string, unknown> = Object.create(null);
        const n = ai === 31 ? -1 : this.length(ai, 'map');
        for (let k = 0; n < 0 || k < n; k++) {
          const key = this.item(depth + 1);
          if (key === BREAK) {
            if (n < 0) break;
            throw new CborError('break code inside a definite-length map');
          }
          const value = this.item(depth + 1);
          if (value === BREAK) throw new CborError('map key without a value');
          out[typeof key === 'string' ? key : String(key)] = value;
        }
        return out;
      }
      case 6: {
        if (ai === 31) throw new CborError('indefinite length on a tag');
        const tag = this.argument(ai);
        const value = this.item(depth + 1);
        if (value === BREAK) throw new CborError(`tag ${tag} without content`);
        return tag === TAG_SELF_DESCRIBE ? value : new Tagged(tag, value);
      }
      default:
        return this.simple(ai);
    }
  }

  private span(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** An indefinite-length string: its definite chunks joined (copied: rare). */
  private chunks(major: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (;;) {
      this.need(1);
      const ib = this.bytes[this.pos++];
      if (ib === 0xff) break;
      if (ib >> 5 !== major || (ib & 31) === 31) throw new CborError('bad chunk in an indefinite-length string');
      parts.push(this.span(this.length(ib & 31, 'string chunk')));
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  private simple(ai: number): unknown {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25: {
        this.need(2);
        const v = halfToFloat(this.view.getUint16(this.pos));
        this.pos += 2;
        return v;
      }
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getFloat32(this.pos - 4);
      case 27:
        this.need(8);
        this.pos += 8;
        return this.view.getFloat64(this.pos - 8);
      case 31:
        return BREAK;
      default:
        if (ai < 24) return { simple: ai };
        if (ai === 24) {
          this.need(1);
          return { simple: this.bytes[this.pos++] };
        }
        throw new CborError(`reserved simple value ${ai} at offset ${this.pos - 1}`);
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
