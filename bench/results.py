"""Benchmark run records under bench/results/ and their comparison (used by scripts/bench.sh).

    python bench/results.py write FIGURES.jsonl --benches a,b [--failed c] [--args "..."] [--dir DIR]
        one run record: the machine's fingerprint, git commit, date and the figures the benches
        appended to FIGURES.jsonl (bench/record.py, bench/record.ts); prints the file written
    python bench/results.py compare [RECORD] [--dir DIR] [--strict]
        each figure of RECORD (default: the newest record) beside the same figure in the latest
        earlier record of the same machine fingerprint: ratios (or values for figures without a
        reference), change in %, a loud mark on regressions of more than 10 %; --strict: exit 1
        when there is one
    DIR: bench/results/, or $DAQLAB_BENCH_RESULTS when set

A run record (schema 1, bench/README.md):
    {"schema": 1, "date": "2026-12-07T16:50:00Z",
     "machine": {"fingerprint": "…", "cpu": "…", "cores": 2, "memory_gib": 8, "os": "…", "node": "v20.…", "python": "3.11.…"},
     "git": {"commit": "…", "dirty": false}, "benches": [...], "failed": [...], "args": [...],
     "figures": [<one line of bench/record.py each>]}
The fingerprint is a hash of every machine field: records compare only with records of the same
hardware, OS and Node/Python versions. No host names or addresses are recorded.
Standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = 1
REGRESSION = 0.10  # a drop of more than 10 % in a ratio is a regression
ROOT = Path(__file__).resolve().parents[1]
# where records go: bench/results/, or $DAQLAB_BENCH_RESULTS (tests, trial runs)
RESULTS = Path(os.environ.get("DAQLAB_BENCH_RESULTS") or ROOT / "bench" / "results")


# ---- the machine, the tree ----------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "cpu model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.check_output(["sysctl", "-n", "machdep.cpu.brand_string"], text=True).strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return platform.processor() or platform.machine()


def _memory_gib() -> int:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return 0


def _os() -> str:
    """System, architecture and distribution (not the kernel build: it changes under a machine)."""
    name = platform.system()
    try:
        rel = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', Path("/etc/os-release").read_text(), re.M))
        name += f" {rel.get('PRETTY_NAME', '')}".rstrip()
    except OSError:
        if sys.platform == "darwin":
            name += f" {platform.mac_ver()[0]}"
    return f"{name} {platform.machine()}"


def _node_version() -> str:
    try:
        return subprocess.check_output(["node", "--version"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "none"


def machine() -> dict:
    m = {"cpu": _cpu_model(), "cores": os.cpu_count() or 0, "memory_gib": _memory_gib(), "os": _os(),
         "node": _node_version(), "python": platform.python_version()}
    return {"fingerprint": fingerprint(m), **m}


def fingerprint(m: dict) -> str:
    fields = {k: v for k, v in m.items() if k != "fingerprint"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def git_state(root: Path = ROOT) -> dict:
    def git(*a: str) -> str:
        return subprocess.check_output(["git", "-C", str(root), *a], text=True, stderr=subprocess.DEVNULL).strip()
    try:
        # tracked files only: the record being written and scratch files do not make the tree dirty
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


# ---- writing a record ---------------------------------------------------------------------------

def read_figures(path: Path) -> list[dict]:
    figures = []
    if path.exists():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    figures.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}:{n}: not a figure line ({e})")
    return figures


def dumps(record: dict) -> str:
    """Header fields indented, one figure a line: small files, readable diffs."""
    head = {k: v for k, v in record.items() if k != "figures"}
    lines = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items())
    figs = ",\n".join(f"  {json.dumps(f, ensure_ascii=False)}" for f in record["figures"])
    return "{\n" + lines + ',\n "figures": [\n' + figs + ("\n" if figs else "") + " ]\n}\n"


def write(figures_file: Path, out_dir: Path, benches: list[str], failed: list[str], args: list[str],
          now: datetime | None = None) -> Path:
    now = now or datetime.now(timezone.utc)
    m = machine()
    g = git_state()
    record = {"schema": SCHEMA, "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": m, "git": g,
              "benches": benches, "failed": failed, "args": args, "figures": read_figures(figures_file)}
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{m['fingerprint'][:8]}-{(g['commit'] or 'nogit')[:8]}.json"
    path = out_dir / name
    path.write_text(dumps(record))
    return path


# ---- comparing ----------------------------------------------------------------------------------

def load(path: Path) -> dict:
    r = json.loads(path.read_text())
    if r.get("schema") != SCHEMA:
        raise SystemExit(f"{path}: record schema {r.get('schema')!r}, this script reads {SCHEMA}")
    r["_path"] = path
    return r


def records(out_dir: Path) -> list[dict]:
    """Every record in the folder, oldest first (by date, then file name)."""
    rs = [load(p) for p in sorted(out_dir.glob("*.json"))]
    return sorted(rs, key=lambda r: (r["date"], r["_path"].name))


def score(f: dict) -> tuple[float | None, str]:
    """What is compared, reading higher is better: the ratio, or the value where there is no reference."""
    if f.get("ratio") is not None:
        return f["ratio"], "ratio"
    v = f.get("value")
    if v is None or v == 0:
        return None, "value"
    return (v if f["higher_is_better"] else 1 / v), "value"


def target_met(f: dict) -> str:
    marks = []
    if f.get("target") is not None:
        ok = f["value"] >= f["target"] if f["higher_is_better"] else f["value"] <= f["target"]
        marks.append(f"{'≥' if f['higher_is_better'] else '≤'} {f['target']:g} {f['unit']}: {'met' if ok else 'NOT MET'}")
    if f.get("target_ratio") is not None and f.get("ratio") is not None:
        ok = f["ratio"] >= f["target_ratio"]
        marks.append(f"ratio ≥ {f['target_ratio']:g}: {'met' if ok else 'NOT MET'}")
    return "; ".join(marks)


def compare(new: dict, earlier: list[dict]) -> tuple[list[str], int]:
    """Lines to print and the number of regressions: each figure of `new` beside the same figure in
    the latest of `earlier` (same fingerprint, older than `new`) that has it."""
    fp = new["machine"]["fingerprint"]
    same = [r for r in earlier if r["machine"]["fingerprint"] == fp and r["_path"] != new["_path"]]
    out = [f"record {new['_path'].name}: {new['date']}, commit {str(new['git']['commit'])[:8]}"
           f"{' (dirty tree)' if new['git']['dirty'] else ''}, machine {fp}: {new['machine']['cpu']}, "
           f"{new['machine']['cores']} cores, {new['machine']['memory_gib']} GiB, {new['machine']['os']}, "
           f"Node {new['machine']['node']}, Python {new['machine']['python']}"]
    if new.get("failed"):
        out.append(f"FAILED benches in this run: {', '.join(new['failed'])}")
    if not same:
        out.append("no earlier record of this machine fingerprint: nothing to compare with")
        others = [r for r in earlier if r["_path"] != new["_path"]]
        if others:
            o = others[-1]
            diff = [k for k in new["machine"] if k != "fingerprint" and o["machine"].get(k) != new["machine"][k]]
            out.append(f"  (the newest other record, {o['_path'].name}, differs in: {', '.join(diff)})")
    latest: dict[str, tuple[dict, dict]] = {}
    for r in same:  # oldest first: later records overwrite
        for f in r["figures"]:
            latest[f["figure"]] = (f, r)
    rows, regressions = [], 0
    for f in new["figures"]:
        s, what = score(f)
        prev = latest.get(f["figure"])
        before, change, mark, src = "", "", "", ""
        if prev is not None:
            p, r = prev
            ps, _ = score(p)
            src = f"{r['date'][:10]} {str(r['git']['commit'])[:8]}"
            if r.get("args") != new.get("args"):
                src += " (other bench args)"
            if ps is not None and s is not None:
                shown = p["ratio"] if what == "ratio" else p["value"]
                before = f"{shown:.4g}"
                ch = s / ps - 1
                change = f"{ch:+.1%}"
                if ch < -REGRESSION:
                    regressions += 1
                    mark = "<<< REGRESSION"
                elif ch > REGRESSION:
                    mark = "improved"
        now_shown = f["ratio"] if what == "ratio" else f["value"]
        rows.append((f["figure"], what, f"{now_shown:.4g}" if now_shown is not None else "-", before or "-",
                     "new" if prev is None else (change or "-"), mark, src, target_met(f)))
    if rows:
        w = max(len(r[0]) for r in rows)
        out.append(f"{'figure'.ljust(w)}  {'what':5}  {'now':>9}  {'before':>9}  {'change':>8}")
        for name, what, now_s, before_s, change_s, mark, src, tgt in rows:
            line = f"{name.ljust(w)}  {what:5}  {now_s:>9}  {before_s:>9}  {change_s:>8}"
            extra = "  ".join(x for x in (mark, f"[{src}]" if src else "", tgt) if x)
            out.append(f"{line}  {extra}".rstrip())
    out.append("ratio: value beside the same-run reference, reading higher is better (reference/value for times); "
               "value: figures without a reference; change: + is better, for both")
    if regressions:
        out.append(f"!!! {regressions} figure(s) regressed by more than {REGRESSION:.0%} against the last record of this machine")
    return out, regressions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="benchmark run records: write one, compare them")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("figures", type=Path)
    w.add_argument("--benches", default="")
    w.add_argument("--failed", default="")
    w.add_argument("--args", default="", help="extra arguments the benches ran with (shell words)")
    w.add_argument("--dir", type=Path, default=RESULTS)
    c = sub.add_parser("compare")
    c.add_argument("record", type=Path, nargs="?", help="default: the newest record in --dir")
    c.add_argument("--dir", type=Path, default=RESULTS)
    c.add_argument("--strict", action="store_true", help="exit 1 when a figure regressed")
    a = ap.parse_args(argv)
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    if a.cmd == "write":
        print(write(a.figures, a.dir, split(a.benches), split(a.failed), shlex.split(a.args)))
        return 0
    rs = records(a.dir) if a.dir.is_dir() else []
    if a.record is not None:
        new = load(a.record)
        earlier = [r for r in rs if (r["date"], r["_path"].name) < (new["date"], new["_path"].name)]
    else:
        if not rs:
            print(f"no records in {a.dir}: run `npm run bench` first")
            return 1
        new, earlier = rs[-1], rs[:-1]
    lines, regressions = compare(new, earlier)
    loud = sys.stdout.isatty()
    for line in lines:
        if loud and ("REGRESSION" in line or line.startswith("!!!") or "NOT MET" in line or line.startswith("FAILED")):
            line = f"\033[1;31m{line}\033[0m"
        print(line)
    return 1 if (a.strict and regressions) else 0


if __name__ == "__main__":
    sys.exit(main())
