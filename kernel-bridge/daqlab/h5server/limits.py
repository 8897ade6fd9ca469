"""What one request to the HDF5 viewer endpoints may cost: every response, read and wait is
bounded here, whatever the file declares (a few kB of HDF5 can declare terabytes of unwritten
chunks, millions of attribute values or gigabyte strings)."""
from __future__ import annotations

import os

#: `data` (binary): values sent when the request names no `max_pixels`; larger selections are binned
DEFAULT_MAX_PIXELS = 2**22
#: `data` (binary): the most values a request may ask for (`max_pixels` above it → 400)
MAX_PIXELS = 2**24
#: `data` (binary): the most bytes of values in one response (int64 travels as float64: 8 bytes a value)
MAX_RESPONSE_BYTES = 128 * 2**20
#: a selection whose raw size exceeds this is decimated with a strided read instead of binned
#: (binning holds the raw slice plus float64 sums in memory: a few times this, per request)
MAX_READ_BYTES = 64 * 2**20
#: datasets whose chunks are bigger than this are not read (one element costs a whole chunk)
MAX_CHUNK_BYTES = 256 * 2**20
#: `data?format=json`: the most values, and the most bytes they may occupy as stored
MAX_JSON_ELEMENTS = 10000
MAX_JSON_BYTES = 8 * 2**20
#: strings (values of attributes and datasets) longer than this are cut, and say so
MAX_STRING_CHARS = 4096
#: `meta`: children listed per group, attributes listed per object (more → `truncated`)
MAX_CHILDREN = 5000
MAX_ATTRS = 1000
#: `meta`: attribute values longer than this (elements) are summarised, not sent
MAX_ATTR_ELEMENTS = 256
#: `attrs` (values in full): above this many elements or bytes an attribute is summarised
MAX_ATTR_FULL_ELEMENTS = 100_000
MAX_ATTR_FULL_BYTES = 8 * 2**20
#: `meta`: the VDS mappings listed (all are counted); `data` refuses a VDS with more mappings
#: than MAX_VDS_CHECKED (every source is checked before HDF5 may open it)
MAX_VDS_SOURCES = 50
MAX_VDS_CHECKED = 100_000
#: links followed to reach one object (soft and external, as HDF5's own default limit)
MAX_LINK_HOPS = 16
#: files (external links, VDS sources) one request may open
MAX_OPEN_FILES = 256


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


#: seconds one request may read before it is answered 504 (`$DAQLAB_H5_TIMEOUT_S`)
READ_TIMEOUT_S = _env_float("DAQLAB_H5_TIMEOUT_S", 30.0)
#: reading threads, and requests admitted at once (queued or running); more → 503
WORKERS = 4
MAX_IN_FLIGHT = 32
