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

/** GB/s of `bytes` per call of fn, run for about SECONDS */
function rate(bytes: number, fn: () => void): number {
  for (let k = 0; k < 3; k++) fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    fn();
    n++;
  }
  return (bytes * n) / ((performance.now() - t0) * 1e6);
}

const fresh = codec.createCodec();
const view = codec.createCodec();
const previous = codec.createCodec('wasm', { lz4: 'js' });
const js = codec.createCodec('js');
console.log(`bslz4 decompression, one thread, GB/s of raw bytes, ${SECONDS} s per figure (engine: ${fresh.engine})`);
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
    'wasm decoder → out': +rate(src.length, () => fresh.decompress(chunk, es, out)).toFixed(2),
    'wasm decoder, view': +rate(src.length, () => view.decompressView(chunk, es)).toFixed(2),
    'previous (JS LZ4 + wasm unshuffle)': +rate(src.length, () => previous.decompress(chunk, es, out)).toFixed(2),
    'JS fallback': +rate(src.length, () => js.decompress(chunk, es, out)).toFixed(2),
    'memcpy of the output': +rate(src.length, () => copy.set(src)).toFixed(2),
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
