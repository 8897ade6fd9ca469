"""Jobs on a real one-node Slurm (munge, slurmctld, slurmd, slurmrestd from Debian), through a real
daqlab server and the Python API, with both backends: slurmrestd (REST, per-user JWT) and the
command-line tools (sbatch --uid). The server runs as root and acts for the test users."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import daqlab
from conftest import ServerProcess, wait_until
from slurm_cluster import ALICE, BOB

pytestmark = pytest.mark.timeout(120)


class Backend:
    def __init__(self, mode: str, server: ServerProcess, cluster, users):
        self.mode, self.server, self.cluster, self.users = mode, server, cluster, users
        self.clients: list = []

    def client(self, who: str):
        c = daqlab.connect(self.server.url, token=self.users.tokens[who])
        self.clients.append(c)
        return c


@pytest.fixture(scope="module", params=["rest", "cli"])
def backend(request, slurm_cluster, slurm_users):
    server = ServerProcess(*slurm_cluster.server_args(request.param, slurm_users))
    b = Backend(request.param, server, slurm_cluster, slurm_users)
    yield b
    for c in b.clients:
        c.close()
    server.stop()


@pytest.fixture(scope="module")
def alice(backend):
    return backend.client("alice")


@pytest.fixture(scope="module")
def bob(backend):
    return backend.client("bob")


@pytest.fixture(scope="module")
def staff(backend):
    return backend.client("staff")


def demo(client, **kw):
    resources = {k: kw.pop(k) for k in ("partition", "cpus", "time", "array", "hold", "env", "name") if k in kw}
    resources.setdefault("partition", "debug")
    resources.setdefault("time", "00:02:00")
    return daqlab.jobs.submit("demo", client=client, **resources, **kw)


def wait_state(job, states, timeout=30):
    assert wait_until(lambda: job.state in states, timeout, 0.2), f"{job!r} never reached {states}"
    return job


# ---------------------------------------------------------------------------------------------

def test_cluster_and_templates(alice, backend):
    info = daqlab.jobs.cluster(client=alice)
    assert info["configured"] is True and info["backend"] == backend.mode
    assert info["user"] == ALICE and info["staff"] is False
    parts = {p["name"]: p for p in info["partitions"]}
    assert parts["debug"]["max_time"] == 5 and parts["debug"]["max_cpus_per_node"] == 2
    assert parts["batch"]["default"] is True
    names = {t["name"] for t in daqlab.jobs.templates(client=alice)}
    assert {"azint", "smx", "tomo", "notebook", "demo"} <= names


def test_submit_follow_logs_list(alice, backend):
    job = demo(alice, message="hello slurm", seconds=1.5, steps=3)
    assert job.user == ALICE and job.info["template"] == "demo"
    text = "".join(job.iter_logs("stdout", follow=True))           # returns when the job has ended
    assert text.splitlines() == ["hello slurm", "progress 1 3", "progress 2 3", "progress 3 3"]
    job.wait(timeout=20, progress=False)
    assert job.state == "COMPLETED" and job.exit_code == 0 and job.reason is None
    assert job.info["start_time"] and job.info["end_time"]
    assert job.id in [j.id for j in daqlab.jobs.list(client=alice)]
    # the job ran as alice, in a folder of its own, logs owned by her
    stdout = Path(job.info["stdout"])
    assert stdout.parent == Path(job.info["job_dir"]) and stdout.stat().st_uid == backend.users.alice.pw_uid
    assert json.loads((stdout.parent / "params.json").read_text())["message"] == "hello slurm"


def test_wait_shows_progress(alice, capsys):
    job = demo(alice, seconds=1, steps=4)
    job.wait(timeout=20, progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err and "COMPLETED" in err


def test_failing_job_reports_exit_code_and_stderr(alice):
    job = demo(alice, message="about to fail", stderr="something broke: bad input", exit_code=3)
    job.wait(timeout=20, progress=False)
    assert job.state == "FAILED" and job.exit_code == 3 and job.reason == "NonZeroExitCode"
    assert job.logs("stderr") == "something broke: bad input\n"
    with pytest.raises(daqlab.StateError, match=r"(?s)FAILED.*exit code 3.*something broke"):
        job.result


def test_cancel_running_job(alice):
    job = demo(alice, seconds=60)
    wait_state(job, {"RUNNING"})
    job.cancel()
    wait_state(job, {"CANCELLED"}, 15)
    assert job.info["end_time"]


def test_two_jobs_side_by_side(alice):
    jobs = [demo(alice, seconds=4, name=f"side{i}") for i in range(2)]
    assert wait_until(lambda: all(j.state == "RUNNING" for j in jobs), 15, 0.2), jobs
    for j in jobs:
        j.cancel()


def test_job_array(alice):
    job = demo(alice, message="task", array="0-2")
    assert job.id.isdigit()
    wait_state(job, {"COMPLETED"}, 30)
    tasks = job.refresh().tasks
    assert [t.info["array_task_id"] for t in tasks] == [0, 1, 2]
    assert all(t.info["state"] == "COMPLETED" for t in tasks)
    for k in range(3):
        assert job.logs(task=k) == f"task\narray task {k}\n"
    with pytest.raises(daqlab.ParameterError, match="array"):
        job.logs()                                      # an array: name the task


def test_hold_and_release(alice):
    job = demo(alice, hold=True)
    assert job.info["state"] == "PENDING" and job.info["held"] is True
    time.sleep(1)
    assert job.state == "PENDING"                       # held: never scheduled
    job.release()
    assert job.info["held"] is False
    wait_state(job, {"COMPLETED"})
    with pytest.raises(daqlab.StateError, match="only pending jobs"):
        job.hold()
    pending = demo(alice, seconds=30, hold=True)
    pending.release()
    wait_state(pending, {"RUNNING"})
    pending.cancel()


def test_limits_refused_with_slurm_reason(alice):
    with pytest.raises(daqlab.ParameterError, match="Requested time limit is invalid"):
        demo(alice, time="00:30:00")                    # debug allows 5 minutes
    with pytest.raises(daqlab.ParameterError, match="More processors requested than permitted"):
        demo(alice, cpus=3)                             # debug: 2 CPUs a node
    with pytest.raises(daqlab.ParameterError, match="(?i)invalid partition"):
        demo(alice, partition="nosuchpartition")
    with pytest.raises(daqlab.ParameterError, match="Requested node configuration is not available|Memory specification can not be satisfied"):
        demo(alice, memory="900G")                      # more than the node has
    with pytest.raises(daqlab.ParameterError, match=r"(?i)gres"):
        demo(alice, gpus=1)                             # a cluster without GPUs


@pytest.mark.parametrize("request_, field", [
    ({"name": "x; touch /tmp/daqlab-pwned"}, "name"),
    ({"name": "$(id)"}, "name"),
    ({"partition": "debug --uid=0"}, "partition"),
    ({"workdir": "/tmp/$(touch /tmp/daqlab-pwned)"}, "workdir"),
    ({"workdir": "/tmp/../etc"}, "workdir"),
    ({"workdir": "relative/dir"}, "workdir"),
    ({"env": {"A;B": "x"}}, "env.A;B"),
    ({"env": {"SBATCH_PARTITION": "batch"}}, "env.SBATCH_PARTITION"),
    ({"array": "0-3; ls"}, "array"),
    ({"time": "10; ls"}, "time"),
    ({"memory": "1G`id`"}, "memory"),
    ({"cpus": "2"}, "cpus"),
    ({"params": {"source": "/data/x.h5'; rm -rf ~; '"}, "template": "azint"}, "params.source"),
    ({"params": {"nope": 1}}, "params.nope"),
])
def test_injection_attempts_rejected(alice, request_, field):
    req = {"template": "demo", "partition": "debug", **request_}
    before = {j.id for j in daqlab.jobs.list(client=alice)}
    with pytest.raises(daqlab.ParameterError) as err:
        alice.call("jobs.submit", req)
    assert field in [f["field"] for f in err.value.fields], err.value.fields
    assert {j.id for j in daqlab.jobs.list(client=alice)} == before  # nothing submitted
    assert not os.path.exists("/tmp/daqlab-pwned")


def test_payloads_in_free_text_never_execute(alice, backend):
    marker = backend.cluster.root / f"pwned-{backend.mode}"
    payloads = [f"$(touch {marker}-1)", f"`touch {marker}-2`", f"'; touch {marker}-3; '", f'"; touch {marker}-4; "']
    job = demo(alice, message="\n".join(payloads), stderr=f"$(touch {marker}-5)",
               env={"PAYLOAD": f"$(touch {marker}-6)", "COMMA": "a,b=c"})
    job.wait(timeout=20, progress=False)
    assert job.state == "COMPLETED"
    assert job.logs() == "\n".join(payloads) + "\n"     # printed verbatim
    script = daqlab.jobs.submit(script='#!/bin/bash\nprintf "%s|%s\\n" "$PAYLOAD" "$COMMA"\n', partition="debug",
                                env={"PAYLOAD": f"$(touch {marker}-7)", "COMMA": "a,b=c"}, client=alice)
    script.wait(timeout=20, progress=False)
    assert script.logs() == f"$(touch {marker}-7)|a,b=c\n"  # env values reach the job as they were
    assert not list(backend.cluster.root.glob("pwned-*"))


def test_batch_template_script_calls_the_runner_with_a_params_file(alice, tmp_path):
    source = "/data/visit/sample1/scan_master.h5"
    job = daqlab.jobs.submit("azint", scan=source, params={"npt": 500, "unit": "q_nm^-1", "note": "$(reboot)"},
                             partition="debug", time="00:05:00", hold=True, client=alice)
    d = Path(job.info["job_dir"])
    repo = Path(__file__).resolve().parents[1]
    out = d / "output"
    assert (d / "job.sh").read_text().splitlines()[-1] == (
        f"exec '{_node()}' '{repo}/daq-server/dist/src/batch/cli.js' "
        f"'--template' 'azint' '--source' '{source}' '--params' '{d}/params.json' "
        f"'--output-dir' '{out}' '--prefix' 'azint'")
    assert json.loads((d / "params.json").read_text()) == {"npt": 500, "unit": "q_nm^-1", "note": "$(reboot)"}
    assert out.is_dir() and out.stat().st_uid == pwd_uid(ALICE)
    assert job.info["result"] == {"manifest": f"{out}/azint.derived.json"}
    job.cancel()


def _node() -> str:
    import subprocess

    return subprocess.run(["node", "-p", "process.execPath"], capture_output=True, text=True, check=True).stdout.strip()


def pwd_uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid


def test_users_see_and_touch_only_their_own_jobs(alice, bob, staff, backend):
    job = demo(alice, seconds=30, name="private")
    assert job.id not in [j.id for j in daqlab.jobs.list(client=bob)]
    for action in (lambda: daqlab.jobs.get(job.id, client=bob), lambda: daqlab.jobs.Job(bob, job.info).cancel(),
                   lambda: daqlab.jobs.Job(bob, job.info).hold(), lambda: daqlab.jobs.Job(bob, job.info).logs()):
        with pytest.raises(daqlab.AuthError, match=f"belongs to {ALICE}"):
            action()
    with pytest.raises(daqlab.AuthError, match="only staff"):
        daqlab.jobs.list(all=True, client=bob)
    mine = demo(bob, name="bobs")
    assert mine.user == BOB
    everyone = {j.id: j.user for j in daqlab.jobs.list(all=True, client=staff)}
    assert everyone[job.id] == ALICE and everyone[mine.id] == BOB
    daqlab.jobs.get(job.id, client=staff).cancel()        # staff act on anyone's job
    wait_state(job, {"CANCELLED"}, 15)
    # a connection without a users-file token gets no jobs at all
    anonymous = daqlab.connect(backend.server.url)
    try:
        with pytest.raises(daqlab.AuthError, match="--users"):
            daqlab.jobs.list(client=anonymous)
    finally:
        anonymous.close()


def test_logs_are_read_only_from_files_the_job_user_owns(alice, backend):
    # a job of alice submitted outside daqlab whose recorded stdout is a file of root's
    import subprocess

    out = subprocess.run(["sbatch", "--parsable", "--hold", f"--uid={ALICE}", "-p", "debug", "-t", "1",
                          "-o", "/etc/hostname", "--wrap", "true"], env={**os.environ, **backend.cluster.env},
                         capture_output=True, text=True, check=True).stdout
    job = daqlab.jobs.get(out.strip().split(";")[0], client=alice)
    try:
        assert job.user == ALICE and job.info["stdout"] == "/etc/hostname"
        with pytest.raises(daqlab.AuthError, match="not a file owned by"):
            job.logs()
    finally:
        job.cancel()


def test_state_events_reach_only_the_owner(alice, bob):
    seen_alice, seen_bob = [], []
    stop_a = daqlab.jobs.watch(lambda j: seen_alice.append((j["id"], j["state"])), client=alice)
    stop_b = daqlab.jobs.watch(lambda j: seen_bob.append(j["id"]), client=bob)
    try:
        job = demo(alice, seconds=2.5)
        assert wait_until(lambda: (job.id, "COMPLETED") in seen_alice, 20, 0.1), seen_alice
        assert (job.id, "RUNNING") in seen_alice
        assert job.id not in seen_bob
    finally:
        stop_a()
        stop_b()


def test_slurmctld_outage_is_reported_and_recovered(alice, backend):
    cluster = backend.cluster.slurm
    cluster.stop_controller()
    time.sleep(0.5)  # past the server's 0.4 s snapshot of the job list
    try:
        with pytest.raises(daqlab.SlurmUnavailable, match="SlurmUnavailable: .*slurmctld") as err:
            daqlab.jobs.list(client=alice)
        assert err.value.configured is True
        with pytest.raises(daqlab.SlurmUnavailable):
            demo(alice)
    finally:
        cluster.start_controller()
    assert wait_until(cluster.node_idle, 30, 0.3)
    job = demo(alice, message="back")                    # same server, no restart
    job.wait(timeout=20, progress=False)
    assert job.state == "COMPLETED" and job.logs() == "back\n"


@pytest.mark.parametrize("args", [("--slurm", "off"), ()], ids=["off", "auto-nothing-configured"])
def test_no_cluster_configured(make_server, args):
    clean = {k: "" for k in ("DAQLAB_SLURM", "DAQLAB_SLURMRESTD_URL", "DAQLAB_SLURM_CONF")}
    server = make_server(*args, env=clean)             # what `npm start` does without DAQLAB_SLURM
    c = daqlab.connect(server.url)
    try:
        info = daqlab.jobs.cluster(client=c)
        assert info["configured"] is False and "no Slurm cluster is configured" in info["message"]
        with pytest.raises(daqlab.SlurmUnavailable, match="no Slurm cluster is configured") as err:
            daqlab.jobs.list(client=c)
        assert err.value.configured is False
    finally:
        c.close()
