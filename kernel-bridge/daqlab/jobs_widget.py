"""``SlurmJobs()``: your Slurm jobs in the notebook (re-exported by ``daqlab.widgets``).

The view talks to the daqlab server on its own WebSocket, like the other daqlab widgets:
a live table of your jobs (state, exit code), cancel / hold / release buttons, the selected
job's stdout or stderr followed live, and a form that submits a template with parameters.
A server without a cluster says so. The same board is the JupyterLab "Jobs" side panel.
"""

from __future__ import annotations

import ipywidgets as W
from traitlets import Unicode

from .widgets import MODULE_NAME, MODULE_VERSION, browser_url

__all__ = ["SlurmJobs"]


class SlurmJobs(W.DOMWidget):
    """The jobs board of the server ``client`` is connected to (default: ``daqlab.connect()``);
    it acts as that client's token's user."""

    _model_name = Unicode("SlurmJobsModel").tag(sync=True)
    _view_name = Unicode("SlurmJobsView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    server_url = Unicode(help="address the browser uses (see daqlab.widgets.browser_url)").tag(sync=True)
    token = Unicode(help="token the view connects with: whose jobs it shows").tag(sync=True)

    def __init__(self, client=None, **kwargs):
        if client is None:
            from .client import connect

            client = connect()
        kwargs.setdefault("server_url", browser_url(client.url))
        if client._token:
            kwargs.setdefault("token", client._token)
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"SlurmJobs(server_url={self.server_url!r})"
