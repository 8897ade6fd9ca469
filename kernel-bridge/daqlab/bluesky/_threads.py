"""The daqlab client is blocking (its own reader thread); ophyd-async devices are coroutines on the
RunEngine's event loop. Every server call goes through a worker thread so the loop never blocks."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

T = TypeVar("T")


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


def client_of(client=None):
    """The daqlab client to use: given, else the one ``daqlab.scanning`` uses (``use``d or ``connect()``ed)."""
    from ..scanning import _client_of

    return _client_of([], client)
