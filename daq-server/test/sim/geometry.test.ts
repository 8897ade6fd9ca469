/** .poni parsing, pyFAI geometry, and the Jungfrau module layout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPoni, parsePoni, PoniParseError } from '../../src/detectors/geometry/poni.js';
import {
  PyFAIGeometry,
  braggTth,
  chiAt,
  gridPositions,
  qFromTth,
  tthAt,
  energyToWavelength,
} from '../../src/detectors/geometry/pyfai-geometry.js';
import {
  JUNGFRAU_4M,
  assemble,
  assemblyMap,
  imageToRawSum,
  rawColSpan,
  rawPixelPositions,
  rawRowSpan,
} from '../../src/detectors/geometry/jungfrau-layout.js';
import { openRun } from './helpers.js';

const PONI_V21 = `# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis
# Calibration done at Mon Mar  4 10:00:00 2024
poni_version: 2.1
Detector: Detector
Detector_config: {"pixel1": 7.5e-05, "pixel2": 7.5e-05, "max_shape": [514, 1030], "orientation": 3}
Distance: 0.0912345
Poni1: 0.0201
Poni2: 0.0377
Rot1: 0.012
Rot2: -0.0035
Rot3: 1.5e-07
Wavelength: 1.0332e-10
`;

test('parse a pyFAI v2.1 .poni file with Detector_config JSON', () => {
  const p = parsePoni(PONI_V21);
  assert.equal(p.poniVersion, 2.1);
  assert.equal(p.detector, 'Detector');
  assert.deepEqual(p.detectorConfig, { pixel1: 7.5e-5, pixel2: 7.5e-5, max_shape: [514, 1030], orientation: 3 });
  assert.equal(p.dist, 0.0912345);
  assert.equal(p.poni1, 0.0201);
  assert.equal(p.poni2, 0.0377);
  assert.equal(p.rot1, 0.012);
  assert.equal(p.rot2, -0.0035);
  assert.equal(p.rot3, 1.5e-7);
  assert.equal(p.wavelength, 1.0332e-10);
  assert.equal(p.pixel1, 7.5e-5);
  assert.deepEqual(p.extra, {});
});

test('parse a v1 .poni file (PixelSize keys), CRLF, and round-trip formatPoni', () => {
  const v1 = 'poni_version: 1\r\nPixelSize1: 0.000172\r\nPixelSize2: 0.000172\r\nDistance: 0.3\r\nPoni1: 0.1\r\nPoni2: 0.12\r\nRot1: 0\r\nRot2: 0\r\nRot3: 0\r\nSplineFile: None\r\n';
  const p = parsePoni(v1);
  assert.equal(p.pixel1, 0.000172);
  assert.equal(p.wavelength, null);
  assert.equal(p.extra.SplineFile, 'None');
  const text = formatPoni({ dist: 0.25, poni1: 0.01, poni2: -0.02, rot1: 0.1, rot2: 0.2, rot3: 0.3, wavelength: 7e-11 }, 'Eiger4M', { orientation: 3 });
  const q = parsePoni(text);
  assert.deepEqual(
    [q.dist, q.poni1, q.poni2, q.rot1, q.rot2, q.rot3, q.wavelength, q.detector],
    [0.25, 0.01, -0.02, 0.1, 0.2, 0.3, 7e-11, 'Eiger4M'],
  );
  assert.deepEqual(q.detectorConfig, { orientation: 3 });
});

test('malformed .poni files are rejected with the line, never quoting it', () => {
  assert.throws(() => parsePoni('Distance: 0.1\nPoni1: 0.01\n'), (e: unknown) => e instanceof PoniParseError && /Poni2/.test(e.message));
  const rejects = (text: string, re: RegExp, secret: string): void =>
    assert.throws(() => parsePoni(text), (e: unknown) => e instanceof PoniParseError && re.test(e.message) && !e.message.includes(secret));
  rejects('Distance: abc\nPoni1: 0\nPoni2: 0', /^poni: line 1: the value of Distance is not a number$/, 'abc');
  rejects('Distance: 0.1\nPoni1: 0\nPoni2: 0\nDetector_config: {oops', /^poni: line 4: Detector_config is not valid JSON$/, 'oops');
  rejects('just some text', /^poni: line 1: not a valid PONI file \(expected "key: value"\)$/, 'just');
  rejects('# a comment\nTOPSECRET-1: 2: 3\n', /^poni: line 2: not a valid PONI file/, 'TOPSECRET');
});

test('a .poni path in the detector config sets the run geometry; a wrong pixel size is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-poni-'));
  try {
    const path = join(dir, 'good.poni');
    writeFileSync(path, PONI_V21);
    const run = await openRun('sim-eiger-500k', { scene: 'powder', poni: path });
    const g = run.describe().geometry as Record<string, number>;
    assert.equal(g.dist, 0.0912345);
    assert.equal(g.rot2, -0.0035);
    assert.equal(g.wavelength, 1.0332e-10);
    assert.ok(Math.abs((run.describe().energy_kev as number) - 12.0) < 0.01);
    run.close();
    const bad = join(dir, 'pilatus.poni');
    writeFileSync(bad, PONI_V21.replace(/7\.5e-05/g, '0.000172'));
    await assert.rejects(openRun('sim-eiger-500k', { poni: bad }), /172 µm pixels/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('geometry: 2θ = 0 at the PONI without rotations; hand-computed rotated values', () => {
  const flat = { dist: 0.1, poni1: 0.02, poni2: 0.03, rot1: 0, rot2: 0, rot3: 0, wavelength: 1e-10 };
  assert.equal(tthAt(flat, 0.02, 0.03), 0);
  // pixel (i, j) whose centre is exactly the PONI: pixel1·(i + 0.5) = poni1
  const px = 1e-4;
  const g = PyFAIGeometry.forDetector({ ...flat, poni1: 200.5 * px, poni2: 300.5 * px }, [400, 600], [px, px]);
  assert.ok(Math.abs(g.tth()[200 * 600 + 300]) < 1e-12);
  assert.ok(Math.abs(g.solidAngle()[200 * 600 + 300] - 1) < 1e-12);
  // one pixel further along axis 2: 2θ = atan(px / dist), χ = 0 (t1 = 0, t2 > 0)
  assert.ok(Math.abs(g.tth()[200 * 600 + 301] - Math.atan(px / 0.1)) < 1e-12);
  assert.ok(Math.abs(g.chi()[200 * 600 + 301]) < 1e-12);
  assert.ok(Math.abs(g.chi()[201 * 600 + 300] - Math.PI / 2) < 1e-12);
  // q = 4π/λ sin θ in nm⁻¹
  const k = 250 * 600 + 500;
  assert.ok(Math.abs(g.q()[k] - ((4 * Math.PI) / 0.1) * Math.sin(g.tth()[k] / 2)) < 1e-9);
  assert.ok(Math.abs(g.radial('2th_deg')[k] - (g.tth()[k] * 180) / Math.PI) < 1e-12);

  // a single rotation tilts the PONI pixel by that angle
  assert.ok(Math.abs(tthAt({ ...flat, rot1: 0.1 }, 0.02, 0.03) - 0.1) < 1e-12);
  assert.ok(Math.abs(tthAt({ ...flat, rot2: -0.2 }, 0.02, 0.03) - 0.2) < 1e-12);
  // rot1 = 0.1, rot2 = 0.2, rot3 = 0.3, point 1 cm below and 2 cm left of the PONI, L = 0.1:
  // t = R3(0.3)·R2(0.2)·R1(0.1)·(0.01, −0.02, 0.1) = (−0.0069702157, −0.0125365056, 0.1014605939)
  const rot = { ...flat, rot1: 0.1, rot2: 0.2, rot3: 0.3 };
  assert.ok(Math.abs(tthAt(rot, 0.03, 0.01) - 0.14044350928219976) < 1e-12);
  assert.ok(Math.abs(chiAt(rot, 0.03, 0.01) - -2.6341595488940204) < 1e-12);
  // the array computation agrees with the scalar one
  const pos = gridPositions(1, 1, 0.06, 0.02); // a single pixel centred at (0.03, 0.01)
  const ga = new PyFAIGeometry(rot, pos);
  assert.ok(Math.abs(ga.tth()[0] - 0.14044350928219976) < 1e-12);
  // the direct beam hits where 2θ = 0
  const bc = ga.beamCentre()!;
  assert.ok(tthAt(rot, bc[0], bc[1]) < 1e-9);
  // pixel deltas: of order half a pixel in angle
  const d = g.deltas();
  assert.ok(d.tth[k] > 0 && d.tth[k] < (1.5 * px) / 0.1);
});

test('Bragg: CeO2 (111) at 12.4 keV', () => {
  const wl = energyToWavelength(12.4);
  assert.ok(Math.abs(wl - 0.99987257e-10) < 1e-17);
  const tth = braggTth(5.4111e-10 / Math.sqrt(3), wl);
  assert.ok(Math.abs((tth * 180) / Math.PI - 18.41678) < 1e-4, String((tth * 180) / Math.PI));
  assert.ok(Math.abs(qFromTth(tth, wl) - (2 * Math.PI) / (0.54111 / Math.sqrt(3))) < 1e-9);
});

test('Jungfrau 4M layout: shapes, double pixels, assembly conserves the signal', () => {
  assert.deepEqual(JUNGFRAU_4M.imageShape, [2164, 2068]);
  assert.deepEqual(JUNGFRAU_4M.rawShape, [8, 512, 1024]);
  assert.deepEqual(JUNGFRAU_4M.moduleOrigins[0], [0, 0]);
  assert.deepEqual(JUNGFRAU_4M.moduleOrigins[1], [0, 1038]);
  assert.deepEqual(JUNGFRAU_4M.moduleOrigins[7], [3 * 550, 1038]);
  assert.deepEqual(rawRowSpan(254), [254, 1]);
  assert.deepEqual(rawRowSpan(255), [255, 2]);
  assert.deepEqual(rawRowSpan(256), [257, 2]);
  assert.deepEqual(rawRowSpan(511), [513, 1]);
  assert.deepEqual(rawColSpan(255), [255, 2]);
  assert.deepEqual(rawColSpan(256), [257, 2]);
  assert.deepEqual(rawColSpan(511), [513, 2]);
  assert.deepEqual(rawColSpan(512), [515, 2]);
  assert.deepEqual(rawColSpan(1023), [1029, 1]);
  const map = assemblyMap(JUNGFRAU_4M);
  const [rows, cols] = JUNGFRAU_4M.imageShape;
  let gaps = 0;
  for (const g of map.gapMask) gaps += g;
  assert.equal(rows * cols - gaps, 8 * 514 * 1030);
  // module 3 raw (255, 511) is a chip corner: 4 assembled pixels, each a quarter
  const raw = 3 * 512 * 1024 + 255 * 1024 + 511;
  const [or, oc] = JUNGFRAU_4M.moduleOrigins[3];
  for (const [dr, dc] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    const img = (or + 255 + dr) * cols + oc + 513 + dc;
    assert.equal(map.rawIndex[img], raw);
    assert.equal(map.weight[img], 0.25);
  }
  // assembling a raw frame conserves the total; summing back gives the raw frame
  const rawFrame = new Float64Array(8 * 512 * 1024);
  for (let k = 0; k < rawFrame.length; k++) rawFrame[k] = (k % 97) + 1;
  const img = new Float64Array(rows * cols);
  assemble(rawFrame, img, map, 0);
  let sRaw = 0, sImg = 0;
  for (const v of rawFrame) sRaw += v;
  for (const v of img) sImg += v;
  assert.ok(Math.abs(sRaw - sImg) < 1e-6 * sRaw);
  const back = new Float64Array(rawFrame.length);
  imageToRawSum(img, back, map);
  for (let k = 0; k < back.length; k += 1013) assert.ok(Math.abs(back[k] - rawFrame[k]) < 1e-9);
  // raw pixel positions: a double pixel sits between its two assembled pixels and is twice as large
  const pos = rawPixelPositions(JUNGFRAU_4M, 75e-6, 75e-6);
  const r256 = 256 * 1024 + 10;
  assert.ok(Math.abs(pos.d1[r256] - 75e-6 * 258) < 1e-12);
  assert.ok(Math.abs((pos.half1 as Float64Array)[r256] - 75e-6) < 1e-15);
});
