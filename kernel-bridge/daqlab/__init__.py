"""daqlab: drive the daqlab acquisition server from Python (Jupyter notebooks).

>>> import daqlab
>>> client = daqlab.connect()                       # $DAQLAB_URL, else ws://127.0.0.1:8765/ws
>>> det = client.detector(client.detectors()[0])
>>> acq = det.prepare(acquisition={"nb_frames": 100})
>>> acq.start().wait()                              # progress bar; FaultError on failure
>>> frames = acq.scan.streams["frame"]
>>> frames[0], frames[-1], frames[10:20]            # numpy arrays
>>> for batch in frames.cursor():                   # follow a running scan
...     process(batch.data)
"""

from . import geometry, jobs
from ._arrow import Batch
from .acquisition import Acquisition
from .client import Client, connect
from .detector import Detector
from .errors import (
    AuthError,
    DaqlabError,
    DataGapWarning,
    FaultError,
    IndexNoMoreThereError,
    IndexNotYetThereError,
    IndexWontBeThereError,
    LimitError,
    NotFoundError,
    ParameterError,
    ProtocolError,
    ServerError,
    SlurmUnavailable,
    StateError,
    StreamIndexError,
    TimeoutError,
)
from .saved import SavedEventStream, SavedScan, SavedStream, open_master
from .batch import open_derived
from .scans import Scan, Scans
from .streams import Cursor, Stream

__version__ = "0.1.0"

__all__ = [
    "connect", "Client", "Detector", "Acquisition", "Scans", "Scan", "Stream", "Cursor", "Batch",
    "DaqlabError", "ParameterError", "StateError", "StreamIndexError", "IndexNoMoreThereError",
    "IndexNotYetThereError", "IndexWontBeThereError", "NotFoundError", "ProtocolError", "AuthError",
    "TimeoutError", "FaultError", "ServerError", "DataGapWarning", "geometry", "__version__",
    "open_master", "SavedScan", "SavedStream", "SavedEventStream", "widgets",
    "open_derived",
    "jobs", "LimitError", "SlurmUnavailable",
]


def __getattr__(name: str):
    # `daqlab.widgets` (ipywidgets) is imported on first use: `import daqlab` stays light
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module 'daqlab' has no attribute {name!r}")


def _jupyter_labextension_paths():
    """Where `jupyter labextension develop` finds the prebuilt JupyterLab extension."""
    return [{"src": "labextension", "dest": "@daqlab/jupyterlab"}]
