"""How saving creates and writes its files (issue 13, items 10 and 12): never through a link, never into a
file that appeared after prepare unless file_exists_policy says "overwrite" (and then the entry is replaced,
not written through); a master on disk from the start of the scan that a killed server or a full disk
leaves readable; a master that cannot be written is reported by name, never as a 0-byte file with done."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 for h5py)
import h5py
import numpy as np
import pytest

import daqlab
import simref
from conftest import wait_until

# the detector, scene and saving helpers of the saving tests, and their fixture that resets a FAULTed detector
from test_saving import DET, FLAT, leave_detector_usable, saving  # noqa: F401,E402

VICTIM = "VICTIM: must never be written through\n"


def finished_saving(acq) -> dict:
    """info.saving once saving is over (the scan is closed)."""
    wait_until(lambda: acq.status()["finished"], timeout=60)
    return acq.scan.refresh().info["saving"]


def wait_end(acq):
    """Wait for the end; returns the FaultError or None."""
    try:
        acq.wait(timeout=60, progress=False)
        return None
    except daqlab.FaultError as e:
        return e


def check_frames(master, at_least):
    with h5py.File(master, "r") as f:
        ds = f["entry/instrument/detector/data"]
        assert ds.is_virtual and ds.shape[0] >= at_least, ds.shape
        for i in range(ds.shape[0]):
            np.testing.assert_array_equal(ds[i], simref.frame(DET, FLAT, i))
        return ds.shape[0]


@pytest.mark.parametrize("policy", ["abort", "overwrite"])
def test_symlink_at_master_name_after_prepare_is_never_written_through(client, tmp_path, policy):
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM)
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 6, "expo_time": 0.005}, detector=FLAT,
                                       saving=saving(tmp_path, prefix="race2", file_exists_policy=policy))
    master = tmp_path / "race2_master.h5"
    os.symlink(victim, master)  # after prepare, before the files are written
    acq.start()
    fault = wait_end(acq)
    info = finished_saving(acq)
    assert victim.read_text() == VICTIM
    if policy == "abort":
        assert fault is not None and "race2_master.h5" in str(fault) and "file_exists_policy" in str(fault)
        assert master.is_symlink() and os.readlink(master) == str(victim)
        assert info["done"] is False and "race2_master.h5" in info["master_error"]
    else:
        assert fault is None
        assert not master.is_symlink() and info["done"] is True and info["master_error"] is None
        assert check_frames(master, 6) == 6


@pytest.mark.parametrize("policy", ["abort", "overwrite"])
def test_symlink_at_sparse_name_after_prepare_is_never_written_through(client, tmp_path, policy):
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM)
    det_cfg = {"scene": "serial_crystallography", "seed": 3, "pool_size": 12}
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 6, "expo_time": 0.005}, detector=det_cfg,
                                       processing={"pipeline": "smx", "npt": 300, "min_nb_peaks": 8},
                                       saving=saving(tmp_path, prefix="sp", file_exists_policy=policy))
    sparse = tmp_path / "sp_sparse.h5"
    os.symlink(victim, sparse)
    acq.start()
    wait_end(acq)
    info = finished_saving(acq)
    assert victim.read_text() == VICTIM
    if policy == "abort":
        assert sparse.is_symlink() and info["done"] is False and info["sparse"] is None
        assert "sp_sparse.h5" in info["error"] and "file_exists_policy" in info["error"]
        with h5py.File(tmp_path / "sp_master.h5", "r") as f:  # the master is complete and says what failed
            assert "sp_sparse.h5" in f["entry/end_reason"][()].decode()
    else:
        assert not sparse.is_symlink() and info["done"] is True
        with h5py.File(sparse, "r") as f:
            assert f["entry_0000/sparse_frames/frame_ptr"].shape == (7,)


@pytest.mark.parametrize("which", ["master", "data"])
@pytest.mark.parametrize("policy", ["abort", "overwrite"])
def test_plain_file_created_during_the_scan(client, tmp_path, policy, which):
    n = 60
    acq = client.detector(DET).prepare(acquisition={"nb_frames": n, "expo_time": 0.03}, detector=FLAT,
                                       saving=saving(tmp_path, prefix="pf", file_exists_policy=policy, nb_frames_per_file=2,
                                                     flush_interval=0.05, nb_writers=1))
    master = tmp_path / "pf_master.h5"
    target = master if which == "master" else tmp_path / "pf_0_00010.h5"  # frames 20-21: written ~0.6 s in
    acq.start()
    wait_until(lambda: acq.counters["nb_frames_saved"] >= 4, timeout=30)
    assert acq.status()["state"] == "RUNNING"
    intruder = tmp_path / "intruder"
    intruder.write_text(VICTIM)
    keep = tmp_path / "keep"  # a second name for the intruder's inode: shows whether it was written through
    os.link(intruder, keep)
    os.replace(intruder, target)  # a plain file at that name now (in place of the master written at start)
    fault = wait_end(acq)
    info = finished_saving(acq)
    assert keep.read_text() == VICTIM  # the file that appeared was never written through
    if policy == "abort":
        assert fault is not None and target.name in str(fault), fault
        assert target.read_text() == VICTIM  # left untouched
        saved = acq.counters["nb_frames_saved"]
        assert 4 <= saved < n and info["done"] is False
        if which == "data":  # the frames saved before stay valid, through the master
            assert check_frames(master, saved) == saved
        else:
            assert target.name in info["master_error"]
    else:
        assert fault is None and info["done"] is True
        assert os.stat(target).st_ino != os.stat(keep).st_ino and h5py.is_hdf5(target)
        assert check_frames(master, n) == n


def test_killed_server_leaves_a_master_that_maps_the_flushed_frames(make_server, tmp_path):
    srv = make_server()
    c = daqlab.connect(srv.url)
    acq = c.detector(DET).prepare(acquisition={"nb_frames": 100000, "expo_time": 0.01}, detector=FLAT,
                                  saving=saving(tmp_path, prefix="kill", nb_frames_per_file=7, nb_writers=2, flush_interval=0.2))
    acq.start()
    master = tmp_path / "kill_master.h5"
    wait_until(lambda: master.exists(), timeout=10)  # written at start
    wait_until(lambda: acq.counters["nb_frames_saved"] >= 40, timeout=30)
    wait_until(lambda: (acq.scan.refresh().info["saving"].get("master_frames") or 0) >= 20, timeout=10)
    c.close()
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    n = check_frames(master, 20)  # h5py opens it and its VDS reads the flushed frames
    with h5py.File(master, "r") as f:
        assert "running" in f["entry/end_reason"][()].decode()
        assert list(f["entry/measurement/frame_index"][()]) == list(range(n))


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a small tmpfs: run the tests as root (CI does)")
    def mount(size):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
        return mnt
    yield mount
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_during_the_scan_leaves_a_master_that_opens(client, tiny_disk):
    disk = tiny_disk("6m")
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 50, "expo_time": 0.01}, detector=FLAT,
                                       saving=saving(disk, prefix="full", compression="none", flush_interval=0.05))
    acq.start()
    fault = wait_end(acq)
    assert fault is not None and "ENOSPC" in str(fault)
    info = finished_saving(acq)
    master = disk / "full_master.h5"
    assert info["done"] is False and info["error"]
    assert os.path.getsize(master) > 0
    with h5py.File(master, "r") as f:  # opens: the one written at start or during the scan, or the final one
        assert "entry" in f
        if "data" in f["entry/instrument/detector"]:
            check_frames(master, 0)
    if info["master_error"] is not None:
        assert "full_master.h5" in info["master_error"]


def test_master_that_cannot_be_written_is_named_and_never_left_empty(client, tiny_disk):
    disk = tiny_disk("1m")
    with open(disk / "filler", "wb") as f:  # fill the disk after prepare's checks would pass
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    acq = client.detector(DET).prepare(acquisition={"nb_frames": 5, "expo_time": 0.01}, detector=FLAT,
                                       saving=saving(disk, prefix="nospace", compression="none"))
    acq.start()
    fault = wait_end(acq)
    info = finished_saving(acq)
    master = disk / "nospace_master.h5"
    assert fault is not None and "nospace_master.h5" in str(fault), fault
    assert info["done"] is False and "nospace_master.h5" in info["master_error"] and "ENOSPC" in info["master_error"]
    assert not master.exists()  # no 0-byte master
    assert not [p for p in os.listdir(disk) if p.endswith(".tmp")]  # nor a temporary left behind
