/**
 * pyFAI `.poni` files: the geometry every beamline calibrates with.
 *
 * Format (pyFAI ≥ 0.21 writes poni_version 2 or 2.1): one `key: value` per
 * line, `#` starts a comment, keys
 *
 *   poni_version, Detector, Detector_config (JSON object, v2+),
 *   Distance, Poni1, Poni2 (metres), Rot1, Rot2, Rot3 (radians), Wavelength (metres)
 *
 * Version 1 files have `PixelSize1`, `PixelSize2` (and maybe `SplineFile`)
 * instead of `Detector_config`. Keys are matched case-insensitively; unknown
 * keys are kept in `extra`.
 */
import { readFile } from 'node:fs/promises';

/** The six pyFAI geometry parameters (+ wavelength). Metres and radians. */
export interface PoniParameters {
  /** sample–detector distance along the normal of the detector plane (m) */
  dist: number;
  /** PONI coordinate along axis 1 (slow, rows) from the detector origin (m) */
  poni1: number;
  /** PONI coordinate along axis 2 (fast, cols) from the detector origin (m) */
  poni2: number;
  rot1: number;
  rot2: number;
  rot3: number;
  /** metres; null when unknown */
  wavelength: number | null;
}

export interface PoniFile extends PoniParameters {
  poniVersion: number | null;
  /** pyFAI detector name, e.g. `Eiger4M` or `Detector` */
  detector: string | null;
  /** parsed `Detector_config` JSON (v2), e.g. {pixel1, pixel2, max_shape, orientation} */
  detectorConfig: Record<string, unknown> | null;
  /** pixel size along axis 1/2 in metres, from Detector_config or the v1 PixelSize keys, when given */
  pixel1: number | null;
  pixel2: number | null;
  /** keys this parser does not interpret, verbatim */
  extra: Record<string, string>;
}

export class PoniParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoniParseError';
  }
}

const NUMERIC_KEYS: Record<string, keyof PoniParameters> = {
  distance: 'dist',
  dist: 'dist',
  poni1: 'poni1',
  poni2: 'poni2',
  rot1: 'rot1',
  rot2: 'rot2',
  rot3: 'rot3',
  wavelength: 'wavelength',
};

// Messages say where and what is wrong, never what a line holds: `source` may be a file the client
// should not read through the server (issue 13, item 9).
function parseNumber(value: string, key: string, where: string): number {
  const v = Number(value);
  if (value === '' || !Number.isFinite(v)) throw new PoniParseError(`${where}: the value of ${key} is not a number`);
  return v;
}

/** Parse the text of a `.poni` file. `source` names it in error messages. */
export function parsePoni(text: string, source = 'poni'): PoniFile {
  const out: PoniFile = {
    dist: NaN,
    poni1: NaN,
    poni2: NaN,
    rot1: 0,
    rot2: 0,
    rot3: 0,
    wavelength: null,
    poniVersion: null,
    detector: null,
    detectorConfig: null,
    pixel1: null,
    pixel2: null,
    extra: {},
  };
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${source}: line ${n + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new PoniParseError(`${where}: not a valid PONI file (expected "key: value")`);
    const rawKey = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const key = rawKey.toLowerCase();
    const target = NUMERIC_KEYS[key];
    const known = target || ['poni_version', 'detector', 'detector_config', 'pixelsize1', 'pixelsize2'].includes(key);
    // an unknown key is kept (pyFAI adds some), but only if it looks like one: a stray line is no key
    if (!known && !/^[A-Za-z_][A-Za-z0-9_ ]{0,63}$/.test(rawKey)) throw new PoniParseError(`${where}: not a valid PONI file (expected "key: value")`);
    if (target) {
      (out as unknown as Record<string, number>)[target] = parseNumber(value, rawKey, where);
    } else if (key === 'poni_version') {
      out.poniVersion = parseNumber(value, rawKey, where);
    } else if (key === 'detector') {
      out.detector = value;
    } else if (key === 'detector_config') {
      let cfg: unknown;
      try {
        cfg = JSON.parse(value);
      } catch (err) {
        throw new PoniParseError(`${where}: Detector_config is not valid JSON`);
      }
      if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
        throw new PoniParseError(`${where}: Detector_config must be a JSON object`);
      }
      out.detectorConfig = cfg as Record<string, unknown>;
    } else if (key === 'pixelsize1') {
      out.pixel1 = parseNumber(value, rawKey, where);
    } else if (key === 'pixelsize2') {
      out.pixel2 = parseNumber(value, rawKey, where);
    } else {
      out.extra[rawKey] = value;
    }
  }
  for (const k of ['dist', 'poni1', 'poni2'] as const) {
    if (Number.isNaN(out[k])) {
      const name = k === 'dist' ? 'Distance' : k === 'poni1' ? 'Poni1' : 'Poni2';
      throw new PoniParseError(`${source}: missing ${name}`);
    }
  }
  const cfg = out.detectorConfig;
  if (cfg) {
    if (typeof cfg.pixel1 === 'number') out.pixel1 = cfg.pixel1;
    if (typeof cfg.pixel2 === 'number') out.pixel2 = cfg.pixel2;
  }
  return out;
}

/** Read and parse a `.poni` file. */
export async function readPoniFile(path: string): Promise<PoniFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PoniParseError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parsePoni(text, path);
}

/** Just the geometry parameters of a parsed file. */
export function poniParameters(p: PoniParameters): PoniParameters {
  return {
    dist: p.dist,
    poni1: p.poni1,
    poni2: p.poni2,
    rot1: p.rot1,
    rot2: p.rot2,
    rot3: p.rot3,
    wavelength: p.wavelength,
  };
}

/** Write a geometry as a pyFAI poni_version 2.1 file. */
export function formatPoni(
  p: PoniParameters,
  detector = 'Detector',
  detectorConfig: Record<string, unknown> | null = null,
  comment = 'written by daqlab',
): string {
  const lines = [
    '# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis',
    `# ${comment}`,
    'poni_version: 2.1',
    `Detector: ${detector}`,
  ];
  if (detectorConfig) lines.push(`Detector_config: ${JSON.stringify(detectorConfig)}`);
  lines.push(
    `Distance: ${p.dist}`,
    `Poni1: ${p.poni1}`,
    `Poni2: ${p.poni2}`,
    `Rot1: ${p.rot1}`,
    `Rot2: ${p.rot2}`,
    `Rot3: ${p.rot3}`,
  );
  if (p.wavelength !== null) lines.push(`Wavelength: ${p.wavelength}`);
  return lines.join('\n') + '\n';
}
