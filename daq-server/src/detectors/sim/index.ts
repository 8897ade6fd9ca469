/**
 * Simulated detectors: sim-jungfrau-4m (raw gain-switching uint16),
 * sim-eiger-4m and sim-eiger-500k (uint32 photon counting), sim-camera
 * (uint16 integrating camera for teaching). Scenes, noise, pools and
 * ground truth: see specs.ts, config.ts, scenes.ts, random.ts, run.ts.
 */
import type { DetectorInfo, DetectorPlugin, JsonSchema } from '../plugin.js';
import type { ClientFiles } from '../../files/client-files.js';
import { countingGapMask, runSpec, SCENES, SPECS, TRIGGER_MODES, type SimSpec } from './specs.js';
import { buildSchema, normalizeConfig, resolveGeometry, type SimConfig } from './config.js';
import { createScene } from './scenes.js';
import { CountingRun } from './counting.js';
import { JungfrauRun, jungfrauMap } from './jungfrau.js';
import { calibrationOffLoop } from './calibration-worker.js';
import type { SimRun } from './run.js';
import { PoolCache } from './pool-cache.js';

export { SimRun } from './run.js';
export { CountingRun } from './counting.js';
export { JungfrauRun, jungfrauCalibration, jfEnergy, jfGainStage } from './jungfrau.js';
export { SPECS, SCENES, COMMON_DEFAULTS, EIGER_DUMMY, DEFAULT_ENERGY_KEV, type SimSpec, type SceneName } from './specs.js';
export type { SimConfig } from './config.js';

class SimulatorPlugin implements DetectorPlugin {
  readonly name: string;
  private schemaCache: JsonSchema | null = null;
  /** the rendered pool of the last configuration, replayed by the next run with the same one */
  readonly pools = new PoolCache();

  constructor(readonly spec: SimSpec) {
    this.name = spec.name;
  }

  info(): DetectorInfo {
    const s = this.spec;
    return {
      name: s.name,
      model: s.model,
      shape: [...s.shape],
      image_shape: [s.imageShape[0], s.imageShape[1]],
      pixel_size: [s.pixel[0], s.pixel[1]],
      dtype: s.dtype,
      trigger_modes: [...TRIGGER_MODES],
      max_frame_rate: s.maxFrameRate,
      dummy: s.dummy,
      sensor: structuredClone(s.sensor),
      scenes: [...SCENES],
    };
  }

  configSchema(): JsonSchema {
    return (this.schemaCache ??= buildSchema(this.spec));
  }

  /** Validate (filling defaults) without opening a run. */
  normalize(config: Record<string, unknown>): { config: Record<string, unknown>; cfg: SimConfig } {
    return normalizeConfig(this.spec, this.configSchema(), config);
  }

  async open(config: Record<string, unknown>, files?: ClientFiles): Promise<SimRun> {
    const { config: publicConfig, cfg } = this.normalize(config);
    const spec = runSpec(this.spec, cfg.frame_shape);
    const geometry = await resolveGeometry(spec, cfg, files);
    const valid = spec.kind === 'jungfrau' ? jungfrauValid() : maybeInvert(countingGapMask(spec));
    const scene = createScene({ spec, cfg, geometry, valid });
    const run =
      spec.kind === 'jungfrau'
        ? new JungfrauRun(spec, publicConfig, cfg, geometry, scene)
        : new CountingRun(spec, publicConfig, cfg, geometry, scene);
    if (cfg.pool_size > 0) {
      // the frames are a function of the configuration and the geometry it resolved (a .poni path's content)
      const key = JSON.stringify([publicConfig, geometry.poni, geometry.energyKeV]);
      run.sharePool(this.pools.acquire(key, cfg.pool_size), () => this.pools.release());
    }
    return run;
  }
}

class JungfrauPlugin extends SimulatorPlugin {
  /** the assembly map and valid pixels (~140 ms) */
  warmUp(): void {
    jungfrauValid();
  }

  async calibration(config: Record<string, unknown>) {
    const { cfg } = this.normalize(config);
    const cal = await calibrationOffLoop(cfg.seed);
    const shape = [3, ...this.spec.shape];
    return {
      pedestal: { dtype: 'float32' as const, shape, data: cal.pedestal },
      gain: { dtype: 'float32' as const, shape, data: cal.gain },
    };
  }
}

function invert(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let k = 0; k < mask.length; k++) out[k] = mask[k] ? 0 : 1;
  return out;
}

let jfValid: Uint8Array | null = null;
/** Valid pixels of the assembled Jungfrau image (built once: they never change). */
const jungfrauValid = (): Uint8Array => (jfValid ??= invert(jungfrauMap().gapMask));

const maybeInvert = (mask: Uint8Array | null): Uint8Array | null => (mask ? invert(mask) : null);

/** The four simulated detectors. */
export function simulatorPlugins(): DetectorPlugin[] {
  return SPECS.map((s) => (s.kind === 'jungfrau' ? new JungfrauPlugin(s) : new SimulatorPlugin(s)));
}
