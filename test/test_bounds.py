"""Bounds a client cannot push the server past: every size or count a client names in `prepare` is refused
at prepare, with the field and the limit named, when the memory it implies is more than the server allows;
the first prepare on a detector does not stall the event loop; the server's memory stays level over scans."""
from __future__ import annotations

import os

import pytest

import daqlab
from abuse_kit import HealthProber

FIRST_PREPARE_STALL_MS = 100


def _fields(err: daqlab.ParameterError) -> dict[str, str]:
    return {f["field"]: f["message"] for f in err.fields}


def test_the_first_prepare_on_a_detector_does_not_stall_the_event_loop(make_server):
    """The first prepare per detector stalled /health 300-560 ms: Ajv compiled the prepare schema (160-250
    ms of CPU on the event loop) and each pipeline's schema at their first use. They are compiled when the
    server starts, before it listens. On sim-jungfrau-4m every legacy prepare also stalled it: the first 920
    ms (computing the simulated calibration), the next ones 110-190 ms (copying it into shared memory) and
    130 ms building the assembly map per run; the calibration is now computed in a worker, in shared memory,
    and the map built once at start. Measured as the worst /health latency during the first prepares, less
    the time the scheduler kept the server's thread waiting (abuse_kit.HealthProber)."""
    srv = make_server()
    c = daqlab.connect(srv.url)
    prober = HealthProber("127.0.0.1", srv.port, srv.proc.pid, every=0.01)
    try:
        for name, processing in (("sim-eiger-500k", {"pipeline": "legacy"}), ("sim-camera", {"pipeline": "azint", "npt": 200}),
                                 ("sim-jungfrau-4m", {"pipeline": "legacy"}), ("sim-jungfrau-4m", {"pipeline": "legacy"})):
            acq = c.detector(name).prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, processing=processing)
            acq.abort()
    finally:
        health = prober.stop()
        c.close()
    assert not health["errors"], health["errors"]
    assert health["samples"] > 10, health
    assert health["worst_ms"] < FIRST_PREPARE_STALL_MS, (
        f"/health stalled {health['worst_ms']:.0f} ms during the first prepares ({health['worst_raw_ms']:.0f} ms raw); "
        f"slow samples {health['slow']}")


MACHINE = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _refused(det, **prepare) -> dict[str, str]:
    """The fields of the ParameterError `prepare` raises (a prepare that works is aborted, and fails the test)."""
    try:
        acq = det.prepare(acquisition={"nb_frames": 1, "expo_time": 0.01}, **prepare)
    except daqlab.ParameterError as e:
        return _fields(e)
    acq.abort()
    raise AssertionError(f"prepare({prepare}) was accepted")


def test_xpcs_depth_beyond_memory_is_refused_naming_m_and_levels(client):
    """m = 1024, levels = 40 allocate ~0.5 MB of correlator state per ring pixel (levels as frames arrive) and
    g2 results of rings × 20,992 lags: with max_memory_mb raised by the client the prepare was accepted, and
    the receiver would have grown to ~200 GB. The depth is counted at prepare against the server's limit
    (half the machine memory), which max_memory_mb can only lower; the sizes that set it are named."""
    pixels = 500_000 // 2  # at least half of sim-eiger-500k's pixels lie in the default rings
    need = pixels * (16 * 1024 + 16 + 39 * (12 * 1024 + 8))
    assert need > MACHINE / 2, "this test needs a machine with less than ~250 GB of memory"
    det = client.detector("sim-eiger-500k")
    fields = _refused(det, processing={"pipeline": "xpcs", "m": 1024, "levels": 40, "max_memory_mb": 1e9})
    for name in ("processing.m", "processing.levels", "processing.max_memory_mb"):
        assert name in fields, fields
    message = fields["processing.m"]
    assert "the server's limit" in message and "cannot raise it" in message, message
    assert "GiB" in message, message  # the limit is stated
    # the same depth within max_memory_mb's lower limit names that limit; a sane depth works
    fields = _refused(det, processing={"pipeline": "xpcs", "m": 1024, "levels": 40, "max_memory_mb": 64})
    assert "processing.levels" in fields and "(max_memory_mb)" in fields["processing.levels"], fields
    acq = det.prepare(acquisition={"nb_frames": 4, "expo_time": 0.01}, processing={"pipeline": "xpcs", "m": 8, "levels": 3, "nb_rings": 4})
    acq.start()
    acq.wait(timeout=30, progress=False)
    assert acq.scan.streams["g2"][-1].shape == (4, 8 + 2 * 4)


def test_max_pending_beyond_memory_is_refused(client):
    """processing.max_pending had no maximum: 10⁹ frames of sim-eiger-500k (2 MB each) waiting for a
    receiver were accepted at prepare, a queue of up to 2 PB."""
    det = client.detector("sim-eiger-500k")
    fields = _refused(det, processing={"pipeline": "legacy", "max_pending": 10 ** 9})
    assert list(fields) == ["processing.max_pending"], fields
    assert "the server's limit" in fields["processing.max_pending"] and "at most" in fields["processing.max_pending"]


def test_saving_queue_beyond_memory_is_refused(client, tmp_path):
    """saving.max_queued_frames allowed 10⁶ frames waiting for the writers: 18 TB of sim-eiger-4m frames."""
    need = 10 ** 6 * 2167 * 2070 * 4
    assert need > MACHINE / 2
    det = client.detector("sim-eiger-4m")
    fields = _refused(det, saving={"enabled": True, "base_path": str(tmp_path), "max_queued_frames": 10 ** 6})
    assert list(fields) == ["saving.max_queued_frames"], fields
    assert "the server's limit" in fields["saving.max_queued_frames"]


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


MiB = 1024 ** 2


def test_server_memory_levels_off_near_the_budget_over_scans(make_server):
    """40 short scans (10 frames of sim-eiger-500k each) with --memory-budget 256M. Every prepare rendered a
    new 128 MB frame pool in shared memory that V8 collected late and malloc kept: RSS reached ~1.5 GB by
    scan 10 (2.7-3.5 GB in the 8 min soak). Now the pool of a configuration is kept and replayed, the store
    holds views of its frames, and RSS levels off at about the budget plus a fixed overhead (docs/ARCHITECTURE.md,
    'Memory'): the server at start, one pool per simulated detector in use (here 64 × 2 MB)."""
    budget = 256 * MiB
    srv = make_server("--memory-budget", "256M", "--detector", "sim-eiger-500k")
    start = _rss(srv.proc.pid)
    c = daqlab.connect(srv.url)
    rss = []
    try:
        det = c.detector("sim-eiger-500k")
        for i in range(40):
            acq = det.prepare(acquisition={"nb_frames": 10, "expo_time": 0.001},
                              scan={"name": "bounds", "info": {"note": "x" * 10_000}})
            acq.start()
            acq.wait(timeout=30, progress=False)
            rss.append(_rss(srv.proc.pid))
    finally:
        c.close()
    pool = 64 * 514 * 1030 * 4
    limit = start + budget + pool + 64 * MiB  # 64 MiB: the heap, sockets and buffers of 40 scans' traffic
    growth = max(rss[10:]) - rss[9]
    summary = f"start {start / MiB:.0f} MiB; RSS by scan (MiB): {[round(r / MiB) for r in rss]}"
    print(summary)
    assert growth < 48 * MiB, f"RSS grew {growth / MiB:.0f} MiB after scan 10; {summary}"
    assert max(rss) < limit, f"RSS peaked at {max(rss) / MiB:.0f} MiB, over {limit / MiB:.0f} MiB; {summary}"
    assert srv.alive()
