/**
 * Validation of prepare parameters: every bad field is reported by its
 * dotted path, all at once, in one ParameterError.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parameterError, type FieldError } from '../protocol/index.js';
import type { JsonSchema } from '../detectors/plugin.js';

// verbose: errors carry their schema, whose `errorHint` (a daqlab keyword) completes the message
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, verbose: true });
const compiled = new WeakMap<JsonSchema, ValidateFunction>();
/**
 * Compiled validators by schema content. Some schemas are built afresh for every prepare (a
 * pipeline's processing schema): compiling each one again blocked the event loop for 20-70 ms per
 * prepare and grew Ajv's own cache by one compiled schema each time. Distinct contents are few
 * (detectors × pipelines); the bound only guards against a plugin that builds unbounded variety.
 */
const byContent = new Map<string, ValidateFunction>();
const MAX_COMPILED = 256;

function compile(schema: JsonSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (fn) return fn;
  const key = JSON.stringify(schema);
  fn = byContent.get(key);
  if (!fn) {
    fn = ajv.compile(schema);
    ajv.removeSchema(schema); // Ajv keeps every schema object it compiled; ours are cached above
    if (byContent.size >= MAX_COMPILED) byContent.delete(byContent.keys().next().value as string);
    byContent.set(key, fn);
  }
  compiled.set(schema, fn);
  return fn;
}

/**
 * Compile `schema` now. Ajv compiles a schema at its first use, and the prepare schema of one
 * detector took 160-250 ms of the event loop: the first prepare on every detector stalled every
 * client. Controllers compile theirs when the server starts, before it listens.
 */
export function precompile(schema: JsonSchema): void {
  compile(schema);
}

/** How many distinct schemas have a compiled validator (for tests). */
export const compiledSchemas = (): number => byContent.size;

const dotted = (instancePath: string): string =>
  instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

const join = (base: string, key: string): string => (base ? `${base}.${key}` : key);

/** The message of `e`, completed by its schema's `errorHint` (what a valid value means) when it has one. */
function toFieldError(e: ErrorObject): FieldError {
  const error = describe(e);
  const hint = (e.parentSchema as { errorHint?: unknown } | undefined)?.errorHint;
  return typeof hint === 'string' && e.keyword !== 'additionalProperties' ? { ...error, message: `${error.message} (${hint})` } : error;
}

function describe(e: ErrorObject): FieldError {
  const at = dotted(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { field: join(at, String(p.additionalProperty)), message: 'unknown field' };
    case 'required':
      return { field: join(at, String(p.missingProperty)), message: 'is required' };
    case 'enum':
      return { field: at, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { field: at, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { field: at, message: `must be of type ${String(p.type)}` };
    default:
      return { field: at || '(params)', message: e.message ?? e.keyword };
  }
}

/** Drop the noise Ajv adds for oneOf/anyOf branches when a more precise error exists. */
function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validate `value` in place (defaults are filled in); throws ParameterError listing every bad field. */
export function validate<T = Record<string, unknown>>(schema: JsonSchema, value: unknown, context: string): T {
  const fn = compile(schema);
  if (!fn(value)) {
    // an if/then failure is reported by the errors inside `then`; the `if` line itself says nothing
    const errors = (fn.errors ?? []).filter((e) => e.keyword !== 'if');
    throw parameterError(dedupe(errors.map(toFieldError)), context);
  }
  return value as T;
}
