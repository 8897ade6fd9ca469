/**
 * The HDF5 viewer's logic without a browser or a server: selections, the binary decoding,
 * display plans, colour mapping, and the controller driven against MockProvider (what it
 * asks for on open, lazily per group, when a slider moves; stale answers dropped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewerController } from '../src/h5viewer/controller.js';
import { MockProvider, binMean, dataset, group, soft } from '../src/h5viewer/mock-provider.js';
import { MAX_IMAGE_PIXELS, colorize, planFor, tableSelect } from '../src/h5viewer/plan.js';
import { binningFor, formatSelect, parseSelect, sliceSelect } from '../src/h5viewer/selection.js';
import { decodeSlice } from '../src/h5viewer/binary.js';
import { JupyterH5Provider } from '../src/h5viewer/jupyter-provider.js';
import type { DataProvider } from '../src/h5viewer/provider.js';

const FRAMES = 5;
const [ROWS, COLS] = [40, 50];
const frames = Float32Array.from({ length: FRAMES * ROWS * COLS }, (_, i) => i);
const radial = Float64Array.from({ length: 100 }, (_, i) => 0.1 * (i + 1));

/** A tree shaped like daqlab's NeXus master: @default chain to frames (a link), integrate1d, a big image. */
function master(): MockProvider {
  return new MockProvider(
    group(
      {
        entry: group(
          {
            title: dataset([], 'string', ['scan 1']),
            instrument: group(
              { detector: group({ data: dataset([FRAMES, ROWS, COLS], 'uint32', frames, { interpretation: 'image' }) }, { NX_class: 'NXdetector' }) },
              { NX_class: 'NXinstrument', long: Array.from({ length: 1000 }, (_, i) => i) },
            ),
            data: group({ data: soft('/entry/instrument/detector/data') }, { NX_class: 'NXdata', signal: 'data', interpretation: 'image' }),
            integrate1d: group(
              {
                intensity: dataset([FRAMES, 100], 'float32', Float32Array.from({ length: FRAMES * 100 }, (_, i) => i % 100), { interpretation: 'spectrum' }),
                intensity_errors: dataset([FRAMES, 100], 'float32', new Float32Array(FRAMES * 100).fill(0.5)),
                radial: dataset([100], 'float64', radial, { units: '1/nm' }),
              },
              { NX_class: 'NXdata', signal: 'intensity', axes: ['.', 'radial'], radial_indices: 1 },
            ),
            big: dataset([1500, 1500], 'uint16', new Uint16Array(1500 * 1500).fill(3)),
            labels: dataset([3], 'string', ['a', 'bb', 'ccc']),
            broken: soft('/nowhere'),
          },
          { NX_class: 'NXentry', default: 'data' },
        ),
      },
      { NX_class: 'NXroot', default: 'entry' },
    ),
    'scan_master.h5',
  );
}

const settle = () => new Promise((r) => setTimeout(r, 0));

test('selections: parsed with the server rules, formatted back, built from sliders', () => {
  assert.equal(formatSelect(parseSelect('3', [5, 40, 50])), '3,0:40,0:50');
  assert.equal(formatSelect(parseSelect('-1,10:20:2,::4', [5, 40, 50])), '4,10:20:2,0:50:4');
  assert.throws(() => parseSelect('5', [5, 4]), /index 5 is out of range for size 5/);
  assert.throws(() => parseSelect('0,0,0', [5, 4]), /3 dimensions given, the dataset has 2/);
  assert.throws(() => parseSelect('0,x', [5, 4]), /'x' is not an index/);
  assert.throws(() => parseSelect('0,::-1', [5, 4]), /step must be positive/);
  assert.equal(sliceSelect([5, 40, 50], [1, 2], [3, 0, 0]), '3,:,:');
  assert.equal(sliceSelect([2, 3, 8, 10], [2, 3], [1, 9, 0, 0]), '1,2,:,:'); // clamped to the dimension
  assert.equal(binningFor([4096, 4096], 512 * 512), 8);
  assert.equal(binningFor([5, 5], 4), 3);
  assert.equal(binningFor([100], undefined), 1);
});

test('binary responses: the header is read and the values are a view of the buffer, not a copy', () => {
  const header = { path: '/x', dtype: 'uint16', source_dtype: 'uint16', shape: [2, 3], source_shape: [2, 3], select: '0:2,0:3', selected_shape: [2, 3], binning: 1, method: 'none', nbytes: 12 };
  let h = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((4 + h.length) % 8)) % 8;
  h = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const buf = new ArrayBuffer(4 + h.length + 12);
  new DataView(buf).setUint32(0, h.length, true);
  new Uint8Array(buf, 4).set(h);
  new Uint16Array(buf, 4 + h.length, 6).set([1, 2, 3, 4, 5, 65535]);
  const { header: got, data } = decodeSlice(buf);
  assert.deepEqual(got.shape, [2, 3]);
  assert.ok(data instanceof Uint16Array && data.buffer === buf);
  assert.deepEqual(Array.from(data), [1, 2, 3, 4, 5, 65535]);
  assert.throws(() => decodeSlice(buf.slice(0, buf.byteLength - 2)), /6 uint16 values announced/);
});

test('display plans: NeXus interpretation, rank, dtype', () => {
  assert.deepEqual(planFor([5, 40, 50], 'uint32', 'image'), { mode: 'image', displayed: [1, 2], sliders: [0], modes: ['image', 'line', 'table'] });
  assert.deepEqual(planFor([5, 100], 'float32', 'spectrum').displayed, [1]);
  assert.equal(planFor([5, 100], 'float32', 'spectrum').mode, 'line');
  assert.deepEqual(planFor([2, 3, 8, 10], 'float32').sliders, [0, 1]);
  assert.equal(planFor([100], 'float64').mode, 'line');
  assert.equal(planFor([], 'float64').mode, 'scalar');
  assert.equal(planFor([3], 'string').mode, 'table');
  assert.equal(planFor([5, 40, 50], 'uint32', 'image', 'line').displayed[0], 2);
  assert.equal(tableSelect([5, 400, 50], planFor([5, 400, 50], 'uint32', null, 'table'), [2, 0, 0]), '2,0:200,0:50'); // at most 200 rows × 50 columns
});

test('colour mapping: range, colour table, NaN transparent', () => {
  const out = new Uint8ClampedArray(4 * 4);
  const [lo, hi] = colorize(Float32Array.from([0, 10, NaN, 5]), out, { colormap: 'gray', scale: 'linear', range: [0, 10] });
  assert.deepEqual([lo, hi], [0, 10]);
  assert.deepEqual(Array.from(out.subarray(0, 4)), [0, 0, 0, 255]);
  assert.deepEqual(Array.from(out.subarray(4, 8)), [255, 255, 255, 255]);
  assert.equal(out[11], 0); // NaN pixel: alpha 0
  assert.deepEqual(Array.from(out.subarray(12, 15)), [128, 128, 128]);
});

test('mean binning with ragged edges (the server and MockProvider agree on it)', () => {
  const v = Float32Array.from({ length: 25 }, (_, i) => i);
  const { data, shape } = binMean(v, [5, 5], 3);
  assert.deepEqual(shape, [2, 2]);
  assert.deepEqual(Array.from(data), [6, 8.5, 18.5, 21]);
});

test('open: the tree root, the NeXus default plot through @default and a soft link, nothing more', async () => {
  const p = master();
  const c = new ViewerController(p);
  await c.open();
  const d = c.state.display!;
  assert.equal(d.path, '/entry/data/data');
  assert.equal(d.plan.mode, 'image');
  assert.deepEqual(d.plan.sliders, [0]);
  assert.equal(d.slice!.header.select, '0,0:40,0:50');
  assert.deepEqual(Array.from(d.slice!.data.subarray(0, 3)), [0, 1, 2]);
  // the path to the plot is expanded, nothing else was read
  assert.deepEqual(c.state.tree.children!.map((n) => n.name), ['entry']);
  assert.equal(c.findNode('/entry')!.expanded, true);
  assert.equal(c.state.selected!.path, '/entry/data'); // the NXdata, with its attributes
  assert.ok(c.state.attrs.some((a) => a.name === 'signal' && a.value === 'data'));
  assert.deepEqual(p.calls, ['meta /', 'nxdefault /', 'meta /entry', 'meta /entry/data', 'meta /entry/data/data', `slice /entry/data/data 0,:,: ${MAX_IMAGE_PIXELS}`]);
  assert.equal(c.findNode('/entry/instrument')!.children, undefined);
});

test('a slider moves the slice; groups load when expanded', async () => {
  const p = master();
  const c = new ViewerController(p);
  await c.open();
  const treeVersion = c.state.treeVersion;
  await c.setIndex(0, 3);
  assert.equal(c.state.display!.slice!.header.select, '3,0:40,0:50');
  assert.equal(c.state.treeVersion, treeVersion); // a slider never redraws the tree
  assert.equal(c.state.display!.slice!.data[0], 3 * ROWS * COLS);
  await c.setIndex(0, 99); // clamped
  assert.equal(c.state.display!.indices[0], FRAMES - 1);
  await c.toggle('/entry/instrument');
  assert.ok(c.state.treeVersion > treeVersion);
  assert.deepEqual(c.findNode('/entry/instrument')!.children!.map((n) => n.name), ['detector']);
  assert.ok(p.calls.includes('meta /entry/instrument'));
});

test('an NXdata group shows its line plot with the axis and its units', async () => {
  const c = new ViewerController(master());
  await c.open();
  await c.select('/entry/integrate1d');
  const d = c.state.display!;
  assert.equal(d.plan.mode, 'line');
  assert.deepEqual(d.plan.sliders, [0]);
  assert.equal(d.axis!.info.units, '1/nm');
  assert.deepEqual(Array.from(d.axis!.values), Array.from(radial));
  assert.equal(d.slice!.data.length, 100);
  assert.deepEqual(Array.from(d.errors!.subarray(0, 2)), [0.5, 0.5]); // <signal>_errors as error bars
  await c.setMode('image');
  assert.equal(c.state.display!.plan.mode, 'image');
  assert.deepEqual(c.state.display!.slice!.header.shape, [FRAMES, 100]);
});

test('big images arrive binned; strings as a table; bad links as errors', async () => {
  const c = new ViewerController(master());
  await c.open();
  await c.select('/entry/big');
  const s = c.state.display!.slice!;
  assert.equal(s.header.binning, 2);
  assert.deepEqual(s.header.shape, [750, 750]);
  assert.ok(s.data.length <= MAX_IMAGE_PIXELS);
  await c.select('/entry/labels');
  assert.equal(c.state.display!.plan.mode, 'table');
  assert.deepEqual(c.state.display!.values!.value, ['a', 'bb', 'ccc']);
  await c.select('/entry/title');
  assert.equal(c.state.display!.plan.mode, 'scalar');
  assert.equal(c.state.display!.values!.value, 'scan 1');
  await c.select('/entry/broken');
  assert.match(c.state.error!, /does not exist/);
});

test('a slow answer for an old slider position never replaces a newer one', async () => {
  const inner = master();
  let delayFirst = true;
  const slow: DataProvider = Object.assign(Object.create(inner) as DataProvider, {
    async slice(path: string, select: string, max?: number) {
      const r = await inner.slice(path, select, max);
      if (select.startsWith('1,') && delayFirst) {
        delayFirst = false;
        await new Promise((res) => setTimeout(res, 30));
      }
      return r;
    },
  });
  const c = new ViewerController(slow);
  await c.open();
  const first = c.setIndex(0, 1);
  await settle();
  await c.setIndex(0, 2);
  await first;
  assert.equal(c.state.display!.slice!.header.select, '2,0:40,0:50');
  assert.equal(c.state.display!.loading, false);
});

test('a plain group shows its attributes, long ones on demand, and no stale picture', async () => {
  const c = new ViewerController(master());
  await c.open();
  await c.select('/entry/instrument');
  assert.equal(c.state.display, null);
  const long = c.state.attrs.find((a) => a.name === 'long')!;
  assert.ok(long.truncated && long.value === undefined);
  await c.loadAllAttrs();
  assert.equal((c.state.attrs.find((a) => a.name === 'long')!.value as number[]).length, 1000);
});

test('JupyterH5Provider: URLs under the base URL, the token, errors with their field, a missing server extension', async () => {
  const asked: { url: string; auth?: string }[] = [];
  const reply = (status: number, body: string, type: string) => async (url: string | URL | Request, init?: RequestInit) => {
    asked.push({ url: String(url), auth: (init?.headers as Record<string, string>)?.Authorization });
    return new Response(body, { status, headers: { 'Content-Type': type } });
  };
  let p = new JupyterH5Provider('scans/a b.h5', { baseUrl: '/user/me/', token: 'tok', fetch: reply(200, '{"path": null}', 'application/json') as typeof fetch });
  assert.deepEqual(await p.nxDefault('/'), { path: null });
  assert.equal(asked[0].url, '/user/me/daqlab/h5/nxdefault?file=scans%2Fa+b.h5&path=%2F');
  assert.equal(asked[0].auth, 'token tok');
  assert.ok(p.bytesReceived > 0);
  p = new JupyterH5Provider('a.h5', { baseUrl: '/', fetch: reply(400, '{"error": "select: index 9 is out of range for size 6", "field": "select"}', 'application/json') as typeof fetch });
  await assert.rejects(p.slice('/stack', '9'), (e: Error & { field?: string; status?: number }) => e.field === 'select' && e.status === 400 && /index 9/.test(e.message));
  assert.match(asked[1].url, /data\?file=a.h5&path=%2Fstack&select=9$/);
  p = new JupyterH5Provider('a.h5', { baseUrl: '/', fetch: reply(404, '<html>404: Not Found</html>', 'text/html') as typeof fetch });
  await assert.rejects(p.meta('/'), /server extension is not enabled/);
});
