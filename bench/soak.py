"""Soak benchmark (not a test): a day of scans against one server with a memory budget, its RSS and
store bytes sampled over time. Does the server's memory stay flat after warm-up?

A beamline day is ~2,880 short scans (one every 30 s) and a long one; this runs them back to back:
the first half of the short scans, one long scan (100,000 frames by default), the rest of the short
scans. `--minutes` bounds the run (each part gets its share; a part that runs out of time stops
early, and the report says how much was done), so a 2-3 minute run works:

    python bench/soak.py --minutes 3 --scans 300
    python bench/soak.py                       # the full day: --minutes 60 --scans 2880

It samples the server's RSS (/proc/PID/status) and store bytes (/status) every --every seconds and writes
soak-<time>.csv and soak-<time>.png (matplotlib) under --out (bench/results/ by default), then prints
the RSS slope over the second half of the run beside the memory budget.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kernel-bridge"))
import daqlab  # noqa: E402

CLI = ROOT / "daq-server" / "dist" / "src" / "cli.js"
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)B?", text.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M, 1G)")
    return int(float(m.group(1)) * UNITS.get(m.group(2), 1))


class Server:
    """daqlab-server on a free loopback port, with its own state and data folders."""

    def __init__(self, budget: int, detectors: list[str]):
        self.tmp = tempfile.TemporaryDirectory(prefix="daqlab-soak-")
        env = {**os.environ, "DAQLAB_STATE_DIR": os.path.join(self.tmp.name, "state"), "DAQLAB_DATA_ROOTS": self.tmp.name}
        self.proc = subprocess.Popen(
            ["node", str(CLI), "--port", "0", "--slurm", "off", "--memory-budget", str(budget),
             "--detector", ",".join(detectors)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=self.tmp.name,
        )
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        ready = threading.Event()
        self.url = None

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"listening on (ws://\S+)", line)
                if m:
                    self.url = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or self.url is None:
            self.stop()
            raise RuntimeError("daqlab-server did not start:\n" + "".join(self.lines))
        self.http = self.url.replace("ws://", "http://").removesuffix("/ws")

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def status(self) -> dict:
        with urllib.request.urlopen(self.http + "/status", timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()


class Sampler(threading.Thread):
    """Every `every` s: elapsed, phase, scans done, frames, RSS and store bytes."""

    def __init__(self, server: Server, every: float):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.rows: list[dict] = []
        self.phase = "start"
        self.scans = 0
        self.frames = 0
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                store = self.server.status()["store"]
                self.rows.append({
                    "t_s": round(time.monotonic() - self.t0, 2), "phase": self.phase, "scans": self.scans,
                    "frames": self.frames, "rss_mb": round(self.server.rss() / 2**20, 1),
                    "store_mb": round(store["bytes"] / 2**20, 1), "budget_mb": round(store["memory_budget"] / 2**20, 1),
                })
            except OSError as e:  # the server is gone: the run will say so
                print(f"sampling failed: {e}", file=sys.stderr)
            self.stop_event.wait(self.every)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def short_scans(client, args, sampler: Sampler, count: int, deadline: float) -> int:
    det = client.detector(args.detector)
    info = {"note": "x" * args.info_bytes} if args.info_bytes else {}
    processing = {"pipeline": args.pipeline} if args.pipeline else None
    done = 0
    while done < count and time.monotonic() < deadline:
        acq = det.prepare(
            acquisition={"nb_frames": args.frames, "expo_time": args.expo_time}, processing=processing,
            scan={"name": "soak", "info": info},
        )
        acq.start()
        acq.wait(timeout=120, progress=False)
        done += 1
        sampler.scans += 1
        sampler.frames += args.frames
    return done


def long_scan(client, args, sampler: Sampler, deadline: float) -> int:
    """The long scan at the detector's pace, stopped at `deadline` if it has not ended by then."""
    acq = client.detector(args.detector).prepare(
        acquisition={"nb_frames": args.long_frames, "expo_time": args.long_expo_time}, scan={"name": "soak-long"},
    )
    acq.start()
    before = sampler.frames
    while True:
        status = acq.status()
        sampler.frames = before + status["counters"]["nb_frames_acquired"]
        if status["state"] != "RUNNING":
            break
        if time.monotonic() >= deadline:
            acq.stop()
            break
        time.sleep(0.5)
    acq.wait(timeout=120, progress=False)
    frames = acq.counters["nb_frames_acquired"]
    sampler.scans += 1
    sampler.frames = before + frames
    return frames


def plot(rows: list[dict], budget_mb: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t_s"] / 60 for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, [r["rss_mb"] for r in rows], label="server RSS")
    ax.plot(t, [r["store_mb"] for r in rows], label="store bytes")
    ax.axhline(budget_mb, color="gray", linestyle="--", label=f"memory budget ({budget_mb:.0f} MB)")
    ax.axvline(t[-1] / 2, color="lightgray", linestyle=":", label="warm-up | second half")
    ax.set_xlabel("minutes")
    ax.set_ylabel("MB")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax2 = ax.twinx()
    ax2.plot(t, [r["scans"] for r in rows], color="tab:green", alpha=0.4, label="scans done")
    ax2.set_ylabel("scans done", color="tab:green")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60, help="bound on the whole run (default 60)")
    p.add_argument("--scans", type=int, default=2880, help="short scans, half before and half after the long one (default 2880: a day at one per 30 s)")
    p.add_argument("--frames", type=int, default=10, help="frames per short scan (default 10)")
    p.add_argument("--expo-time", type=float, default=0.001, help="short scans' exposure time, s")
    p.add_argument("--long-frames", type=int, default=100_000, help="frames of the long scan (default 100000)")
    p.add_argument("--long-expo-time", type=float, default=0.0002, help="the long scan's exposure time, s")
    p.add_argument("--detector", default="sim-eiger-500k", help="detector of every scan (default sim-eiger-500k, 2 MB frames)")
    p.add_argument("--pipeline", default=None, help="processing pipeline of the short scans (default: none; e.g. legacy)")
    p.add_argument("--info-bytes", type=int, default=10_000, help="bytes of scan.info per short scan (metadata counts too)")
    p.add_argument("--memory-budget", type=parse_size, default=parse_size("256M"), help="the server's --memory-budget (default 256M)")
    p.add_argument("--every", type=float, default=1.0, help="sampling period, s")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for the CSV and the plot")
    args = p.parse_args(argv)

    server = Server(args.memory_budget, [args.detector])
    sampler = Sampler(server, args.every)
    client = daqlab.connect(server.url)
    t0 = time.monotonic()
    total = args.minutes * 60
    first = args.scans // 2
    counts = {}
    try:
        sampler.start()
        sampler.phase = "short scans"
        counts["short, before"] = short_scans(client, args, sampler, first, t0 + 0.4 * total)
        sampler.phase = "long scan"
        counts["long scan frames"] = long_scan(client, args, sampler, t0 + 0.6 * total)
        sampler.phase = "short scans, after"
        counts["short, after"] = short_scans(client, args, sampler, args.scans - first, t0 + total)
        sampler.phase = "idle"
        time.sleep(min(10.0, 3 * args.every))  # the last samples after everything settled
    finally:
        sampler.stop_event.set()
        sampler.join(10)
        alive = server.proc.poll() is None
        client.close()
        log_tail = "".join(list(server.lines)[-20:])
        server.stop()

    rows = sampler.rows
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    csv_path = args.out / f"soak-{stamp}.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    budget_mb = args.memory_budget / 2**20
    elapsed = rows[-1]["t_s"]
    second = [r for r in rows if r["t_s"] >= elapsed / 2]
    rss_slope = slope([(r["t_s"] / 60, r["rss_mb"]) for r in second])  # MB per minute
    growth = rss_slope * (second[-1]["t_s"] - second[0]["t_s"]) / 60
    last = [r for r in rows if r["t_s"] >= 0.75 * elapsed]
    last_slope = slope([(r["t_s"] / 60, r["rss_mb"]) for r in last])
    peak_rss = max(r["rss_mb"] for r in rows)
    peak_store = max(r["store_mb"] for r in rows)
    flat = abs(growth) <= 0.1 * budget_mb
    png_path = args.out / f"soak-{stamp}.png"
    plot(rows, budget_mb, png_path,
         f"soak: {sampler.scans} scans, {sampler.frames:,} frames of {args.detector}, budget {budget_mb:.0f} MB")

    print(f"soak: {elapsed / 60:.1f} min, {sampler.scans} scans ({counts.get('short, before', 0)} short, 1 long of "
          f"{counts.get('long scan frames', 0):,} frames, {counts.get('short, after', 0)} short), {sampler.frames:,} frames of "
          f"{args.detector}, {len(rows)} samples; server {'alive' if alive else 'DIED'}")
    print(f"  asked: {args.scans} short scans of {args.frames} frames and a long one of {args.long_frames:,} frames"
          f"{'' if sampler.scans >= args.scans + 1 else ' (time ran out first)'}")
    print(f"  memory budget {budget_mb:.0f} MB; store bytes peak {peak_store:.0f} MB"
          f" ({'within' if peak_store <= budget_mb else 'OVER'} the budget), end {rows[-1]['store_mb']:.0f} MB")
    print(f"  RSS: start {rows[0]['rss_mb']:.0f} MB, peak {peak_rss:.0f} MB, end {rows[-1]['rss_mb']:.0f} MB")
    print(f"  RSS after warm-up (second half, {len(second)} samples): slope {rss_slope:+.1f} MB/min, "
          f"{growth:+.0f} MB over the half -> {'FLAT' if flat else 'GROWING' if growth > 0 else 'SHRINKING'}"
          f" (flat: within 10% of the budget, {0.1 * budget_mb:.0f} MB); last quarter {last_slope:+.1f} MB/min")
    print(f"  {csv_path}\n  {png_path}")
    if not alive:
        print("server log (last lines):\n" + log_tail)
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
