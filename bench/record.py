"""The benchmark record, Python side: every figure a benchmark prints is also handed to
`Recorder.figure`, which appends it as one JSON line to the file named by $DAQLAB_BENCH_RECORD
(scripts/bench.sh sets it) and does nothing when that variable is unset. bench/record.ts is the
Node twin; both write the same schema (bench/README.md, "The record";
test/test_bench_record.py checks that they agree):

    {"schema": 1, "bench": "jungfrau", "figure": "jungfrau.correct_assemble.median_ms",
     "label": "...", "value": 8.2, "unit": "ms", "higher_is_better": false,
     "reference": "memcpy of the output image", "reference_value": 1.55,
     "ratio": 0.189, "target": 6, "target_ratio": null}

figure: `<bench>.<id>`, a stable id ([a-z0-9_-] words joined by dots).
reference / reference_value: the reference measured in the same run, in the same unit (null when
the figure has none). ratio reads "higher is better" whatever the unit: value / reference when
higher is better, reference / value when lower is better (null without a reference).
target: the mark the issues set on the value (>= when higher is better, <= when lower);
target_ratio: a mark set on the ratio (always >=). Non-finite values are not recorded (a note
goes to stderr).
"""
from __future__ import annotations

import json
import math
import os
import re
import sys

RECORD_SCHEMA = 1
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")


def slug(text: str) -> str:
    """A stable id word from a printed label: lower case, runs of other characters -> "_"."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _round(x: float) -> float:
    """4 significant digits, as Number.toPrecision(4) on the Node side: timings carry no more."""
    return float(f"{x:.4g}")


def _num(x: float | int):
    """Whole numbers as ints: JSON.stringify writes 6, not 6.0."""
    return int(x) if float(x).is_integer() else float(x)


def figure_line(bench: str, id: str, value: float, unit: str, higher_is_better: bool, *, label: str | None = None,
                reference: tuple[str, float] | None = None, target: float | None = None,
                target_ratio: float | None = None) -> dict:
    """The line one figure becomes (exported for the schema test)."""
    figure = f"{bench}.{id}"
    if not _ID.match(figure):
        raise ValueError(f"bench record: figure id {figure!r} must be [a-z0-9_-] words joined by dots")
    ref = reference if reference is not None and math.isfinite(reference[1]) else None
    ratio = None
    if ref is not None and ref[1] != 0 and value != 0:
        ratio = _num(_round(value / ref[1] if higher_is_better else ref[1] / value))
    return {
        "schema": RECORD_SCHEMA,
        "bench": bench,
        "figure": figure,
        "label": label if label is not None else id,
        "value": _num(_round(value)) if math.isfinite(value) else value,
        "unit": unit,
        "higher_is_better": bool(higher_is_better),
        "reference": ref[0] if ref else None,
        "reference_value": _num(_round(ref[1])) if ref else None,
        "ratio": ratio,
        "target": _num(target) if target is not None else None,
        "target_ratio": _num(target_ratio) if target_ratio is not None else None,
    }


class Recorder:
    def __init__(self, bench: str, path: str | None = None):
        self.bench = bench
        self.path = path if path is not None else (os.environ.get("DAQLAB_BENCH_RECORD") or None)

    def figure(self, id: str, value: float, unit: str, higher_is_better: bool, **kw) -> None:
        """kw: label, reference=(name, value), target, target_ratio (see the module's docstring)."""
        line = figure_line(self.bench, id, float(value), unit, higher_is_better, **kw)  # checked even when unset
        if not self.path:
            return
        if not math.isfinite(value):
            print(f"bench record: {line['figure']} not recorded (value {value})", file=sys.stderr)
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    # `python bench/record.py BENCH ID JSON-SPEC`: one figure, the spec as record.ts's FigureSpec (the schema test)
    bench, id, spec = sys.argv[1:4]
    s = json.loads(spec)
    ref = s.get("reference")
    Recorder(bench).figure(id, s["value"], s["unit"], s["higherIsBetter"], label=s.get("label"),
                           reference=(ref["name"], ref["value"]) if ref else None,
                           target=s.get("target"), target_ratio=s.get("targetRatio"))
