/**
 * The benchmark record, Node side: every figure a benchmark prints is also
 * handed to `Recorder.figure`, which appends it as one JSON line to the file
 * named by $DAQLAB_BENCH_RECORD (scripts/bench.sh sets it) and does nothing
 * when that variable is unset. bench/record.py is the Python twin; both write
 * the same schema (bench/README.md, "The record"; test/test_bench_record.py
 * checks that they agree):
 *
 *   {"schema": 1, "bench": "jungfrau", "figure": "jungfrau.correct_assemble.median_ms",
 *    "label": "...", "value": 8.2, "unit": "ms", "higher_is_better": false,
 *    "reference": "memcpy of the output image", "reference_value": 1.55,
 *    "ratio": 0.189, "target": 6, "target_ratio": null}
 *
 * figure: `<bench>.<id>`, a stable id ([a-z0-9_-] words joined by dots).
 * reference / reference_value: the reference measured in the same run, in the
 * same unit (null when the figure has none). ratio reads "higher is better"
 * whatever the unit: value / reference when higher is better, reference /
 * value when lower is better (null without a reference). target: the mark the
 * issues set on the value (≥ when higher is better, ≤ when lower);
 * target_ratio: a mark set on the ratio (always ≥). Non-finite values are not
 * recorded (a note goes to stderr).
 */
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const RECORD_SCHEMA = 1;
const ID = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;

export interface FigureLine {
  schema: number;
  bench: string;
  figure: string;
  label: string;
  value: number;
  unit: string;
  higher_is_better: boolean;
  reference: string | null;
  reference_value: number | null;
  ratio: number | null;
  target: number | null;
  target_ratio: number | null;
}

export interface FigureSpec {
  value: number;
  unit: string;
  higherIsBetter: boolean;
  /** human-readable: the row of the printed table */
  label?: string;
  /** the same-run reference, in the same unit */
  reference?: { name: string; value: number };
  target?: number;
  targetRatio?: number;
}

/** A stable id word from a printed label: lower case, runs of other characters → "_". */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

/** Rounded to 4 significant digits: timings carry no more, and the record files stay small. */
function round(x: number): number {
  return Number(x.toPrecision(4));
}

/** The line one figure becomes (exported for the schema test). */
export function figureLine(bench: string, id: string, f: FigureSpec): FigureLine {
  const figure = `${bench}.${id}`;
  if (!ID.test(figure)) throw new Error(`bench record: figure id ${JSON.stringify(figure)} must be [a-z0-9_-] words joined by dots`);
  const ref = f.reference && Number.isFinite(f.reference.value) ? f.reference : null;
  let ratio: number | null = null;
  if (ref && ref.value !== 0 && f.value !== 0) ratio = round(f.higherIsBetter ? f.value / ref.value : ref.value / f.value);
  return {
    schema: RECORD_SCHEMA,
    bench,
    figure,
    label: f.label ?? id,
    value: round(f.value),
    unit: f.unit,
    higher_is_better: f.higherIsBetter,
    reference: ref ? ref.name : null,
    reference_value: ref ? round(ref.value) : null,
    ratio,
    target: f.target ?? null,
    target_ratio: f.targetRatio ?? null,
  };
}

export class Recorder {
  readonly path: string | undefined;

  constructor(readonly bench: string, path: string | undefined = process.env.DAQLAB_BENCH_RECORD || undefined) {
    this.path = path;
  }

  figure(id: string, f: FigureSpec): void {
    const line = figureLine(this.bench, id, f); // the id is checked even when nothing is recorded
    if (!this.path) return;
    if (!Number.isFinite(f.value)) {
      console.error(`bench record: ${line.figure} not recorded (value ${f.value})`);
      return;
    }
    appendFileSync(this.path, JSON.stringify(line) + '\n');
  }
}

// `node bench/dist/record.js BENCH ID JSON-SPEC`: one figure through this recorder (test/test_bench_record.py)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [bench, id, spec] = process.argv.slice(2);
  new Recorder(bench).figure(id, JSON.parse(spec) as FigureSpec);
}
