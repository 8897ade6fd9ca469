"""Compressed frames kept compressed: the `dectris` plugin saving `daqlab-detector-sim`'s bslz4 frames.

The stream's compressed image blobs are first read with pyzmq + cbor2 (what the detector sends), then the same
deterministic series goes through a daqlab server saving with bslz4: every chunk of the data files must be the
detector's blob byte for byte (h5py `read_direct_chunk`), and decode equal (hdf5plugin through h5py, and
dectris-compression). A different saving compression, or frames that went through a pipeline, take the
decode + re-encode path and still read back equal.
"""
from __future__ import annotations

import time

import cbor2
import h5py
import hdf5plugin  # noqa: F401  (registers the bitshuffle filter with h5py)
import numpy as np
import pytest
import zmq
from dectris.compression import decompress

import daqlab
from detsim import DetectorSim

N = 8
SIM = {"scene": "powder", "seed": 5, "pool_size": N}


def _raw_tag_hook(*args):
    """Stream2 tags, keeping the compressed image bytes as the detector sent them (cbor2 versions differ in the hook's arguments)."""
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == 56500:
        algorithm, elem_size, data = tag.value
        return ("compressed", algorithm, elem_size, bytes(data))
    if tag.tag == 40:
        dims, array = tag.value
        return ("array", tuple(dims), array)
    if isinstance(tag.value, tuple) and tag.value[0] == "compressed":
        return tag.value  # the typed-array tag (69/70) around the compressed bytes
    return tag


def stream_blobs(sim: DetectorSim, n: int) -> dict[int, tuple[str, int, bytes]]:
    """image_id → (algorithm, elem_size, blob) of one series, read off the stream with a PULL socket."""
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.PULL)
        sock.connect(sim.stream)
        time.sleep(0.3)  # the handshake, before the detector sends
        sim.command("initialize")
        sim.put("stream", "mode", "enabled")
        sim.put("stream", "format", "cbor")
        sim.put("detector", "frame_time", 0.005)
        sim.put("detector", "nimages", n)
        sim.command("arm")
        sim.command("trigger")
        blobs = {}
        deadline = time.monotonic() + 60
        while True:
            assert sock.poll(max(1, (deadline - time.monotonic()) * 1000)), f"timed out after {len(blobs)} images"
            m = cbor2.loads(sock.recv(), tag_hook=_raw_tag_hook)
            if m["type"] == "image":
                (channel,) = m["data"].values()
                kind, _dims, inner = channel
                assert kind == "array" and inner[0] == "compressed", channel
                blobs[m["image_id"]] = inner[1:]
            elif m["type"] == "end":
                break
        sock.close(linger=0)
        return blobs
    finally:
        ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def sim():
    s = DetectorSim("--model", "eiger-500k", "--scene", SIM["scene"], "--seed", str(SIM["seed"]),
                    "--config", f'{{"pool_size": {N}}}')
    yield s
    s.stop()


@pytest.fixture(scope="module")
def blobs(sim):
    # read before the server's receivers connect: the detector deals images round robin between PULL sockets
    b = stream_blobs(sim, N)
    assert sorted(b) == list(range(N))
    assert {(alg, es) for alg, es, _ in b.values()} == {("bslz4", 4)}
    return b


@pytest.fixture(scope="module")
def dc_client(sim, blobs):
    from conftest import ServerProcess

    s = ServerProcess("--dectris", f"det={sim.http},stream={sim.stream}",
                      "--dectris", f"det-v1={sim.http},stream={sim.stream},format=legacy")
    c = daqlab.connect(s.url)
    yield c
    c.close()
    s.stop()


def save(client, detector, folder, compression="bslz4", processing=None):
    acq = client.detector(detector).prepare(
        acquisition={"nb_frames": N, "expo_time": 0.005}, processing=processing or {},
        saving={"enabled": True, "base_path": str(folder), "prefix": "dc", "compression": compression})
    acq.start()
    acq.wait(timeout=120, progress=False)
    assert acq.state == "STOPPED" and acq.reason == "completed", acq.status()
    info = acq.scan.info["saving"]
    assert info["nb_frames_saved"] == N and info["done"], info
    return acq, info


def saved_frames(info):
    """(chunk bytes, filter mask, decoded frame) of every saved frame, in file order."""
    out = []
    for path in info["files"]:
        with h5py.File(path, "r") as f:
            d = f["entry/instrument/detector/data"]
            for i in range(d.shape[0]):
                mask, chunk = d.id.read_direct_chunk((i, 0, 0))
                out.append((bytes(chunk), mask, d[i]))
    return out


@pytest.mark.parametrize("detector", ["det", "det-v1"])
def test_saved_chunks_are_the_detectors_bytes(dc_client, blobs, tmp_path, detector):
    _acq, info = save(dc_client, detector, tmp_path / detector)
    assert info["nb_direct_chunks"] == N, info
    frames = saved_frames(info)
    assert len(frames) == N
    for k, (chunk, mask, image) in enumerate(frames):
        _alg, es, blob = blobs[k]
        assert mask == 0
        assert chunk == blob, f"frame {k}: the file's chunk is not the stream's blob"
        expected = np.frombuffer(decompress(blob, "bslz4", elem_size=es), dtype="<u4").reshape(image.shape)
        np.testing.assert_array_equal(image, expected)  # hdf5plugin's bitshuffle filter through h5py
        np.testing.assert_array_equal(np.frombuffer(decompress(chunk, "bslz4", elem_size=4), dtype="<u4"), expected.ravel())
    # the dataset declares what the filter needs: bitshuffle + LZ4 for 4-byte pixels
    with h5py.File(info["files"][0], "r") as f:
        cd = f["entry/instrument/detector/data"]._filters[str(hdf5plugin.BSHUF_ID)]
        assert cd[2] == 4 and cd[4] == 2, cd


@pytest.mark.parametrize("case", ["gzip", "pipeline"])
def test_other_compressions_and_pipelines_re_encode(dc_client, blobs, tmp_path, case):
    acq, info = save(dc_client, "det", tmp_path / case, compression="gzip" if case == "gzip" else "bslz4",
                     processing={"pipeline": "legacy"} if case == "pipeline" else None)
    assert info["nb_direct_chunks"] == 0, info
    frames = saved_frames(info)
    assert len(frames) == N
    # the pipeline's frames (its mask step may change pixels) are what is saved; without one, the detector's
    reference = acq.scan.streams["frame"][0:N] if case == "pipeline" else [
        np.frombuffer(decompress(blob, "bslz4", elem_size=es), dtype="<u4") for _alg, es, blob in (blobs[k] for k in range(N))]
    for k, (_chunk, _mask, image) in enumerate(frames):
        np.testing.assert_array_equal(image.ravel(), np.asarray(reference[k]).ravel())


WRITE_BLOCKS = """
const [dist, dir] = process.argv.slice(1);
const { FrameSeries } = await import(dist + '/saving/frame-series.js');
const { bslz4Compress, bslz4MaxCompressedSize } = await import(dist + '/saving/codec/index.js');
const s = new FrameSeries({ folder: dir, prefix: 'b', rank: 0, startNumber: 0, nbFramesPerFile: 8, dtype: 'uint32',
  shape: [100, 77], compression: 'bslz4', compressionLevel: 1, policy: 'abort', flushInterval: 1, entry: 'entry',
  instrument: 'instrument', detector: 'detector', entryAttrs: {} }, () => {});
[0, 8, 64, 1024].forEach((bs, k) => {
  const f = new Uint32Array(7700);
  for (let i = 0; i < f.length; i++) f[i] = ((i * 2654435761) >>> 20) + k;
  const raw = new Uint8Array(f.buffer), out = new Uint8Array(bslz4MaxCompressedSize(raw.length, 4, bs));
  s.write(k, f, { codec: 'bslz4', elemSize: 4, bytes: out.slice(0, bslz4Compress(raw, 4, out, bs)) });
});
s.close();
console.log(s.direct);
"""


def test_chunks_of_any_block_size_read_back_with_hdf5plugin(tmp_path):
    """A detector may choose its bitshuffle block size: the filter reads it from each chunk's header."""
    import subprocess
    from pathlib import Path

    dist = Path(__file__).resolve().parents[1] / "daq-server" / "dist" / "src"
    p = subprocess.run(["node", "--input-type=module", "-e", WRITE_BLOCKS, str(dist), str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "4", p.stderr
    with h5py.File(tmp_path / "b_0_00000.h5", "r") as f:
        d = f["entry/instrument/detector/data"]
        i = np.arange(7700, dtype=np.uint64)
        for k, block in enumerate([0, 8, 64, 1024]):
            _mask, chunk = d.id.read_direct_chunk((k, 0, 0))
            stored_block = int.from_bytes(bytes(chunk)[8:12], "big") // 4
            assert block == 0 or stored_block == block
            expected = (((i * 2654435761) % 2 ** 32) >> 20).astype(np.uint32) + k
            np.testing.assert_array_equal(d[k].ravel(), expected)


def test_receivers_skip_the_decode_when_nothing_needs_pixels(dc_client, blobs, tmp_path):
    """Pipeline `none` + bslz4 saving: the receivers pass the detector's chunks on undecoded (counted); the
    frames still read back decoded, through `stream.read` and a live (LiveImage) subscription alike."""
    from daqlab._arrow import decode

    expected = [np.frombuffer(decompress(blobs[k][2], "bslz4", elem_size=4), dtype="<u4") for k in range(N)]
    det = dc_client.detector("det")
    acq = det.prepare(acquisition={"nb_frames": N, "expo_time": 0.05},
                      saving={"enabled": True, "base_path": str(tmp_path / "nd"), "prefix": "nd", "compression": "bslz4"})
    sub = dc_client._conn.subscribe({"scan": acq.scan.key, "stream": "frame", "mode": "latest"})
    acq.start()
    kind, header, payload = sub.queue.get(timeout=30)
    assert kind == "data", (kind, header)
    live = decode(payload)
    k = int(live.index[0])
    np.testing.assert_array_equal(np.asarray(live.data[0]).ravel(), expected[k])  # the live view decoded it on demand
    dc_client._conn.unsubscribe(sub)
    acq.wait(timeout=120, progress=False)
    assert acq.reason == "completed", acq.status()
    series = acq.scan.info["detector_series"]
    assert series["counters"]["images_not_decoded"] == N, series
    frames = acq.scan.streams["frame"][0:N]
    for k in range(N):
        np.testing.assert_array_equal(frames[k].ravel(), expected[k], err_msg=f"frame {k}")
    assert acq.scan.info["saving"]["nb_direct_chunks"] == N
    for k, (chunk, _mask, image) in enumerate(saved_frames(acq.scan.info["saving"])):
        assert chunk == blobs[k][2]
        np.testing.assert_array_equal(image.ravel(), expected[k])
    # a pipeline needs the pixels: every image is decoded as it arrives
    acq2, _ = save(dc_client, "det", tmp_path / "legacy", processing={"pipeline": "legacy"})
    assert acq2.scan.info["detector_series"]["counters"]["images_not_decoded"] == 0
    # a saving compression that is not the detector's: the writer decodes the undecoded chunk (off the main thread)
    acq3, info3 = save(dc_client, "det", tmp_path / "gz", compression="gzip")
    assert acq3.scan.info["detector_series"]["counters"]["images_not_decoded"] == N and info3["nb_direct_chunks"] == 0
    for k, (_chunk, _mask, image) in enumerate(saved_frames(info3)):
        np.testing.assert_array_equal(image.ravel(), expected[k])
