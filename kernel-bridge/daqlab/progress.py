"""Progress bars that work in notebooks (widgets) and terminals (text)."""

from __future__ import annotations

import warnings


def _tqdm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "IProgress not found" / experimental notebook mode
        from tqdm.auto import tqdm
    return tqdm


class AcqProgress:
    """A bar of frames acquired out of ``total`` (None: open-ended), with fps, invalid
    and dropped counts in the postfix."""

    def __init__(self, total: int | None, desc: str = ""):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.bar = _tqdm()(total=total or None, desc=desc, unit="frame", dynamic_ncols=True,
                               leave=True, mininterval=0.1)
        self._last = None

    def update(self, status: dict) -> None:
        counters = status.get("counters") or {}
        n = int(counters.get("nb_frames_acquired") or 0)
        fps = status.get("fps")
        post = {"fps": f"{fps:.1f}" if isinstance(fps, (int, float)) else "-",
                "invalid": int(counters.get("nb_frames_invalid") or 0),
                "dropped": int(counters.get("nb_frames_dropped") or 0)}
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
