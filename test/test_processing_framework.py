"""Receivers, topologies, ordered merging, accumulated results and plugin steps, on a real server."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import daqlab
import simref

PLUGIN = Path(__file__).resolve().parent / "plugins" / "frame_stats.mjs"
CONFIG = {"scene": "flat", "seed": 21, "pool_size": 7}


@pytest.fixture(scope="module")
def plugin_server():
    from conftest import ServerProcess

    s = ServerProcess("--plugin", str(PLUGIN))
    yield s
    s.stop()


def run_chain(c, nb_receivers=1, topology=None, frames=40, **extra):
    processing = {"pipeline": "chain", "steps": ["frame_stats"], "nb_receivers": nb_receivers, "gain": 2.0, "publish_every": 10, **extra}
    if topology:
        processing["topology"] = topology
    acq = c.detector("sim-eiger-500k").prepare(acquisition={"nb_frames": frames, "expo_time": 0.001}, detector=CONFIG, processing=processing)
    acq.start()
    acq.wait(timeout=60, progress=False)
    return acq


def test_a_plugin_step_runs_like_a_built_in_one(plugin_server):
    with daqlab.connect(plugin_server.url) as c:
        det = c.detector("sim-eiger-500k")
        names = {s["name"] for s in det.pipelines()["steps"]} if isinstance(det.pipelines(), dict) else set()
        assert "frame_stats" in names
        acq = run_chain(c)
        scan = acq.scan
        assert acq.counters["nb_frames_processed"] == 40
        frames = scan.streams["frame"]
        assert frames.dtype == np.float32
        ref5 = simref.frame("sim-eiger-500k", CONFIG, 5).astype(np.float64)
        np.testing.assert_allclose(frames[5], (ref5 * 2).astype(np.float32))
        stats = scan.streams["frame_stats"][0:40]
        assert [e["frame_idx"] for e in stats] == list(range(40))
        assert stats[5]["sum"] == pytest.approx(ref5.sum())
        acc = scan.streams["acc_sum"]
        assert len(acc) >= 2  # snapshots every 10 frames, and the final one
        expected = sum(simref.frame("sim-eiger-500k", CONFIG, i).astype(np.float64) for i in range(40))
        np.testing.assert_array_equal(acc[-1], expected)
        assert scan.streams["gain"][0][0] == 2.0


@pytest.mark.parametrize("nb, topology", [(2, "round_robin"), (3, "round_robin"), (2, "dynamic")])
def test_results_are_identical_whatever_the_receivers_and_topology(plugin_server, nb, topology):
    with daqlab.connect(plugin_server.url) as c:
        single = run_chain(c, 1).scan
        multi = run_chain(c, nb, topology).scan
        a = single.streams["frame_stats"][0:40]
        b = multi.streams["frame_stats"][0:40]
        assert [(e["frame_idx"], e["sum"], e["max"]) for e in a] == [(e["frame_idx"], e["sum"], e["max"]) for e in b]
        assert {e["receiver"] for e in b} == set(range(nb))
        np.testing.assert_array_equal(single.streams["frame"][0:40], multi.streams["frame"][0:40])
        np.testing.assert_array_equal(single.streams["acc_sum"][-1], multi.streams["acc_sum"][-1])
        acq_counters = multi.info["counters"]
        assert sum(acq_counters["nb_frames_transferred"]) == 40 and len(acq_counters["nb_frames_transferred"]) == nb
        if topology == "dynamic":
            table = multi.streams["dispatch"][0:40]
            assert [e["frame_idx"] for e in table] == list(range(40))
            assert [e["receiver"] for e in table] == [e["receiver"] for e in b]


def test_a_failing_receiver_puts_fault_and_keeps_what_was_processed(plugin_server):
    with daqlab.connect(plugin_server.url) as c:
        det = c.detector("sim-eiger-500k")
        acq = det.prepare(
            acquisition={"nb_frames": 200, "expo_time": 0.002},
            detector=CONFIG,
            processing={"pipeline": "chain", "steps": ["frame_stats"], "fail_at": 30},
        )
        acq.start()
        with pytest.raises(daqlab.FaultError, match="asked to fail at frame 30"):
            acq.wait(timeout=30, progress=False)
        assert acq.state == "FAULT"
        stats = acq.scan.streams["frame_stats"]
        assert len(stats) == 30 and stats.sealed
        assert [e["frame_idx"] for e in stats[0:30]] == list(range(30))
        det.reset()


def test_bad_processing_parameters_are_rejected_at_prepare_with_the_field(plugin_server):
    with daqlab.connect(plugin_server.url) as c:
        det = c.detector("sim-eiger-500k")
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1}, processing={"pipeline": "warp-drive"})
        assert [f["field"] for f in e.value.fields] == ["processing.pipeline"]
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1}, processing={"pipeline": "chain", "steps": ["frame_stats"], "gain": -1, "colour": 1})
        fields = {f["field"] for f in e.value.fields}
        assert {"processing.gain", "processing.colour"} <= fields
        with pytest.raises(daqlab.ParameterError) as e:
            det.prepare(acquisition={"nb_frames": 1}, processing={"pipeline": "chain", "steps": ["frame_stats", "no_such_step"]})
        assert "processing.steps[1]" in {f["field"] for f in e.value.fields}
        # a step's own check runs at prepare too: frame_stats needs 2D images, and the Jungfrau
        # correction at the head of the chain hands on 3D modules when asked not to assemble them
        with pytest.raises(daqlab.ParameterError) as e:
            c.detector("sim-jungfrau-4m").prepare(
                acquisition={"nb_frames": 1, "expo_time": 0.01}, processing={"pipeline": "chain", "steps": ["frame_stats"], "assemble": False}
            )
        assert [f["field"] for f in e.value.fields] == ["processing.gain"]
        assert "needs 2D images" in e.value.fields[0]["message"]


def test_pipelines_and_their_schemas_are_browsable(plugin_server):
    with daqlab.connect(plugin_server.url) as c:
        det = c.detector("sim-eiger-500k")
        listing = det.pipelines()
        names = [p["name"] for p in listing["pipelines"]]
        assert {"none", "legacy", "smx", "azint", "xpcs", "chain"} <= set(names)
        schema = det.pipeline_schema("chain")
        assert schema["properties"]["gain"]["default"] == 1
        assert schema["properties"]["nb_receivers"]["default"] == 1
