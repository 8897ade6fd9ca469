/**
 * The bslz4 decoder, one thread: GB/s of raw frame bytes for the WebAssembly
 * decoder (LZ4 + unshuffle in wasm, saving/codec/bslz4-decoder.ts) into the
 * caller's array and as a view of its own memory, beside, in the same run,
 * the previous path (JS LZ4 + wasm unshuffle, one copy per block), the JS
 * fallback, and a memcpy of the output frame.
 *
 *   node bench/dist/bslz4.js [--seconds 1]
 */
import type * as CodecModule from '../daq-server/dist/src/saving/codec/index.js';
import type * as FramesModule from '../daq-server/dist/test/fixtures/codec-frames.js';
import { Recorder, slug } from './record.js';

const DIST = new URL('../../daq-server/dist/', import.meta.url);
const codec = (await import(new URL('src/saving/codec/index.js', DIST).href)) as typeof CodecModule;
const frames = (await import(new URL('test/fixtures/codec-frames.js', DIST).href)) as typeof FramesModule;

const argv = process.argv.slice(2);
const i = argv.indexOf('--seconds');
const SECONDS = Number(i >= 0 ? argv[i + 1] : 1);

/**
 * GB/s of `bytes` per call of each fn: the functions take turns in 5 rounds
 * of SECONDS/5 each and the best round counts, so that load from other
 * processes (a shared machine) hits every column alike
 */
function rates(bytes: number, fns: Record<string, () => void>): Record<string, number> {
  const best: Record<string, number> = {};
  for (const fn of Object.values(fns)) for (let k = 0; k < 3; k++) fn();
  for (let round = 0; round < 5; round++) {
    for (const [name, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < (SECONDS * 1000) / 5) {
        fn();
        n++;
      }
      best[name] = Math.max(best[name] ?? 0, (bytes * n) / ((performance.now() - t0) * 1e6));
    }
  }
  for (const k of Object.keys(best)) best[k] = +best[k].toFixed(2);
  return best;
}

const fresh = codec.createCodec();
const view = codec.createCodec();
const previous = codec.createCodec('wasm', { lz4: 'js' });
const js = codec.createCodec('js');
console.log(`bslz4 decompression, one thread, GB/s of raw bytes, best of 5 interleaved rounds, ${SECONDS} s per figure (engine: ${fresh.engine})`);
const rows: Record<string, string | number>[] = [];
const all = frames.allFrames();
for (const f of all) {
  const es = frames.elemSizeOf(f);
  const src = f.bytes;
  const buf = new Uint8Array(codec.bslz4MaxCompressedSize(src.length, es));
  const chunk = buf.subarray(0, codec.bslz4Compress(src, es, buf));
  const out = new Uint8Array(src.length);
  const copy = new Uint8Array(src.length);
  rows.push({
    frame: `${f.name} ${f.dtype} ${f.shape.join('x')}`,
    ratio: +(chunk.length / src.length).toFixed(3),
    ...rates(src.length, {
      'wasm decoder → out': () => fresh.decompress(chunk, es, out),
      'wasm decoder, view': () => view.decompressView(chunk, es),
      'previous (JS LZ4 + wasm unshuffle)': () => previous.decompress(chunk, es, out),
      'JS fallback': () => js.decompress(chunk, es, out),
      'memcpy of the output': () => copy.set(src),
    }),
  });
}
console.table(rows);
const rec = new Recorder('bslz4');
for (const [k, r] of rows.entries()) {
  const f = slug(all[k].name);
  const prev = { name: 'the previous decoder (JS LZ4 + wasm unshuffle), same run', value: r['previous (JS LZ4 + wasm unshuffle)'] as number };
  rec.figure(`${f}.decode.gbps`, { label: `${r.frame}: wasm bslz4 decoder into out, one thread`, value: r['wasm decoder → out'] as number, unit: 'GB/s', higherIsBetter: true, reference: prev });
  rec.figure(`${f}.decode_view.gbps`, { label: `${r.frame}: wasm bslz4 decoder as a view, one thread`, value: r['wasm decoder, view'] as number, unit: 'GB/s', higherIsBetter: true, reference: prev });
  rec.figure(`${f}.decode_vs_memcpy.gbps`, {
    label: `${r.frame}: wasm bslz4 decoder into out beside memcpy of the output`, value: r['wasm decoder → out'] as number, unit: 'GB/s', higherIsBetter: true,
    reference: { name: 'memcpy of the output frame, same run', value: r['memcpy of the output'] as number },
  });
}
