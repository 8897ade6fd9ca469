"""Progress bars that work in notebooks (widgets) and terminals (text)."""

from __future__ import annotations

import warnings


def _tqdm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "IProgress not found" / experimental notebook mode
        from tqdm.auto import tqdm
    return tqdm


#: tqdm's own rate is left out: the one rate shown is the server's ``fps`` (see ``AcqProgress``)
_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_FORMAT_CONTINUOUS = "{desc}: {n_fmt} frames, continuous until stop() [{elapsed}{postfix}]"


class AcqProgress:
    """A bar of frames acquired out of ``total`` (None: continuous, until stop()), with one
    rate, ``fps``: the server's frames acquired per second over the last second while
    running, and the average over the run (frames acquired / elapsed) once it has stopped,
    so the last number shown agrees with the totals. Invalid and dropped counts (dropped
    with their percentage) are in the postfix."""

    def __init__(self, total: int | None, desc: str = ""):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.bar = _tqdm()(total=total or None, desc=desc, unit="frame", dynamic_ncols=True,
                               leave=True, mininterval=0.1,
                               bar_format=_FORMAT if total else _FORMAT_CONTINUOUS)
        self._last = None

    def update(self, status: dict) -> None:
        counters = status.get("counters") or {}
        n = int(counters.get("nb_frames_acquired") or 0)
        fps = status.get("fps")
        dropped = int(counters.get("nb_frames_dropped") or 0)
        post = {"fps": f"{fps:.1f}" if isinstance(fps, (int, float)) else "-",
                "invalid": int(counters.get("nb_frames_invalid") or 0),
                "dropped": f"{dropped} ({100 * dropped / n:.1f} %)" if dropped and n else dropped}
        if counters.get("nb_frames_saved"):
            post["saved"] = int(counters["nb_frames_saved"])
        state = status.get("state")
        if state and state not in ("RUNNING",):
            post["state"] = state
        key = (n, tuple(post.items()))
        if key == self._last:
            return
        self._last = key
        if self.bar.total is not None and n > self.bar.total:
            self.bar.total = n
        self.bar.n = n
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
