/**
 * LZ4 block format (github.com/lz4/lz4 doc/lz4_Block_format.md), in
 * JavaScript on typed arrays.
 *
 * Compression: the greedy single-pass parser of LZ4_compress_fast
 * (acceleration 1): a hash table of 4-byte sequences (4096 entries, Knuth
 * multiplicative hash), skip acceleration on misses (step = misses >> 6),
 * backward catch-up, matches extended 4 bytes at a time (xor + count
 * trailing zero bytes), the immediate re-match after a match. End-of-block
 * rules: the last 5 bytes are literals, the last match starts at least 12
 * bytes before the end, inputs < 13 bytes are all literals. Offsets 1–65535.
 * The table is never cleared between calls: entries carry a moving base so
 * that those of earlier inputs fall below the current input's start.
 *
 * Decompression checks every length and offset against both buffers and
 * throws `Lz4Error` on corrupt input; it never reads or writes outside the
 * given ranges.
 */

const HASH_LOG = 12;
const HASH_SHIFT = 32 - HASH_LOG;
const MINMATCH = 4;
const LASTLITERALS = 5;
const MFLIMIT = 12;
const MAX_DISTANCE = 65535;
const SKIP_TRIGGER = 6;

export class Lz4Error extends Error {
  override name = 'Lz4Error';
}

/** LZ4_compressBound: the largest output for `n` input bytes. */
export function lz4CompressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

const hash = (seq: number): number => Math.imul(seq, -1640531535 /* 2654435761 */) >>> HASH_SHIFT;

/** One compressor: owns its hash table (one per thread). */
export class Lz4Compressor {
  private readonly table = new Int32Array(1 << HASH_LOG);
  private base = 1;
  private dvBuf: ArrayBufferLike | null = null;
  private dvOff = 0;
  private dv: DataView = new DataView(new ArrayBuffer(8));

  private view(a: Uint8Array): DataView {
    if (a.buffer !== this.dvBuf || a.byteOffset !== this.dvOff || this.dv.byteLength !== a.byteLength) {
      this.dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
      this.dvBuf = a.buffer;
      this.dvOff = a.byteOffset;
    }
    return this.dv;
  }

  /**
   * Compress src[sp, sp + len) into dst from dp (room for lz4CompressBound(len)
   * bytes is the caller's business); returns the bytes written.
   */
  compress(src: Uint8Array, sp: number, len: number, dst: Uint8Array, dp: number): number {
    const end = sp + len;
    let op = dp;
    let anchor = sp;
    if (len >= MFLIMIT + 1) {
      const tbl = this.table;
      if (this.base > 0x70000000 - len) {
        tbl.fill(0);
        this.base = 1;
      }
      const base = this.base - sp; // table value = position + base
      this.base += len + 1;
      const dv = this.view(src);
      const mflimit = end - MFLIMIT;
      const matchlimit = end - LASTLITERALS;
      let ip = sp;
      tbl[hash(dv.getInt32(ip, true))] = ip + base;
      ip++;
      let fwdH = hash(dv.getInt32(ip, true));
      outer: for (;;) {
        // ---- find a match ----
        let ref = 0;
        let fwdIp = ip;
        let step = 1;
        let searchNb = 1 << SKIP_TRIGGER;
        do {
          const h = fwdH;
          ip = fwdIp;
          fwdIp += step;
          step = searchNb++ >> SKIP_TRIGGER;
          if (fwdIp > mflimit) break outer;
          ref = tbl[h] - base;
          fwdH = hash(dv.getInt32(fwdIp, true));
          tbl[h] = ip + base;
        } while (ref < sp || ip - ref > MAX_DISTANCE || dv.getInt32(ref, true) !== dv.getInt32(ip, true));
        // catch up
        while (ip > anchor && ref > sp && src[ip - 1] === src[ref - 1]) {
          ip--;
          ref--;
        }
        // ---- literals ----
        let tok = op++;
        let lit = ip - anchor;
        if (lit >= 15) {
          dst[tok] = 0xf0;
          let l = lit - 15;
          for (; l >= 255; l -= 255) dst[op++] = 255;
          dst[op++] = l;
        } else dst[tok] = lit << 4;
        if (lit > 32) dst.set(src.subarray(anchor, ip), op);
        else for (let k = 0; k < lit; k++) dst[op + k] = src[anchor + k];
        op += lit;
        // ---- matches (repeated while the next position matches at once) ----
        for (;;) {
          const off = ip - ref;
          dst[op++] = off & 0xff;
          dst[op++] = off >>> 8;
          let m = ip + MINMATCH;
          let r = ref + MINMATCH;
          for (;;) {
            if (m > matchlimit - 4) {
              while (m < matchlimit && src[m] === src[r]) {
                m++;
                r++;
              }
              break;
            }
            const x = dv.getInt32(m, true) ^ dv.getInt32(r, true);
            if (x !== 0) {
              m += (31 - Math.clz32(x & -x)) >>> 3;
              break;
            }
            m += 4;
            r += 4;
          }
          let ml = m - ip - MINMATCH;
          if (ml >= 15) {
            dst[tok] += 15;
            ml -= 15;
            for (; ml >= 255; ml -= 255) dst[op++] = 255;
            dst[op++] = ml;
          } else dst[tok] += ml;
          ip = m;
          anchor = ip;
          if (ip > mflimit) break outer;
          tbl[hash(dv.getInt32(ip - 2, true))] = ip - 2 + base;
          const seq = dv.getInt32(ip, true);
          const h = hash(seq);
          ref = tbl[h] - base;
          tbl[h] = ip + base;
          if (ref >= sp && ip - ref <= MAX_DISTANCE && dv.getInt32(ref, true) === seq) {
            tok = op++;
            dst[tok] = 0;
            continue;
          }
          break;
        }
        ip++;
        fwdH = hash(dv.getInt32(ip, true));
      }
    }
    // ---- last literals ----
    const lit = end - anchor;
    if (lit >= 15) {
      dst[op++] = 0xf0;
      let l = lit - 15;
      for (; l >= 255; l -= 255) dst[op++] = 255;
      dst[op++] = l;
    } else dst[op++] = lit << 4;
    if (lit > 32) dst.set(src.subarray(anchor, end), op);
    else for (let k = 0; k < lit; k++) dst[op + k] = src[anchor + k];
    op += lit;
    return op - dp;
  }
}

/**
 * Decompress the LZ4 block src[sp, send) into dst[dp, dend); returns the
 * bytes written. Throws Lz4Error on malformed input or when dst is too small.
 */
export function lz4DecompressInto(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number): number {
  let ip = sp;
  let op = dp;
  if (send > src.length || dend > dst.length || sp > send || dp > dend) throw new Lz4Error('LZ4: bad buffer ranges');
  for (;;) {
    if (ip >= send) throw new Lz4Error('LZ4: truncated block (no token)');
    const token = src[ip++];
    // literals
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= send) throw new Lz4Error('LZ4: truncated literal length');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    if (lit > send - ip) throw new Lz4Error('LZ4: literals run past the end of the block');
    if (lit > dend - op) throw new Lz4Error('LZ4: output overflow (literals)');
    if (lit > 32) dst.set(src.subarray(ip, ip + lit), op);
    else for (let k = 0; k < lit; k++) dst[op + k] = src[ip + k];
    ip += lit;
    op += lit;
    if (ip === send) return op - dp; // last sequence: literals only
    // match
    if (send - ip < 2) throw new Lz4Error('LZ4: truncated offset');
    const off = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (off === 0 || off > op - dp) throw new Lz4Error(`LZ4: invalid match offset ${off}`);
    let ml = (token & 15) + MINMATCH;
    if (ml === 15 + MINMATCH) {
      let b: number;
      do {
        if (ip >= send) throw new Lz4Error('LZ4: truncated match length');
        b = src[ip++];
        ml += b;
      } while (b === 255);
    }
    if (ml > dend - op) throw new Lz4Error('LZ4: output overflow (match)');
    const ref = op - off;
    if (ml <= 16) {
      for (let k = 0; k < ml; k++) dst[op + k] = dst[ref + k];
    } else if (off >= ml) {
      dst.copyWithin(op, ref, ref + ml);
    } else if (off === 1) {
      dst.fill(dst[ref], op, op + ml);
    } else {
      // overlapping: the pattern of `off` bytes repeats; copy in doubling chunks
      const stop = op + ml;
      let o = op;
      let span = off;
      while (o < stop) {
        const n = Math.min(span, stop - o);
        dst.copyWithin(o, ref, ref + n);
        o += n;
        span += n;
      }
    }
    op += ml;
  }
}

let shared: Lz4Compressor | undefined;

/** Compress one LZ4 block (out needs lz4CompressBound(src.length) bytes); returns the bytes written. */
export function lz4CompressBlock(src: Uint8Array, out: Uint8Array): number {
  if (out.length < lz4CompressBound(src.length)) {
    throw new RangeError(`lz4CompressBlock: out has ${out.length} bytes, needs lz4CompressBound(${src.length}) = ${lz4CompressBound(src.length)}`);
  }
  return (shared ??= new Lz4Compressor()).compress(src, 0, src.length, out, 0);
}

/** Decompress one LZ4 block into out; returns the bytes written (throws Lz4Error on corrupt input or small out). */
export function lz4DecompressBlock(src: Uint8Array, out: Uint8Array): number {
  return lz4DecompressInto(src, 0, src.length, out, 0, out.length);
}
