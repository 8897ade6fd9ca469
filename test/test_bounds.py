"""Bounds a client cannot push the server past: every size or count a client names in `prepare` is refused
at prepare, with the field and the limit named, when the memory it implies is more than the server allows;
the first prepare on a detector does not stall the event loop; the server's memory stays level over scans."""
from __future__ import annotations

import pytest

import daqlab
from abuse_kit import HealthProber

FIRST_PREPARE_STALL_MS = 100


def _fields(err: daqlab.ParameterError) -> dict[str, str]:
    return {f["field"]: f["message"] for f in err.fields}


def test_the_first_prepare_on_a_detector_does_not_stall_the_event_loop(make_server):
    """The first prepare per detector stalled /health 300-560 ms: Ajv compiled the prepare schema (160-250
    ms of CPU on the event loop) and each pipeline's schema at their first use. They are compiled when the
    server starts, before it listens. Measured as the worst /health latency during the first prepares, less
    the time the scheduler kept the server's thread waiting (abuse_kit.HealthProber)."""
    srv = make_server()
    c = daqlab.connect(srv.url)
    prober = HealthProber("127.0.0.1", srv.port, srv.proc.pid, every=0.01)
    try:
        for name, processing in (("sim-eiger-500k", {"pipeline": "legacy"}), ("sim-camera", {"pipeline": "azint", "npt": 200})):
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
