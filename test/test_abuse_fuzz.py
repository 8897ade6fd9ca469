"""The standing abuse suite: whatever a client sends, over the WebSocket or HTTP, it gets a well-formed
reply with a typed error, while a victim client reading a lossless stream loses nothing and /health
answers within 100 ms at every moment.

One server (with a token) for the module; a victim follows an acquisition of a few thousand 16×16 frames
on sim-tomo-camera from before the first case to after the last; the abuse targets sim-camera and a
small scan of its own. Phases: (a) wire-input cases, (b) a seeded random-JSON fuzzer over every op of
daq-server/src/protocol (OPS), (c) schemathesis against /openapi.json. Bounded: fixed seed, fixed
numbers of cases, loopback only; the last test checks the victim and /health and prints a summary."""
from __future__ import annotations

import collections
import json
import time

import numpy as np
import pytest

import daqlab
from daqlab._protocol import MAX_REQUEST_BYTES
from abuse_kit import OPS, HealthProber, Mutator, Victim, Wire, check_reply, nested_text
from conftest import ServerProcess

TOKEN = "abuse-suite-token"
SEED = 20261207
FUZZ_DETECTOR = "sim-camera"
VICTIM_DETECTOR = "sim-tomo-camera"
CASES_PER_OP = 64
CASES = {"acq.prepare": 32}  # each accepted prepare starts receivers: fewer cases, same coverage of fields
HEALTH_LIMIT_MS = 100
SUMMARY: dict = {"cases": collections.Counter(), "outcomes": collections.defaultdict(collections.Counter)}


class Arena:
    def __init__(self):
        self.server = ServerProcess(
            "--token", TOKEN, "--slurm", "off", "--memory-budget", "1G", "--detector", f"{FUZZ_DETECTOR},{VICTIM_DETECTOR}",
            "--role", "control",
        )
        self.owner = daqlab.connect(self.server.url, token=TOKEN)
        # the small scan and the prepared acquisition the fuzzer's requests point at
        acq = self.owner.detector(FUZZ_DETECTOR).prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, scan={"name": "fuzz"})
        acq.start()
        acq.wait(timeout=30, progress=False)
        self.fuzz_scan = acq.scan.key
        self.fuzz_uuid = self.owner.detector(FUZZ_DETECTOR).prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}).uuid
        # the victim: an acquisition at 100 frames/s until stopped, followed losslessly by a client of its own
        self.victim_acq = self.owner.detector(VICTIM_DETECTOR).prepare(
            acquisition={"nb_frames": 0, "expo_time": 0.01}, detector={"frame_shape": [16, 16], "scene": "flat"}, scan={"name": "victim"}
        )
        self.victim_client = daqlab.connect(self.server.url, token=TOKEN)
        self.prober = HealthProber("127.0.0.1", self.server.port, self.server.proc.pid)
        self.victim_acq.start()
        self.victim = Victim(self.victim_client.scans.get(self.victim_acq.scan.key).streams["frame"])
        self.victim.start()
        self.started = time.monotonic()

    def wire(self) -> Wire:
        return Wire(self.server.url, token=TOKEN)

    def close(self):
        self.prober.stop()
        for c in (self.owner, self.victim_client):
            try:
                c.close()
            except Exception:
                pass
        self.server.stop()


@pytest.fixture(scope="module")
def arena():
    a = Arena()
    yield a
    a.close()


def _phase(name: str) -> None:
    SUMMARY.setdefault("phases", []).append((time.time(), name))


def _phase_at(t: float) -> str:
    return max(((s, n) for s, n in SUMMARY.get("phases", []) if s <= t), default=(0, "setup"))[1]


def _count(op: str, outcome: str) -> None:
    SUMMARY["cases"][op] += 1
    SUMMARY["outcomes"][op][outcome] += 1


# ------------------------------------------------------------------------------------------ (a) wire
def _bad(w: Wire, message, want: set[str], what: str, ids=(None,), field: str | None = None) -> dict:
    r = w.ask(message, expect_ids=list(ids))
    t = check_reply(r, what, allow_ok=False)
    assert t in want, f"{what}: {t} ({r['error']['message'][:200]}), expected {want}"
    if field is not None and t == "ParameterError":
        named = [f["field"] for f in r["error"]["fields"]]
        assert any(n == field or n.startswith(field + ".") for n in named), f"{what}: fields {named} do not name {field}"
    _count("(wire)", t)
    return r


def test_wire_input(arena):
    _phase("wire input")
    w = arena.wire()
    P = {"ProtocolError"}
    # not JSON, not an object, no usable id
    for text in ["{not json", "", " ", "\x00", "{\"id\": 1, \"op\": \"hello\"", "[1, 2, 3]", "\"hello\"", "42", "null", "true",
                 '{"id": 1, "op": "hello", "x": NaN}', '{"id": Infinity, "op": "hello"}', '{"id": -Infinity}',
                 '{"id": 1, "op": "hello"} trailing', "\ufeff{\"id\": 1, \"op\": \"hello\"}", "{'id': 1}"]:
        _bad(w, text, P, f"text {text[:30]!r}")
    for bad_id in [None, True, [], {}, "", "x" * 129, [1]]:
        _bad(w, {"id": bad_id, "op": "hello"}, P, f"id {str(bad_id)[:20]}")
    _bad(w, {"op": "hello"}, P, "missing id")
    # unknown or odd ops carry the id back
    for op in ["launch.missiles", "", "HELLO", " hello", "hello\x00", None, 42, ["hello"], {"op": "hello"}, "__proto__", "constructor",
               "toString", "hasOwnProperty"]:
        _bad(w, {"id": 7, "op": op}, P, f"op {op!r}", ids=(7,))
    # ids of every legal kind come back as sent
    for good_id in [0, -1, 0.5, 2**53 + 10, "x" * 128, "\u202e😀", "1"]:
        r = w.ask({"id": good_id, "op": "hello"}, expect_ids=[good_id, float(good_id) if isinstance(good_id, int) else good_id])
        assert check_reply(r, f"id {good_id!r}") == "ok"
    # binary frames of any size are refused, the connection stays
    for payload in [b"", b"\x00", bytes(range(256)) * 40, b'{"id": 1, "op": "hello"}']:
        w.frame(0x2, payload)
        r = w.reply([None], 5)
        assert check_reply(r, "binary frame", allow_ok=False) == "ProtocolError" and "binary" in r["error"]["message"]
        _count("(wire)", "ProtocolError")
    # fragmented text messages are one message
    w.frame(0x1, b'{"id": 8, "op": ', fin=False)
    w.frame(0x0, b'"hello"}')
    assert check_reply(w.reply([8], 5), "fragmented hello") == "ok"
    # huge numbers, NaN-ish values and unicode garbage in fields are named
    _bad(w, '{"id": 9, "op": "detector.info", "detector": 1e999}', {"ParameterError"}, "1e999", ids=(9,), field="detector")
    _bad(w, '{"id": 10, "op": "scans.search", "number": 1e400}', {"ParameterError"}, "1e400", ids=(10,), field="number")
    _bad(w, '{"id": 11, "op": "stream.read", "scan": "%s", "stream": "frame", "start": -1e400}' % arena.fuzz_scan,
         {"ParameterError"}, "-1e400", ids=(11,), field="start")
    _bad(w, {"id": 12, "op": "stream.read", "scan": arena.fuzz_scan, "stream": "frame", "start": 2**64}, {"ParameterError"},
         "2**64", ids=(12,), field="start")
    _bad(w, '{"id": 13, "op": "detector.info", "detector": "\\ud800\\udfff\\ud800"}', {"NotFoundError"}, "lone surrogates", ids=(13,))
    _bad(w, {"id": 14, "op": "detector.info", "detector": "\u202e\x00\ufffd😀" * 1000}, {"NotFoundError"}, "unicode garbage", ids=(14,))
    # deeply nested JSON: accepted where it is ignored, named where it is wrong; a bounded reply either way
    for depth in (1_000, 100_000):
        for kind in ("list", "dict"):
            deep = nested_text(depth, kind)
            r = w.ask('{"id": 20, "op": "hello", "extra": %s}' % deep, expect_ids=[20, None])  # a depth check before parsing knows no id
            assert check_reply(r, f"hello with {kind} nested {depth}") in ("ok", "ParameterError", "ProtocolError")
            r = _bad(w, '{"id": 21, "op": "detector.info", "detector": %s}' % deep, {"ParameterError", "ProtocolError"},
                     f"detector nested {depth} ({kind})", ids=(21, None), field="detector")
            assert len(json.dumps(r)) < 16_384, f"a {len(json.dumps(r))}-byte reply to a nested field"
    # nesting up to the message limit (1 MiB), eight messages sent at once: handling them must not stall
    # the server (/health is watching; parsing each costs ~100 ms of CPU when nothing bounds the depth)
    _phase("nested JSON up to 1 MiB")
    ids = list(range(23, 31))
    for k, i in enumerate(ids):
        kind = "dict" if k % 4 == 3 else "list"
        depth = (MAX_REQUEST_BYTES - 64) // (2 if kind == "list" else 6)
        w.send_text('{"id": %d, "op": "hello", "x": %s}' % (i, nested_text(depth, kind)))
    for _ in ids:
        r = w.reply(ids + [None], timeout=10)
        assert check_reply(r, "hello nested up to 1 MiB") in ("ok", "ParameterError", "ProtocolError")
    _phase("big fields")
    # a 1 MiB string in a field is named, not echoed back whole
    r = _bad(w, {"id": 22, "op": "detector.info", "detector": ["y" * 900_000]}, {"ParameterError"}, "900 kB field", ids=(22,),
             field="detector")
    assert len(r["error"]["message"]) < 16_384
    # wrong types for every field of every op
    _phase("wrong types")
    bases = _bases(arena)
    for op in OPS:
        for field, value in bases[op].items():
            for wrong in _wrong_types(value):
                req = {**bases[op], field: wrong, "id": 30, "op": op}
                r = w.ask(req, expect_ids=[30], timeout=10)
                t = check_reply(r, f"{op} {field}={str(wrong)[:20]}")
                _count(op, t)
                if t == "ParameterError" and wrong is not None:  # null stands for "the default" in optional fields
                    named = [f["field"] for f in r["error"]["fields"]]
                    assert any(n == field or n.startswith(field + ".") or field.startswith(n) for n in named), (
                        f"{op} {field}={wrong!r}: the error names {named}, not {field}"
                    )
                if t == "ok" and op == "subscribe":
                    check_reply(w.ask({"id": 31, "op": "unsubscribe", "sub": r["result"]["sub"]}), "unsubscribe")
    w.close()
    # an oversized message closes only that connection
    _phase("oversized and bad UTF-8")
    big = arena.wire()
    big.send_text(json.dumps({"id": 1, "op": "hello", "pad": "x" * (2 * 1024 * 1024)}))
    with pytest.raises(ConnectionError, match="1009"):
        big.reply([1], 10)
    big.close()
    # a text frame that is not UTF-8 closes only that connection
    bad_utf8 = arena.wire()
    bad_utf8.frame(0x1, b'{"id": 1, "op": "\xff\xfe"}')
    with pytest.raises(ConnectionError, match="1007"):
        bad_utf8.reply([1], 10)
    bad_utf8.close()
    w2 = arena.wire()
    assert check_reply(w2.ask({"id": 1, "op": "hello"}), "hello after abuse") == "ok"
    w2.close()


def _wrong_types(value) -> list:
    """One value of every JSON type but `value`'s own (a bool is not a number, an int is)."""
    kinds = {
        "null": None, "bool": True, "number": 3.5, "string": "x", "array": [], "object": {},
    }
    own = ("null" if value is None else "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float))
           else "string" if isinstance(value, str) else "array" if isinstance(value, list) else "object")
    return [v for k, v in kinds.items() if k != own]


# ------------------------------------------------------------------------------------------ (b) fuzzer
def _bases(arena) -> dict[str, dict]:
    """A valid request of every op (without id/op), on the fuzzer's own detector, scan and acquisition."""
    d, scan, uuid = FUZZ_DETECTOR, arena.fuzz_scan, arena.fuzz_uuid
    read = {"scan": scan, "stream": "frame", "start": 0, "stop": 2, "roi": [0, 0, 16, 16], "binning": 2, "compression": "none"}
    return {
        "hello": {},
        "detectors.list": {},
        "detector.info": {"detector": d},
        "detector.state": {"detector": d},
        "detector.status": {"detector": d},
        "detector.calibration": {"detector": d, "config": {}},
        "acq.prepare": {"detector": d, "params": {"acquisition": {"nb_frames": 2, "expo_time": 0.01, "latency_time": 0},
                                                   "detector": {"scene": "flat"}, "scan": {"name": "fuzz", "info": {"k": [1, "v"]}}}},
        "acq.start": {"uuid": uuid},
        "acq.trigger": {"uuid": uuid},
        "acq.stop": {"uuid": uuid},
        "acq.abort": {"uuid": uuid},
        "acq.reset": {"detector": d},
        "acq.status": {"uuid": uuid},
        "scans.last": {},
        "scans.search": {"name": "fuzz", "number": 1, "session": "s", "proposal": "p", "sample": "x", "dataset": "d",
                         "path": "/tmp", "since": 0},
        "scans.wait_next": {"after": 0, "timeout": 0.05},
        "scan.get": {"scan": scan},
        "stream.info": {"scan": scan, "stream": "frame"},
        "stream.read": {**read, "step": 1, "single": False, "block": False, "timeout": 0.05},
        "subscribe": {**read, "mode": "lossless", "every": 1, "max_rate": 0, "window": 4, "group": "g", "member": "m"},
        "unsubscribe": {"sub": "s1.1"},
        "sub.ack": {"sub": "s1.1", "msg": 0},
        "schema.get": {"detector": d},
        "pipelines.list": {"detector": d},
        "pipeline.schema": {"detector": d, "pipeline": "azint"},
        "jobs.cluster": {},
        "jobs.templates": {},
        "jobs.submit": {"template": "notebook", "params": {"a": 1}, "name": "fuzz", "cpus": 1, "memory": "1G", "time": "00:01:00"},
        "jobs.list": {"all": False},
        "jobs.get": {"job": "123"},
        "jobs.logs": {"job": "123", "stream": "stdout", "offset": 0, "max_bytes": 1024, "wait": 0},
        "jobs.cancel": {"job": "123"},
        "jobs.hold": {"job": "123"},
        "jobs.release": {"job": "123"},
        "jobs.watch": {},
        "jobs.unwatch": {},
        # the arena is a control server: registrations reach their checks (its pipelines differ: refused)
        "receivers.register": {"name": "fuzz-host", "address": "127.0.0.1", "port": 1, "protocol": 1, "version": "0.1.0",
                               "pipelines": {"azint": "0"}},
        "receivers.list": {},
        # the frame path of a registered receiver host: refused on a session that is not one
        "receivers.reply": {"rid": 1, "chunk": 0, "chunks": 1, "text": "fuzz"},
        "receivers.results": {"run": "fuzz", "results": [], "dropped": [], "items": []},
        "devices.list": {},
        "device.info": {"device": "samy"},
        "axis.move": {"axis": "samy", "position": 0.5, "relative": False},
        "axis.wait": {"axis": "samy", "timeout": 0.05},
        "axis.stop": {"axis": "samy"},
        "axis.reset": {"axis": "samy"},
        "axis.configure": {"axis": "samz", "limits": [-1, 1], "velocity": 10, "acceleration": 100, "backlash": 0,
                           "fault_at": None},
        "mca.add_roi": {"mca": "mca", "name": "Fe", "start": 6300, "stop": 6500},
        "mca.remove_roi": {"mca": "mca", "name": "Fe"},
        "mca.clear_rois": {"mca": "mca"},
        "sample.info": {},
        "scanning.run": {"type": "ascan", "axes": [{"axis": "samx", "start": 0, "stop": 0.1}], "intervals": 1,
                         "count_time": 0, "counters": ["i0"], "name": "fuzz"},
        "scanning.status": {},
        "scanning.wait": {"timeout": 0.05},
        "scanning.abort": {},
        # the catalogue: registered and unregistered proposals that the data policy never selects here
        "catalogue.datasets": {"proposal": "fuzz-registered", "sample": "s", "text": "t", "dataset": "0001", "type": "raw",
                               "limit": 10, "skip": 0},
        "catalogue.dataset": {"pid": "daqlab-fuzz"},
        "catalogue.proposals": {"limit": 10, "skip": 0},
        "catalogue.proposal": {"proposal": "fuzz-registered"},
        "catalogue.put_proposal": {"proposal": "fuzz-registered", "title": "t", "abstract": "a",
                                   "team": [{"user": "u", "role": "member"}], "start": "2026-01-01T00:00:00Z",
                                   "end": "2026-01-02T00:00:00Z", "release_date": "2035-01-01T00:00:00Z", "beamline": "daqlab"},
        "catalogue.set_release": {"proposal": "fuzz-registered", "release_date": "2036-01-01T00:00:00Z"},
        "catalogue.samples": {"proposal": "fuzz-registered", "limit": 10, "skip": 0},
        "catalogue.whoami": {},
        "catalogue.doi_draft": {"datasets": ["daqlab-fuzz"], "title": "t", "abstract": "a", "creators": ["c"]},
        "catalogue.doi_advance": {"doi": "10.5072/daqlab.fuzz.00000000", "state": "registered"},
        "catalogue.doi": {"doi": "10.5072/daqlab.fuzz.00000000"},
        "catalogue.dois": {"limit": 10, "skip": 0},
        "policy.get": {},
        "policy.new_proposal": {"proposal": "fuzz-unregistered"},
        "policy.new_sample": {"sample": "s", "description": "d"},
        "policy.new_dataset": {"dataset": "0001"},
        "policy.end_proposal": {},
        "logbook.add": {"content": "<p>fuzz</p>", "format": "html", "category": "comment", "tags": ["fuzz"], "proposal": "fuzz"},
        "logbook.edit": {"entry": 1, "content": "fuzz again", "tags": ["fuzz"]},
        "logbook.get": {"entry": 1, "versions": True},
        "logbook.search": {"text": "fuzz", "tags": ["fuzz"], "category": "comment", "since": 0, "limit": 10},
        "logbook.stats": {"proposal": "fuzz"},
        "logbook.attachment": {"attachment": 1},
        # the fuzzer's scan has no workflow: both answer that (NotFound) after the scan's checks
        "workflow.status": {"scan": scan},
        "workflow.wait": {"scan": scan, "timeout": 0.05},
    }


def _may_block(req: dict) -> bool:
    """Requests that wait by design (for a scan or an item that may never come) when told no or a long timeout."""
    t = req.get("timeout")
    unbounded = t is None or (isinstance(t, (int, float)) and not isinstance(t, bool) and t > 1)
    if req["op"] in ("scans.wait_next", "axis.wait", "scanning.wait", "scanning.abort", "workflow.wait"):
        return unbounded or req["op"] == "scanning.abort"
    if req["op"] == "stream.read":
        return req.get("single") is True and req.get("block") is True and unbounded
    return False


def _live_base(arena, w: Wire, op: str, base: dict) -> dict:
    """Point the acquisition and subscription ops at live targets, so that mutations of the other fields
    reach the code behind the lookup: a freshly prepared acquisition (the fuzzer's own prepares replace
    the last one), an open subscription on this connection that waits for acks (window 1)."""
    if "uuid" in base:
        acq = arena.owner.detector(FUZZ_DETECTOR).prepare(acquisition={"nb_frames": 2, "expo_time": 0.01}, scan={"name": "fuzz"})
        return {**base, "uuid": acq.uuid}
    if "sub" in base:
        r = w.ask({"id": "live-sub", "op": "subscribe", "scan": arena.fuzz_scan, "stream": "frame", "window": 1,
                   "roi": [0, 0, 8, 8]})
        assert check_reply(r, "live subscription") == "ok"
        return {**base, "sub": r["result"]["sub"]}
    return base


def test_random_json_fuzzer_over_every_op(arena):
    bases = _bases(arena)
    assert sorted(bases) == sorted(OPS), f"ops without a base request (add one): {sorted(set(OPS) - set(bases))}"
    mut = Mutator(SEED)
    w = arena.wire()
    next_id = 1_000_000
    for op in OPS:
        _phase(f"fuzz {op}")
        base = _live_base(arena, w, op, bases[op])
        for _ in range(CASES.get(op, CASES_PER_OP)):
            req, what = mut.mutate(base)
            next_id += 1
            req.update(id=next_id, op=op)
            if _may_block(req):
                r = w.ask(req, timeout=0.2)
                if r is None:
                    _count(op, "waits (by design)")
                    continue
            else:
                r = w.ask(req, timeout=15)
            t = check_reply(r, f"{op} {what} (case {next_id}: {json.dumps(req)[:300]})")
            _count(op, t)
            if t == "ok" and op == "subscribe":
                check_reply(w.ask({"id": -next_id, "op": "unsubscribe", "sub": r["result"]["sub"]}), "unsubscribe")
    # the server still answers on the same connection
    assert check_reply(w.ask({"id": 1, "op": "hello"}), "hello after the fuzzer") == "ok"
    for late in w.late:
        check_reply(late, f"late reply {late.get('id')}")
    w.close()


# ------------------------------------------------------------------------------------------ (c) HTTP
def test_schemathesis_http_endpoints(arena):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    _phase("schemathesis")
    auth = {"Authorization": f"token {TOKEN}"}
    base = arena.server.http
    schema = schemathesis.openapi.from_url(base + "/openapi.json", headers=auth, timeout=10)
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue
        seen.append(operation.path)

        @settings(max_examples=25, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            # the scheme's query token is generated too: make it the right one (refusals are tested below)
            case.query = {**(case.query or {}), "token": TOKEN}
            resp = case.call(base_url=base, headers=auth, timeout=10)
            assert resp.status_code < 500, f"{case.path} {case.query}: {resp.status_code} {resp.text[:300]}"
            _count(f"GET {case.path}", str(resp.status_code))
            if resp.status_code >= 400:  # a typed error body
                assert json.loads(resp.text)["error"]["type"] not in ("InternalError", None), resp.text[:300]

        call()
        # and the same endpoints without a token or with a wrong one: refused, never served, never a 5xx
        if operation.path not in ("/health", "/openapi.json", "/ws"):
            for headers in ({}, {"Authorization": "token wrong"}):
                resp = operation.Case().call(base_url=base, headers=headers, timeout=10)
                assert resp.status_code == 401, f"{operation.path} with {headers}: {resp.status_code}"
    assert {"/health", "/status", "/schema"} <= set(seen), seen


# ------------------------------------------------------------------------------------------ verdict
def test_the_victim_lost_nothing_and_health_held(arena):
    # at least a few seconds of victim even when this test runs alone
    while time.monotonic() - arena.started < 3:
        time.sleep(0.1)
    _phase("verdict")
    arena.victim_acq.stop()
    arena.victim.join(60)
    assert not arena.victim.is_alive(), "the victim's cursor did not end after the acquisition stopped"
    health = arena.prober.stop()
    assert arena.server.alive(), "the server died:\n" + arena.server.log[-3000:]
    assert arena.victim.error is None, f"the victim failed: {arena.victim.error!r}"
    assert arena.victim.gaps == [], f"the victim was told of gaps: {arena.victim.gaps[:5]}"
    got_index, got_data = arena.victim.received()
    ref = arena.owner.scans.get(arena.victim_acq.scan.key).streams["frame"].read_batch()
    n = len(ref)
    print(
        f"\nabuse suite: {sum(SUMMARY['cases'].values())} cases; victim {len(got_index)} of {n} frames; "
        f"/health worst {health['worst_ms']:.1f} ms over {health['samples']} samples "
        f"({health['worst_raw_ms']:.1f} ms counting the time the machine's scheduler kept it waiting)"
    )
    t0 = SUMMARY["phases"][0][0] if SUMMARY.get("phases") else 0
    print("  phases: " + ", ".join(f"{name} +{t - t0:.1f} s" for t, name in SUMMARY.get("phases", [])
                                  if not name.startswith("fuzz ") or name == f"fuzz {OPS[0]}"))
    for t, ms, raw in health["slow"][:8]:
        print(f"  slow /health: {ms:.0f} ms ({raw:.0f} ms raw) during {_phase_at(t)}")
    for op, outcomes in SUMMARY["outcomes"].items():
        print(f"  {op:24s} {sum(outcomes.values()):5d}  " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    assert n >= 100, f"the victim's acquisition made only {n} frames"
    np.testing.assert_array_equal(got_index, np.arange(n), err_msg="the victim's indexes are not 0..n-1 in order")
    np.testing.assert_array_equal(got_data, ref.data, err_msg="the victim's frames differ from a reference read")
    # a reader that comes late gets the same from the sealed stream (thousands of small timed items)
    late = Victim(arena.owner.scans.get(arena.victim_acq.scan.key).streams["frame"])
    late.run()
    assert late.error is None, f"a late lossless reader failed: {late.error!r}"
    late_index, late_data = late.received()
    np.testing.assert_array_equal(late_index, np.arange(n))
    np.testing.assert_array_equal(late_data, ref.data)
    assert not health["errors"], f"/health failed: {health['errors']}"
    assert health["samples"] > 20
    assert health["worst_ms"] < HEALTH_LIMIT_MS, f"/health took {health['worst_ms']:.0f} ms; slow samples {health['slow']}"
    still = daqlab.connect(arena.server.url, token=TOKEN)
    try:
        assert FUZZ_DETECTOR in still.detectors()
    finally:
        still.close()
