/**
 * Where the Jungfrau correction gets its geometry and calibration:
 *  - the module layout: `env.detector.jungfrau.layout` ({module_grid, gap},
 *    as the simulator describes it), else the Jungfrau 4M for 8 modules,
 *    else M modules stacked in one column with the 4M's gaps;
 *  - pedestal [3, M, 512, 1024] ADU and gain [3, M, 512, 1024] ADU/keV
 *    (or [6, ...]: G0, G1, G2, HG0, HG1, HG2) from `pedestal_file` /
 *    `gain_file` (.npy, float32/float64/uint16), else `env.maps.pedestal` /
 *    `env.maps.gain` (the server fills them from the detector plugin's
 *    calibration); high gain mode takes HG0..HG2 from a [6, ...] gain map
 *    or from `gain_hg_file` / `env.maps.gain_hg` [3, ...].
 */
import { JUNGFRAU_4M, makeJungfrauLayout, type JungfrauLayout } from '../../detectors/geometry/jungfrau-layout.js';
import type { ImageSpec, StepEnvironment } from '../types.js';
import { findMap, type FieldProblem, type LoadedMap } from '../steps/common.js';
import type { GainMode } from './decode.js';

const MODULE_PIXELS = 512 * 1024;

/** Problems of an input that is not raw Jungfrau [modules, 512, 1024] uint16. */
export function checkRawInput(input: ImageSpec, step: string): FieldProblem[] {
  const s = input.shape;
  if (input.dtype !== 'uint16' || s.length !== 3 || s[1] !== 512 || s[2] !== 1024 || s[0] < 1) {
    return [{ field: 'input', message: `${step} needs raw Jungfrau frames [modules, 512, 1024] uint16, got [${s.join(', ')}] ${input.dtype}` }];
  }
  return [];
}

const cache = new Map<string, JungfrauLayout>();

function layoutOf(grid: [number, number], gap: [number, number]): JungfrauLayout {
  const g = JUNGFRAU_4M;
  if (grid[0] === g.moduleGrid[0] && grid[1] === g.moduleGrid[1] && gap[0] === g.gap[0] && gap[1] === g.gap[1]) return g;
  const key = `${grid}:${gap}`;
  let l = cache.get(key);
  if (!l) cache.set(key, (l = makeJungfrauLayout(`Jungfrau ${grid[0]}x${grid[1]}`, grid, gap)));
  return l;
}

const pair = (v: unknown): [number, number] | null =>
  Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0) ? [v[0] as number, v[1] as number] : null;

/** The detector's module layout (see the file comment); `inputModules` = modules per raw frame. */
export function resolveLayout(env: StepEnvironment, inputModules: number): JungfrauLayout {
  const jf = (env.detector?.jungfrau as Record<string, unknown> | undefined)?.layout as Record<string, unknown> | undefined;
  const grid = pair(jf?.module_grid), gap = pair(jf?.gap);
  if (grid && gap && grid[0] * grid[1] >= 1) return layoutOf(grid, gap);
  if (inputModules === JUNGFRAU_4M.nModules) return JUNGFRAU_4M;
  return layoutOf([inputModules, 1], [JUNGFRAU_4M.gap[0], JUNGFRAU_4M.gap[1]]);
}

/** Check `modules` against the layout and the input. */
export function checkModules(modules: number[] | null, layout: JungfrauLayout, inputModules: number): FieldProblem[] {
  if (modules === null) {
    if (inputModules !== layout.nModules) {
      return [{ field: 'modules', message: `the input has ${inputModules} modules, the detector ${layout.nModules}: list the modules this receiver gets` }];
    }
    return [];
  }
  if (modules.length !== inputModules) return [{ field: 'modules', message: `lists ${modules.length} modules, the input has ${inputModules}` }];
  const seen = new Set<number>();
  for (const [k, m] of modules.entries()) {
    if (!Number.isInteger(m) || m < 0 || m >= layout.nModules) return [{ field: `modules[${k}]`, message: `module ${m} is not in 0..${layout.nModules - 1}` }];
    if (seen.has(m)) return [{ field: `modules[${k}]`, message: `module ${m} is listed twice` }];
    seen.add(m);
  }
  return [];
}

export interface CalibrationParams {
  pedestal_file: string | null;
  gain_file: string | null;
  gain_hg_file: string | null;
  gain_mode: GainMode;
}

export interface Calibration {
  /** [3, M, 512, 1024] ADU */
  pedestal: Float32Array;
  /** [3, M, 512, 1024] ADU/keV of the selected gain mode */
  gain: Float32Array;
  origins: { pedestal: string; gain: string };
}

function toF32(data: ArrayLike<number>, start: number, count: number): Float32Array {
  if (data instanceof Float32Array) return data.subarray(start, start + count);
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = data[start + k];
  return out;
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

function stagesOf(map: LoadedMap, modules: number, allowed: number[]): number | null {
  const s = map.shape;
  if (s.length === 4 && allowed.includes(s[0]) && s[1] === modules && s[2] === 512 && s[3] === 1024 && map.data.length === s[0] * modules * MODULE_PIXELS) return s[0];
  return null;
}

function load(env: StepEnvironment, name: string, file: string | null, field: string, errors: FieldProblem[]): LoadedMap | null {
  try {
    return findMap(env, name, file);
  } catch (err) {
    errors.push({ field, message: (err as Error).message });
    return null;
  }
}

/** Load and check the calibration for `layout`; problems name the parameter to fix. */
export function loadCalibration(p: CalibrationParams, env: StepEnvironment, layout: JungfrauLayout): { cal: Calibration | null; errors: FieldProblem[] } {
  const errors: FieldProblem[] = [];
  const M = layout.nModules;
  const N = M * MODULE_PIXELS;
  const want3 = shapeText([3, M, 512, 1024]);

  const ped = load(env, 'pedestal', p.pedestal_file, 'pedestal_file', errors);
  if (!ped && !errors.length) {
    errors.push({
      field: 'pedestal_file',
      message: `no pedestal map: give pedestal_file (.npy ${want3} ADU) or take dark frames with the pedestal pipeline (jungfrau_pedestal)`,
    });
  } else if (ped && stagesOf(ped, M, [3]) === null) {
    errors.push({ field: 'pedestal_file', message: `${ped.origin} has shape ${shapeText(ped.shape)}, expected ${want3}` });
  }

  const gain = load(env, 'gain', p.gain_file, 'gain_file', errors);
  let gainStages: number | null = null;
  if (!gain && !errors.some((e) => e.field === 'gain_file')) {
    errors.push({ field: 'gain_file', message: `no gain map: give gain_file (.npy ${want3} or [6, ${M}, 512, 1024] ADU/keV)` });
  } else if (gain) {
    gainStages = stagesOf(gain, M, [3, 6]);
    if (gainStages === null) errors.push({ field: 'gain_file', message: `${gain.origin} has shape ${shapeText(gain.shape)}, expected ${want3} or [6, ${M}, 512, 1024]` });
  }

  let hg: LoadedMap | null = null;
  if (p.gain_mode === 'high' && gainStages !== 6 && gain) {
    hg = load(env, 'gain_hg', p.gain_hg_file, 'gain_hg_file', errors);
    if (!hg && !errors.some((e) => e.field === 'gain_hg_file')) {
      errors.push({
        field: 'gain_hg_file',
        message: `gain_mode "high" needs the HG0..HG2 gains: a gain map [6, ${M}, 512, 1024] or gain_hg_file (.npy ${want3})`,
      });
    } else if (hg && stagesOf(hg, M, [3]) === null) {
      errors.push({ field: 'gain_hg_file', message: `${hg.origin} has shape ${shapeText(hg.shape)}, expected ${want3}` });
    }
  }
  if (errors.length || !ped || !gain) return { cal: null, errors };

  let gainData: Float32Array, gainOrigin: string;
  if (p.gain_mode === 'high') {
    if (gainStages === 6) {
      gainData = toF32(gain.data, 3 * N, 3 * N);
      gainOrigin = `${gain.origin} (HG0..HG2)`;
    } else {
      gainData = toF32(hg!.data, 0, 3 * N);
      gainOrigin = hg!.origin;
    }
  } else {
    gainData = toF32(gain.data, 0, 3 * N);
    gainOrigin = gain.origin;
  }
  return { cal: { pedestal: toF32(ped.data, 0, 3 * N), gain: gainData, origins: { pedestal: ped.origin, gain: gainOrigin } }, errors };
}
