"""Independent reference of the daqlab simulators' `flat` and `dark` scenes.

Reproduces, bit for bit, the frames of sim-eiger-500k, sim-eiger-4m and
sim-camera (daq-server/src/detectors/sim/) for any seed, frame index,
pool_size, lost_packet_rate and lost_frames, with numpy only.

Algorithm (the same in daq-server/src/detectors/sim/random.ts; all
integer arithmetic modulo 2**32):

    mix32(x)      = murmur3 fmix32: x ^= x>>16; x *= 0x85EBCA6B; x ^= x>>13; x *= 0xC2B2AE35; x ^= x>>16
    hash2(a, b)   = mix32((a * 0x9E3779B1) ^ b)
    seed_key(s)   = mix32(s ^ 0x5EEDC0DE)
    key(s, st, n) = hash2(n mod 2**32, hash2(st, seed_key(s)))     st: stream, n: frame slot
    u_st(p)       = hash2(p, key(seed, st, slot))                  p: flat pixel index

    slot = index mod pool_size (pool_size > 0) else index

    Poisson table for a constant mean lam (IEEE double +, *, / only, in this order):
      m = floor(lam); w_m = 1
      k = m+1, m+2, ...: w_k = w_{k-1} * lam / k        kept while >= 2**-40
      k = m-1, ..., 0:   w_k = w_{k+1} * (k+1) / lam    kept while >= 2**-40
      total = sum in ascending k; T_j = floor((cum_j / total) * 2**32); last T = 2**32
      sample(u) = kmin + #{j : T_j <= u}

    counting detectors (uint32):  flat: sample_flat(u_PHOTON(p)); dark: 0; gap pixels: 2**32 - 1
    camera (uint16): clip(offset + photons + sample_read(u_READ(p)) - floor(read_noise**2 + 0.5), 0, 65535)
                     photons = sample_flat(u_PHOTON(p)) for flat, 0 for dark; sample_read uses lam = read_noise**2

    lost packets (per frame index, applied to a copy): hl = key(seed, LOST, index);
      lost when hl < floor(lost_packet_rate * 2**32) or index in lost_frames;
      E = 8192 // itemsize elements per packet, P = ceil(size / E) packets,
      first = hash2(1, hl) % P, count = 1 + hash2(2, hl) % 8, zero elements [first*E, min((first+count)*E, size))

API: frame(detector, config, index) -> np.ndarray; receive(...) -> (array, valid).
CLI: python simref.py check MANIFEST.json  (compare the raw files a manifest lists; see daq-server/test/sim)
     python simref.py frame DETECTOR INDEX [CONFIG_JSON] OUT.npy
"""

from __future__ import annotations

import json
import math
import sys
from functools import lru_cache

import numpy as np

# ---------------------------------------------------------------- defaults (mirror of specs.ts / config.ts)

COMMON_DEFAULTS = {
    "seed": 0,
    "pool_size": None,  # per detector
    "lost_packet_rate": 0.0,
    "lost_frames": [],
    "fault_at_frame": None,
    "flat_mean": None,  # per detector
}

DETECTORS = {
    "sim-eiger-500k": {
        "kind": "counting", "shape": (514, 1030), "dtype": np.uint32, "dummy": 4294967295,
        "gap_rows": [], "gap_cols": [],
        "defaults": {"scene": "powder", "pool_size": 64, "flat_mean": 10},
    },
    "sim-eiger-4m": {
        "kind": "counting", "shape": (2167, 2070), "dtype": np.uint32, "dummy": 4294967295,
        "gap_rows": [(514, 550), (1065, 1101), (1616, 1652)], "gap_cols": [(1030, 1039)],
        "defaults": {"scene": "serial_crystallography", "pool_size": 8, "flat_mean": 10},
    },
    "sim-camera": {
        "kind": "camera", "shape": (1024, 1024), "dtype": np.uint16, "dummy": None,
        "gap_rows": [], "gap_cols": [],
        "defaults": {"scene": "flat", "pool_size": 16, "flat_mean": 1000, "offset": 100, "read_noise": 2.0},
    },
}

# scene parameters of the other scenes and geometry: accepted, irrelevant to flat/dark frames
IGNORED_KEYS = {
    "energy_kev", "wavelength", "poni", "polarization_factor", "beamstop_radius", "background",
    "hit_rate", "spots_per_hit", "spot_intensity", "spot_sigma", "solvent_ring_intensity", "solvent_ring_q",
    "solvent_ring_width", "calibrant", "ring_intensity", "ring_width", "sphere_radius", "polydispersity",
    "saxs_intensity", "speckle_size", "correlation_frames", "contrast", "xpcs_intensity", "xpcs_xi",
}

STREAM_PHOTON = 1
STREAM_READ_NOISE = 2
STREAM_LOST = 3

TWO32 = 4294967296
M32 = 0xFFFFFFFF
PACKET_BYTES = 8192
MAX_LOST_PACKETS = 8
TAIL = 2.0 ** -40


class DetectorFault(RuntimeError):
    pass


def settings(detector: str, config: dict | None) -> dict:
    """Defaults of `detector` overridden by `config` (unknown keys are an error)."""
    if detector not in DETECTORS:
        raise KeyError(f"simref knows {sorted(DETECTORS)}, not {detector!r}")
    spec = DETECTORS[detector]
    out = dict(COMMON_DEFAULTS)
    out.update(spec["defaults"])
    for k, v in (config or {}).items():
        if k not in out and k not in IGNORED_KEYS:
            raise KeyError(f"{detector}: unknown configuration key {k!r}")
        out[k] = v
    return out


# ---------------------------------------------------------------- hashes

def mix32(x: int) -> int:
    x &= M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & M32
    x ^= x >> 16
    return x


def hash2(a: int, b: int) -> int:
    return mix32(((a * 0x9E3779B1) & M32) ^ (b & M32))


def frame_key(seed: int, stream: int, n: int) -> int:
    return hash2(n % TWO32, hash2(stream, mix32(seed ^ 0x5EEDC0DE)))


def pixel_hashes(count: int, key: int) -> np.ndarray:
    """u(p) = hash2(p, key) for p in [0, count), as uint32."""
    x = np.arange(count, dtype=np.uint32)
    x *= np.uint32(0x9E3779B1)
    x ^= np.uint32(key)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


# ---------------------------------------------------------------- Poisson table

@lru_cache(maxsize=64)
def poisson_table(lam: float) -> tuple[int, np.ndarray]:
    """(kmin, thresholds as uint64) — see the module docstring."""
    if not lam > 0:
        return 0, np.array([TWO32], dtype=np.uint64)
    m = math.floor(lam)
    up = [1.0]
    w = 1.0
    k = m + 1
    while True:
        w = w * lam / k
        if w < TAIL:
            break
        up.append(w)
        k += 1
    down = []
    w = 1.0
    k = m
    while k > 0:
        w = w * k / lam
        if w < TAIL:
            break
        down.append(w)
        k -= 1
    kmin = m - len(down)
    weights = down[::-1] + up
    total = 0.0
    for x in weights:
        total += x
    thresholds = []
    cum = 0.0
    for x in weights:
        cum += x
        thresholds.append(math.floor((cum / total) * TWO32))
    thresholds[-1] = TWO32
    return kmin, np.array(thresholds, dtype=np.uint64)


def poisson_sample(lam: float, u: np.ndarray) -> np.ndarray:
    kmin, t = poisson_table(float(lam))
    return kmin + np.searchsorted(t, u.astype(np.uint64), side="right").astype(np.int64)


# ---------------------------------------------------------------- frames

def _render(detector: str, cfg: dict, slot: int) -> np.ndarray:
    spec = DETECTORS[detector]
    rows, cols = spec["shape"]
    n = rows * cols
    scene = cfg["scene"]
    if scene not in ("flat", "dark"):
        raise NotImplementedError(f"simref reproduces the flat and dark scenes only, not {scene!r}")
    seed = int(cfg["seed"])
    if scene == "flat":
        photons = poisson_sample(cfg["flat_mean"], pixel_hashes(n, frame_key(seed, STREAM_PHOTON, slot)))
    else:
        photons = np.zeros(n, dtype=np.int64)
    if spec["kind"] == "camera":
        v2 = float(cfg["read_noise"]) * float(cfg["read_noise"])
        noise = poisson_sample(v2, pixel_hashes(n, frame_key(seed, STREAM_READ_NOISE, slot)))
        values = int(cfg["offset"]) - math.floor(v2 + 0.5) + photons + noise
        out = np.clip(values, 0, 65535).astype(np.uint16)
    else:
        out = photons.astype(np.uint32)
    out = out.reshape(rows, cols)
    for a, b in spec["gap_rows"]:
        out[a : b + 1, :] = spec["dummy"]
    for a, b in spec["gap_cols"]:
        out[:, a : b + 1] = spec["dummy"]
    return out


@lru_cache(maxsize=128)
def _render_cached(detector: str, cfg_json: str, slot: int) -> np.ndarray:
    arr = _render(detector, json.loads(cfg_json), slot)
    arr.setflags(write=False)
    return arr


def lost_region(detector: str, cfg: dict, index: int) -> tuple[int, int] | None:
    spec = DETECTORS[detector]
    hl = frame_key(int(cfg["seed"]), STREAM_LOST, index)
    threshold = math.floor(float(cfg["lost_packet_rate"]) * TWO32)
    if not (hl < threshold or index in set(cfg["lost_frames"])):
        return None
    size = spec["shape"][0] * spec["shape"][1]
    per_packet = PACKET_BYTES // np.dtype(spec["dtype"]).itemsize
    packets = -(-size // per_packet)
    first = hash2(1, hl) % packets
    count = 1 + hash2(2, hl) % MAX_LOST_PACKETS
    return first * per_packet, min((first + count) * per_packet, size)


def receive(detector: str, config: dict | None, index: int) -> tuple[np.ndarray, bool]:
    """Frame `index` and its validity flag, as the simulator's receiver hands it over."""
    cfg = settings(detector, config)
    if index < 0:
        raise ValueError("index must be >= 0")
    if cfg["fault_at_frame"] is not None and index >= cfg["fault_at_frame"]:
        raise DetectorFault(f"{detector}: simulated detector failure at frame {index}")
    pool = int(cfg["pool_size"])
    slot = index % pool if pool > 0 else index
    relevant = {k: cfg[k] for k in ("scene", "seed", "flat_mean", "offset", "read_noise") if k in cfg}
    data = _render_cached(detector, json.dumps(relevant, sort_keys=True), slot)
    lost = lost_region(detector, cfg, index)
    if lost is None:
        return data, True
    copy = data.copy()
    copy.reshape(-1)[lost[0] : lost[1]] = 0
    return copy, False


def frame(detector: str, config: dict | None, index: int) -> np.ndarray:
    """Frame `index` of `detector` configured with `config` (the `detector` section of prepare)."""
    return receive(detector, config, index)[0]


# ---------------------------------------------------------------- CLI

def check(manifest_path: str) -> int:
    """Compare raw little-endian frames listed in a manifest:
    {"cases": [{"detector", "config", "index", "file", "valid"}]}; prints a JSON summary."""
    with open(manifest_path) as fh:
        manifest = json.load(fh)
    failures = []
    for case in manifest["cases"]:
        det = case["detector"]
        expected, valid = receive(det, case["config"], case["index"])
        spec = DETECTORS[det]
        got = np.fromfile(case["file"], dtype=np.dtype(spec["dtype"]).newbyteorder("<")).reshape(spec["shape"])
        if valid != case["valid"]:
            failures.append({**case, "problem": f"valid flag: simref {valid}, server {case['valid']}"})
        elif not np.array_equal(expected, got):
            diff = np.flatnonzero(expected.reshape(-1) != got.reshape(-1))
            failures.append({**case, "problem": f"{diff.size} pixels differ, first at {int(diff[0])}: "
                             f"simref {int(expected.reshape(-1)[diff[0]])}, server {int(got.reshape(-1)[diff[0]])}"})
    print(json.dumps({"cases": len(manifest["cases"]), "failures": failures}))
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "check":
        return check(argv[1])
    if len(argv) >= 4 and argv[0] == "frame":
        det, index = argv[1], int(argv[2])
        config = json.loads(argv[3]) if len(argv) >= 5 else {}
        np.save(argv[-1], frame(det, config, index))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
