"""A real one-node Slurm for the jobs tests (scripts/slurm/local_cluster.py), started once per
session and always stopped, plus the unix users and the token → user file the tests act as.

conftest.py imports the fixtures, so every test module shares the one cluster.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "slurm"))
from local_cluster import LocalSlurm  # noqa: E402

#: unix users the tests act as (created with useradd when missing, kept afterwards)
ALICE, BOB = "daqlab-alice", "daqlab-bob"
TOKENS = {"alice": "token-alice-0001", "bob": "token-bob-0002", "staff": "token-staff-0003"}


def ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def let_job_users_run(program: str) -> None:
    """Jobs run as the test users: give "others" search (x, not read) permission on the folders
    leading to ``program`` (the venv's Python may come from a private /root/.pyenv). The server
    refuses a template whose program its user cannot reach (jobs/access.ts)."""
    for path in {Path(program).absolute(), Path(program).resolve()}:
        for d in path.parents:
            mode = d.stat().st_mode
            if not mode & 0o001:
                d.chmod(mode | 0o001)


@dataclass
class SlurmUsers:
    users_file: Path
    tokens: dict[str, str]
    alice: pwd.struct_passwd
    bob: pwd.struct_passwd


@dataclass
class Cluster:
    slurm: LocalSlurm
    root: Path
    env: dict[str, str]
    jobs_dir: Path

    def server_args(self, mode: str, users: SlurmUsers | None = None) -> list[str]:
        args = ["--slurm", mode, "--slurm-conf", self.env["SLURM_CONF"], "--jobs-dir", str(self.jobs_dir)]
        if mode == "rest":
            args += ["--slurmrestd", self.env["DAQLAB_SLURMRESTD_URL"]]
        if users is not None:
            args += ["--users", str(users.users_file)]
        return args


@pytest.fixture(scope="session")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.fail("the Slurm tests start slurmd, which must run as root")
    missing = [c for c in ("munged", "slurmctld", "slurmd", "slurmrestd") if not shutil.which(c, path="/usr/sbin:/usr/bin")]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install slurm-wlm munge slurmrestd (DAQLAB_SETUP_FOR=test scripts/setup.sh)")
    # not under pytest's 0700 tmp: slurmrestd runs as nobody and must read slurm.conf; jobs run as the test users
    root = Path(tempfile.mkdtemp(prefix="daqlab-slurm-"))
    root.chmod(0o755)
    slurm = LocalSlurm(root / "cluster")
    try:
        env = slurm.start()
        jobs_dir = root / "jobs"
        jobs_dir.mkdir(mode=0o755)
        yield Cluster(slurm, root, env, jobs_dir)
    finally:
        slurm.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_users(slurm_cluster):
    alice, bob = ensure_user(ALICE), ensure_user(BOB)
    let_job_users_run(str(ROOT / ".venv" / "bin" / "python"))
    users_file = slurm_cluster.root / "users.json"
    users_file.write_text(json.dumps({"tokens": {
        TOKENS["alice"]: {"user": ALICE},
        TOKENS["bob"]: {"user": BOB},
        TOKENS["staff"]: {"user": "root", "staff": True},
    }}))
    users_file.chmod(0o600)
    return SlurmUsers(users_file, TOKENS, alice, bob)
