"""Stream2 ingest from a separate sender process: `daqlab-detector-sim` (EIGER2 4M, bslz4, a pool of pre-encoded
frames, the shortest frame_time it allows) pushes the same series of images to

  1. a bare ZeroMQ PULL (pyzmq, in this process): the reference, what loopback ZeroMQ delivers at all;
  2. daqlab-server's `dectris` plugin (`--dectris`), no processing, 1 and 2 receivers: frames/s from the
     server's own counters and clock (nb_frames_acquired / the acquisition's elapsed time, start → last frame,
     arm and trigger included; the bare PULL is timed from arm to the end message the same way);
  3. smx on the same frames through the plugin, beside smx on the built-in sim-eiger-4m (same scene, seed and
     pool), 2 receivers: frames processed / seconds from start to the finished state.

Compressed GB/s are the frames/s times the mean image message size the bare PULL received (the same pool, so
the same messages); decompressed GB/s the frames/s times the frame's bytes. Target (issue 16): with 2 receivers,
≥ 90 % of the bare PULL rate, nothing dropped (neither by the server nor by the detector's stream buffer).

    .venv/bin/python bench/stream2.py [--frames 300] [--smx-frames 60]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "kernel-bridge"))
sys.path.insert(0, str(ROOT / "test"))  # detsim.DetectorSim, conftest.ServerProcess: how the tests start both
import daqlab  # noqa: E402
from conftest import ServerProcess  # noqa: E402
from detsim import API, DetectorSim  # noqa: E402
from record import Recorder  # noqa: E402  (bench/record.py: this script's folder is on sys.path)

SCENE = {"scene": "serial_crystallography", "seed": 1, "hit_rate": 0.3, "spots_per_hit": 40, "spot_intensity": 600, "pool_size": 8}
SMX = {"pipeline": "smx", "npt": 500, "keep_frames": False}
TARGET_RATIO = 0.9


def sim_args() -> list[str]:
    import json

    rest = {k: v for k, v in SCENE.items() if k not in ("scene", "seed")}
    return ["--model", "eiger2-4m", "--scene", SCENE["scene"], "--seed", str(SCENE["seed"]), "--config", json.dumps(rest)]


def bare_pull(sim: DetectorSim, frames: int, frame_time: float) -> dict:
    """Arm and trigger the simulated detector by SIMPLON as the plugin does, drain its stream with a bare PULL."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.connect(sim.stream)
    try:
        if sim.state() == "na":
            sim.command("initialize")
        for sub, name, value in (("detector", "count_time", frame_time), ("detector", "frame_time", frame_time),
                                 ("detector", "nimages", frames), ("detector", "ntrigger", 1),
                                 ("detector", "trigger_mode", "ints"), ("detector", "compression", "bslz4"),
                                 ("stream", "mode", "enabled"), ("stream", "header_detail", "all"), ("stream", "format", "cbor")):
            sim.put(sub, name, value)
        dropped0 = sim.value("stream", "status", "dropped")
        time.sleep(0.3)  # the PULL is connected before the first message
        t0 = time.perf_counter()
        sim.command("arm")
        trig = threading.Thread(target=lambda: sim.request("PUT", f"detector/{API}/command/trigger", timeout=300), daemon=True)
        trig.start()
        sizes: list[int] = []
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        # start, the images, end: every message is a single frame (Stream2)
        while len(sizes) < frames + 2:
            if not poller.poll(10_000):
                break
            sizes.append(len(sock.recv(copy=False)))
        t1 = time.perf_counter()
        trig.join(30)
        sim.command("disarm")
        images = sizes[1:-1]
        return {"frames": len(images), "seconds": t1 - t0, "msg_bytes": sum(images) / max(1, len(images)),
                "detector_dropped": sim.value("stream", "status", "dropped") - dropped0}
    finally:
        sock.close(linger=0)


def acquire(client, detector: str, frames: int, expo: float, processing: dict, config: dict | None = None) -> dict:
    acq = client.detector(detector).prepare(acquisition={"nb_frames": frames, "expo_time": expo},
                                            detector=config or {}, processing={**processing, "max_pending": frames})
    t0 = time.perf_counter()
    acq.start()
    acq.wait(timeout=600, progress=False)
    wall = time.perf_counter() - t0
    s = acq.status()
    c = s["counters"]
    series = acq.scan.info.get("detector_series") or {}
    return {"acquired": c["nb_frames_acquired"], "processed": c.get("nb_frames_processed", 0), "dropped": c["nb_frames_dropped"],
            "invalid": c["nb_frames_invalid"], "elapsed": s["elapsed"], "wall": wall,
            "detector_dropped": series.get("detector_stream_dropped") or 0,
            "missing": (series.get("counters") or {}).get("missing_image_ids", 0), "reason": s.get("reason"),
            "problems": series.get("problems") or []}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300, help="images per ingest run (default 300)")
    ap.add_argument("--smx-frames", type=int, default=60, help="images per smx run (default 60)")
    a = ap.parse_args()

    sim = DetectorSim(*sim_args())
    server = None
    try:
        info = lambda p: sim.value("detector", "config", p)  # noqa: E731
        frame_time = sim.get("detector", "config", "frame_time")["min"]
        frame_bytes = info("x_pixels_in_detector") * info("y_pixels_in_detector") * info("bit_depth_image") // 8
        bare_pull(sim, 20, frame_time)  # warm-up: the sim encodes its pool on first use
        ref = bare_pull(sim, a.frames, frame_time)
        ref_fps = ref["frames"] / ref["seconds"]
        msg = ref["msg_bytes"]

        server = ServerProcess("--dectris", f"s2={sim.http},stream={sim.stream}", "--detector", "sim-eiger-4m", "--memory-budget", "8G")
        client = daqlab.connect(server.url)
        acquire(client, "s2", 20, frame_time, {})  # warm-up: receivers' workers, the wasm codec
        rows = [{"run": "bare ZeroMQ PULL (pyzmq)", "id": "bare_pull", "frames": ref["frames"], "fps": ref_fps,
                 "dropped": 0, "detector_dropped": ref["detector_dropped"]}]
        for n in (1, 2):
            r = acquire(client, "s2", a.frames, frame_time, {"nb_receivers": n})
            rows.append({"run": f"daqlab --dectris, {n} receiver{'s' if n > 1 else ''}", "id": f"server_{n}receiver{'s' if n > 1 else ''}",
                         "frames": r["acquired"], "fps": r["acquired"] / r["elapsed"], "dropped": r["dropped"] + r["invalid"] + r["missing"],
                         "detector_dropped": r["detector_dropped"]})
        # the same server's ingest from its built-in simulator: what the store takes without ZeroMQ or decompression
        r = acquire(client, "sim-eiger-4m", a.frames, frame_time, {"nb_receivers": 2}, config=SCENE)
        builtin = {"run": "built-in sim-eiger-4m, 2 receivers", "id": "builtin_2receivers", "frames": r["acquired"],
                   "fps": r["acquired"] / r["elapsed"], "dropped": r["dropped"] + r["invalid"], "detector_dropped": 0}
        smx_s2 = acquire(client, "s2", a.smx_frames, frame_time, {**SMX, "nb_receivers": 2})
        smx_sim = acquire(client, "sim-eiger-4m", a.smx_frames, frame_time, {**SMX, "nb_receivers": 2}, config=SCENE)
        client.close()
    finally:
        if server:
            server.stop()
        sim.stop()

    print(f"\nStream2 ingest, EIGER2 4M bslz4 ({frame_bytes / 1e6:.1f} MB frames, {msg / 1e6:.2f} MB messages, "
          f"sender frame_time {frame_time * 1e3:.3f} ms = {1 / frame_time:.0f} frames/s at most)")
    print(f"{'run':44} {'frames':>6} {'frames/s':>9} {'GB/s compr.':>11} {'GB/s decompr.':>13} {'vs PULL':>7} {'dropped':>7} {'det. dropped':>12}")
    for r in rows:
        print(f"{r['run']:44} {r['frames']:6d} {r['fps']:9.1f} {r['fps'] * msg / 1e9:11.3f} {r['fps'] * frame_bytes / 1e9:13.2f} "
              f"{r['fps'] / ref_fps:7.2f} {r['dropped']:7d} {r['detector_dropped']:12d}")
    r = builtin
    print(f"{r['run'] + ' (no ZeroMQ)':44} {r['frames']:6d} {r['fps']:9.1f} {'':>11} {r['fps'] * frame_bytes / 1e9:13.2f} {'':>7} {r['dropped']:7d}")
    two = rows[2]
    ok = two["fps"] >= TARGET_RATIO * ref_fps and two["dropped"] == 0 and two["detector_dropped"] == 0 and two["frames"] == a.frames
    print(f"2 receivers: {two['fps'] / ref_fps:.0%} of the bare PULL rate, dropped {two['dropped']} (ours) {two['detector_dropped']} (detector)"
          f" → {'PASS' if ok else 'FAIL'} (target ≥ 90 %, nothing dropped)")
    smx_rows = [("smx on Stream2 (dectris plugin)", smx_s2), ("smx on sim-eiger-4m (built-in)", smx_sim)]
    print(f"\nsmx, EIGER 4M, 2 receivers, {a.smx_frames} frames")
    print(f"{'run':44} {'acquired':>8} {'processed':>9} {'frames/s':>9} {'dropped':>7} {'missing':>7}  end")
    for label, r in smx_rows:
        print(f"{label:44} {r['acquired']:8d} {r['processed']:9d} {r['processed'] / r['wall']:9.1f} {r['dropped']:7d} {r['missing']:7d}  {r['reason']} {' '.join(r['problems'])}")

    rec = Recorder("stream2")
    pull = ("bare ZeroMQ PULL of the same messages", ref_fps)
    rec.figure("bare_pull.fps", ref_fps, "frames/s", True, label="bare ZeroMQ PULL: frames/s")
    for r in rows[1:]:
        rec.figure(f"{r['id']}.fps", r["fps"], "frames/s", True, label=f"{r['run']}: frames/s", reference=pull,
                   target_ratio=TARGET_RATIO if r["id"] == "server_2receivers" else None)
        rec.figure(f"{r['id']}.compressed_gbps", r["fps"] * msg / 1e9, "GB/s", True, label=f"{r['run']}: GB/s compressed",
                   reference=("bare ZeroMQ PULL", ref_fps * msg / 1e9))
        rec.figure(f"{r['id']}.decompressed_gbps", r["fps"] * frame_bytes / 1e9, "GB/s", True, label=f"{r['run']}: GB/s decompressed")
    rec.figure("builtin_2receivers.fps", builtin["fps"], "frames/s", True, label="built-in sim-eiger-4m into the same server, 2 receivers: frames/s",
               reference=pull)
    rec.figure("smx.fps", smx_s2["processed"] / smx_s2["wall"], "frames/s", True, label="smx on Stream2 EIGER 4M frames: frames/s",
               reference=("smx on the built-in sim-eiger-4m", smx_sim["processed"] / smx_sim["wall"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
