"""daqlab: drive the daqlab acquisition server from Python (Jupyter notebooks).

>>> import daqlab
>>> client = daqlab.connect()                       # $DAQLAB_URL, else ws://127.0.0.1:8765/ws
>>> det = client.detector(client.detectors()[0])
>>> acq = det.prepare(acquisition={"nb_frames": 100})
>>> acq.start().wait()                              # progress bar; AcqResult; FaultError on failure
>>> frames = acq.scan.streams["frame"]
>>> frames[0], frames[-1], frames[10:20]            # numpy arrays
>>> for batch in frames.cursor():                   # follow a running scan
...     process(batch.data)
"""

from . import geometry, jobs, policy
from ._arrow import Batch
from ._connection import ServerUnreachable
from .acquisition import Acquisition, AcqResult
from .client import Client, connect
from .detector import Detector
from .errors import (
    AuthError,
    DaqlabError,
    DaqlabWarning,
    DataGapWarning,
    DroppedFramesWarning,
    FaultError,
    FrameRateWarning,
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
    public_api,
)
from .saved import SavedEventStream, SavedScan, SavedStream, open_master
from .batch import open_derived
from .scans import Scan, Scans
from .streams import Cursor, Stream

# errors the server reports surface at the call the user made, without the client's internal frames
public_api(Client)
public_api(Stream)

__version__ = "0.1.0"

__all__ = [
    "connect", "Client", "Detector", "Acquisition", "AcqResult", "Scans", "Scan", "Stream", "Cursor", "Batch",
    "DaqlabError", "ParameterError", "StateError", "StreamIndexError", "IndexNoMoreThereError",
    "IndexNotYetThereError", "IndexWontBeThereError", "NotFoundError", "ProtocolError", "AuthError",
    "TimeoutError", "FaultError", "ServerError", "ServerUnreachable", "DaqlabWarning", "DataGapWarning",
    "DroppedFramesWarning", "FrameRateWarning", "geometry", "__version__",
    "open_master", "SavedScan", "SavedStream", "SavedEventStream", "widgets",
    "open_derived", "policy",
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
