"""The benchmark record (bench/record.py, bench/record.ts, bench/results.py, scripts/bench.sh): the two
recorders write the same lines, and the comparison finds regressions in synthetic records. No benchmark
runs here: timings stay out of the test suite."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import importlib.util

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    """bench/NAME.py under another module name: bench/ stays off sys.path (its scripts' names are generic)."""
    spec = importlib.util.spec_from_file_location(f"daqlab_bench_{name}", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


record = _load("record")
results = _load("results")

RECORD_JS = ROOT / "bench" / "dist" / "record.js"

# FigureSpec as record.ts takes it; record.py's __main__ takes the same JSON
SPECS = [
    ("window16.gbps", {"value": 1.234567, "unit": "GB/s", "higherIsBetter": True, "label": "window 16 → numpy",
                       "reference": {"name": "raw ws, node → node", "value": 2.44}, "target": 1.5}),
    ("correct_assemble.median_ms", {"value": 8.2, "unit": "ms", "higherIsBetter": False,
                                    "reference": {"name": "memcpy of the output image", "value": 1.55}, "target": 6}),
    ("sigma_clip.no.poisson.min_ms", {"value": 20, "unit": "ms", "higherIsBetter": False,
                                      "reference": {"name": "pyFAI", "value": 50}, "targetRatio": 2}),
    ("memcpy_raw.median_ms", {"value": 0.91, "unit": "ms", "higherIsBetter": False, "label": "memcpy, 8 MiB — no reference"}),
]


def _write_both(tmp_path: Path, bench: str, id: str, spec: dict) -> tuple[list[str], list[str]]:
    py_out, js_out = tmp_path / "py.jsonl", tmp_path / "js.jsonl"
    for out, cmd in ((py_out, [sys.executable, str(ROOT / "bench" / "record.py")]), (js_out, ["node", str(RECORD_JS)])):
        subprocess.run([*cmd, bench, id, json.dumps(spec)], check=True, timeout=30,
                       env={**os.environ, "DAQLAB_BENCH_RECORD": str(out)})
    return py_out.read_text().splitlines(), js_out.read_text().splitlines()


def test_python_and_node_recorders_write_the_same_lines(tmp_path):
    assert RECORD_JS.exists(), "bench/dist/record.js is missing: npm run build -w bench"
    for id, spec in SPECS:
        py, js = _write_both(tmp_path, "jungfrau", id, spec)
        assert py == js, (id, py, js)
        (tmp_path / "py.jsonl").unlink()
        (tmp_path / "js.jsonl").unlink()
    line = json.loads(py[0])
    assert list(line) == ["schema", "bench", "figure", "label", "value", "unit", "higher_is_better", "reference",
                          "reference_value", "ratio", "target", "target_ratio"]


def test_ratio_reads_higher_is_better():
    up = record.figure_line("s", "a.gbps", 1.22, "GB/s", True, reference=("raw", 2.44))
    assert up["ratio"] == 0.5 and up["figure"] == "s.a.gbps"
    down = record.figure_line("j", "b.ms", 8.2, "ms", False, reference=("memcpy", 1.64), target=6)
    assert down["ratio"] == 0.2 and down["target"] == 6 and down["reference_value"] == 1.64
    bare = record.figure_line("j", "c.ms", 3, "ms", False)
    assert bare["ratio"] is None and bare["reference"] is None and bare["label"] == "c.ms"


def test_bad_figure_ids_are_refused():
    for bad in ("Window16", "a..b", "a b", ".a", ""):
        with pytest.raises(ValueError, match="figure id"):
            record.figure_line("stream_to_python", bad, 1, "GB/s", True)


def test_recorder_does_nothing_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("DAQLAB_BENCH_RECORD", raising=False)
    monkeypatch.chdir(tmp_path)
    record.Recorder("codec").figure("x.mbps", 100, "MB/s", True, reference=("memcpy", 1000))
    subprocess.run(["node", str(RECORD_JS), "codec", "x.mbps", json.dumps(SPECS[0][1])], check=True, timeout=30,
                   cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "DAQLAB_BENCH_RECORD"})
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "f.jsonl"
    rec = record.Recorder("codec", str(out))
    rec.figure("x.mbps", 100, "MB/s", True, reference=("memcpy", 1000))
    rec.figure("y.mbps", float("nan"), "MB/s", True)  # not finite: left out, not written as NaN
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["figure"] for f in lines] == ["codec.x.mbps"] and lines[0]["ratio"] == 0.1


# ---- run records and their comparison -----------------------------------------------------------

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gib": 8, "os": "Linux Test x86_64", "node": "v20.0.0", "python": "3.11.0"}


def _fig(id, value, ref=None, higher=True, **kw):
    bench, rest = id.split(".", 1)
    return record.figure_line(bench, rest, value, "ms" if not higher else "GB/s", higher,
                              reference=("ref", ref) if ref is not None else None, **kw)


def _record(dir: Path, date: str, figures: list[dict], machine: dict = MACHINE, commit: str = "c" * 40) -> Path:
    m = {"fingerprint": results.fingerprint(machine), **machine}
    rec = {"schema": 1, "date": date, "machine": m, "git": {"commit": commit, "dirty": False}, "benches": [],
           "failed": [], "args": [], "figures": figures}
    path = dir / f"{date.replace(':', '').replace('-', '')}-{m['fingerprint'][:8]}.json"
    path.write_text(results.dumps(rec))
    return path


def _rows(lines: list[str]) -> dict[str, str]:
    return {line.split()[0]: line for line in lines if line.split() and "." in line.split()[0] and not line.startswith("record")}


def test_compare_marks_regressions_against_the_last_record_of_the_same_machine(tmp_path):
    _record(tmp_path, "2026-01-01T00:00:00Z", [_fig("s.w16.gbps", 1.0, ref=2.0), _fig("j.c.ms", 8.0, ref=2.0, higher=False),
                                               _fig("j.m.ms", 2.0, higher=False), _fig("s.gone.gbps", 1.0, ref=1.0)])
    # another machine, newer: not a reference for this one
    _record(tmp_path, "2026-01-02T00:00:00Z", [_fig("s.w16.gbps", 9.0, ref=2.0)], machine={**MACHINE, "cores": 64})
    new = _record(tmp_path, "2026-01-03T00:00:00Z", [
        _fig("s.w16.gbps", 0.8, ref=2.0),  # ratio 0.5 → 0.4: -20 %, a regression
        _fig("j.c.ms", 6.0, ref=2.0, higher=False, target=6),  # ratio 0.25 → 0.333: better, target met
        _fig("j.m.ms", 2.1, higher=False),  # no reference: the value, -4.8 %, within the noise
        _fig("s.new.gbps", 1.0, ref=1.0),
    ])
    lines, regressions = results.compare(results.load(new), results.records(tmp_path)[:-1])
    rows = _rows(lines)
    assert regressions == 1
    assert "REGRESSION" in rows["s.w16.gbps"] and "-20.0%" in rows["s.w16.gbps"] and "0.5" in rows["s.w16.gbps"]
    assert "improved" in rows["j.c.ms"] and "+33.3%" in rows["j.c.ms"] and "≤ 6 ms: met" in rows["j.c.ms"]
    assert "value" in rows["j.m.ms"] and "-4.8%" in rows["j.m.ms"] and "REGRESSION" not in rows["j.m.ms"]
    assert " new" in rows["s.new.gbps"]
    assert "s.gone.gbps" not in rows
    assert any("1 figure(s) regressed" in line for line in lines)


def test_compare_cli_newest_record_strict_and_unknown_machine(tmp_path, capsys):
    _record(tmp_path, "2026-01-01T00:00:00Z", [_fig("s.w16.gbps", 1.0, ref=2.0)])
    _record(tmp_path, "2026-01-03T00:00:00Z", [_fig("s.w16.gbps", 0.5, ref=2.0)])
    assert results.main(["compare", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2026-01-03" in out.splitlines()[0] and "REGRESSION" in out and "-50.0%" in out
    assert results.main(["compare", "--dir", str(tmp_path), "--strict"]) == 1
    capsys.readouterr()
    other = _record(tmp_path, "2026-01-04T00:00:00Z", [_fig("s.w16.gbps", 0.5, ref=2.0)], machine={**MACHINE, "node": "v22.0.0"})
    assert results.main(["compare", str(other), "--dir", str(tmp_path), "--strict"]) == 0
    out = capsys.readouterr().out
    assert "no earlier record of this machine fingerprint" in out and "differs in: node" in out


def test_write_makes_a_record_of_the_machine_commit_and_figures(tmp_path):
    figs = tmp_path / "figs.jsonl"
    rec = record.Recorder("codec", str(figs))
    rec.figure("jungfrau.compress.mbps", 175, "MB/s", True, reference=("memcpy", 8580))
    out = results.write(figs, tmp_path / "results", ["codec"], ["h5viewer"], ["--seconds", "0.1"])
    r = json.loads(out.read_text())
    assert set(r["machine"]) == {"fingerprint", "cpu", "cores", "memory_gib", "os", "node", "python"}
    assert r["machine"]["fingerprint"] == results.fingerprint(r["machine"]) and r["machine"]["cores"] >= 1
    assert len(r["git"]["commit"]) == 40 and isinstance(r["git"]["dirty"], bool)
    assert r["benches"] == ["codec"] and r["failed"] == ["h5viewer"] and r["args"] == ["--seconds", "0.1"]
    assert [f["figure"] for f in r["figures"]] == ["codec.jungfrau.compress.mbps"]
    assert out.name.endswith(f"{r['machine']['fingerprint'][:8]}-{r['git']['commit'][:8]}.json")


def test_bench_sh_compare_only_and_unknown_names(tmp_path):
    _record(tmp_path, "2026-01-01T00:00:00Z", [_fig("s.w16.gbps", 1.0, ref=2.0)])
    _record(tmp_path, "2026-01-03T00:00:00Z", [_fig("s.w16.gbps", 1.0, ref=2.0)])
    env = {**os.environ, "DAQLAB_BENCH_RESULTS": str(tmp_path)}
    p = subprocess.run(["bash", "scripts/bench.sh", "--compare-only"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "s.w16.gbps" in p.stdout and "+0.0%" in p.stdout
    p = subprocess.run(["bash", "scripts/bench.sh", "--no-setup", "--only", "codec,nope"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "no benchmark named 'nope'" in p.stderr
    p = subprocess.run(["bash", "scripts/bench.sh", "--no-setup", "--only", "codec,jungfrau", "--", "--frames", "2"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--only NAME" in p.stderr
