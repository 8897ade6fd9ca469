import { DaqService, selectPlugins } from '@daqlab/daq-server';
import { SavedMaster } from '@daqlab/daq-server/batch';
import { openSync, readSync, mkdtempSync } from 'node:fs';
import { defaultCodec } from './dist/src/saving/codec/bslz4.js';
const dir = mkdtempSync('/work/wt/perf/.scratch/p-');
const service = new DaqService({ plugins: selectPlugins(['sim-eiger-4m']), memoryBudget: 4 * 1024 ** 3, dataRoots: [dir] });
const ctl = service.detector('sim-eiger-4m');
const acq = await ctl.prepare({ acquisition: { nb_frames: 30, expo_time: 1 / 750 }, detector: { scene: 'powder', seed: 1, pool_size: 8 },
  saving: { enabled: true, base_path: dir, prefix: 'p', compression: 'bslz4', nb_frames_per_file: 1000 } });
const done = new Promise((r) => acq.on('state', () => acq.finished && r()));
ctl.start(acq.uuid); await done; service.shutdown();
const m = await SavedMaster.open(dir + '/p_master.h5');
const d = m.direct;
const n = 30, fb = 2167 * 2070 * 4;
let t;
for (let rep = 0; rep < 2; rep++) { t = performance.now(); for (let k = 0; k < n; k++) m.frame(k); console.log('frame()', ((performance.now() - t) / n).toFixed(2), 'ms'); }
t = performance.now(); for (let k = 0; k < n; k++) new Uint32Array(new SharedArrayBuffer(fb)).fill(1); console.log('SAB alloc+touch', ((performance.now() - t) / n).toFixed(2));
t = performance.now(); for (let k = 0; k < n; k++) new Uint32Array(new ArrayBuffer(fb)).fill(1); console.log('AB alloc+touch', ((performance.now() - t) / n).toFixed(2));
t = performance.now(); for (let k = 0; k < n; k++) new Uint32Array(new SharedArrayBuffer(fb)); console.log('SAB alloc', ((performance.now() - t) / n).toFixed(2));
const out = new Uint8Array(new SharedArrayBuffer(fb));
t = performance.now(); for (let k = 0; k < n; k++) d.read(k, out); console.log('read into one', ((performance.now() - t) / n).toFixed(2));
const buf = Buffer.alloc(2e6);
t = performance.now(); for (let k = 0; k < n; k++) readSync(d.sources[d.src[k]].fd, buf, 0, d.size[0], d.addr[0]); console.log('pread', ((performance.now() - t) / n).toFixed(2), 'chunk MB', (d.size[0]/1e6).toFixed(2));
t = performance.now(); for (let k = 0; k < n; k++) defaultCodec().decompressView(buf.subarray(0, d.size[0]), 4); console.log('decodeView', ((performance.now() - t) / n).toFixed(2));
t = performance.now(); for (let k = 0; k < n; k++) out.set(defaultCodec().decompressView(buf.subarray(0, d.size[0]), 4)); console.log('decode+copy', ((performance.now() - t) / n).toFixed(2));

for (let rep = 0; rep < 2; rep++) { t = performance.now(); for (let k = 0; k < n; k++) m.frame(k); console.log('frame()', ((performance.now() - t) / n).toFixed(2), 'ms'); }
