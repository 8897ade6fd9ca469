/**
 * Step types by name: the built-in ones and those added as plugins (a JS
 * module whose default export is a StepFactory or an array of them). The
 * same registry is rebuilt inside every receiver worker, from the same
 * plugin paths, so a plugin step runs exactly like a built-in one.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { DaqError } from '../protocol/index.js';
import type { StepFactory } from './types.js';
import { builtinSteps } from './builtin.js';

export class StepRegistry {
  private readonly steps = new Map<string, StepFactory>();
  readonly pluginPaths: string[] = [];

  constructor(factories: StepFactory[] = builtinSteps()) {
    for (const f of factories) this.register(f);
  }

  register(factory: StepFactory): void {
    if (!factory || typeof factory.name !== 'string' || typeof factory.create !== 'function' || typeof factory.schema !== 'object') {
      throw new Error('a step plugin must export {name, description, schema, create(params, input, env)}');
    }
    if (this.steps.has(factory.name)) throw new Error(`step ${JSON.stringify(factory.name)} is already registered`);
    this.steps.set(factory.name, factory);
  }

  /** Load a plugin module; its default export is one StepFactory or an array of them. */
  async load(path: string): Promise<string[]> {
    const absolute = resolve(path);
    let mod: { default?: unknown };
    try {
      mod = await import(pathToFileURL(absolute).href);
    } catch (err) {
      throw new Error(`plugin ${path}: cannot be loaded: ${(err as Error).message}`);
    }
    const exported = mod.default;
    const list = (Array.isArray(exported) ? exported : [exported]) as StepFactory[];
    try {
      for (const f of list) this.register(f);
    } catch (err) {
      throw new Error(`plugin ${path}: ${(err as Error).message}`);
    }
    this.pluginPaths.push(absolute);
    return list.map((f) => f.name);
  }

  get(name: string): StepFactory {
    const f = this.steps.get(name);
    if (!f) throw new DaqError('ParameterError', `unknown step ${JSON.stringify(name)}`, [{ field: 'step', message: `unknown step ${JSON.stringify(name)}; known: ${this.names().join(', ')}` }]);
    return f;
  }

  has(name: string): boolean {
    return this.steps.has(name);
  }

  names(): string[] {
    return [...this.steps.keys()];
  }
}

/** A registry with the built-ins and the given plugins (used in workers). */
export async function registryWith(pluginPaths: string[]): Promise<StepRegistry> {
  const registry = new StepRegistry();
  for (const p of pluginPaths) await registry.load(p);
  return registry;
}
