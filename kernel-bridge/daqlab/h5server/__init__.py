"""The daqlab HDF5/NeXus viewer's server side: a Jupyter server extension that reads HDF5
files under the server's root directory with h5py and serves them to h5web in JupyterLab
through the h5grove API (`GROVE_PREFIX`), and structure, attributes, the NeXus default plot
and (binned) hyperslabs through daqlab's own endpoints (`PREFIX`).

Enabled by `etc/jupyter/jupyter_server_config.d/daqlab.json` (shipped in the wheel); by
hand: `jupyter server --ServerApp.jpserver_extensions='{"daqlab.h5server": True}'`.
"""
from __future__ import annotations

#: the URL prefix under the Jupyter base URL
PREFIX = "daqlab/h5"
#: the h5grove API's prefix (extension/src/h5viewer/fetcher.ts GROVE_PREFIX)
GROVE_PREFIX = "daqlab/h5grove"


def _jupyter_server_extension_points():
    return [{"module": "daqlab.h5server"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.utils import url_path_join

    from .handlers import GROVE_ROUTES, POOL, ROUTES

    base = serverapp.web_app.settings["base_url"]
    from ..labconfig import PATH as CONFIG_PATH, LabConfigHandler

    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, PREFIX, name), cls) for name, cls in ROUTES])
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, GROVE_PREFIX, name), cls) for name, cls in GROVE_ROUTES])
    # the side panels ask where the daqlab server is (daqlab/labconfig.py)
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, CONFIG_PATH), LabConfigHandler)])
    # with $DAQLAB_JUPYTER_SECRET: the secret stays in this process, browsers connect through the relay
    # that acts for their Jupyter user (daqlab/wsproxy.py)
    from .access import take_secret
    from ..wsproxy import PATH as WS_PATH, DaqlabSocketHandler

    take_secret()
    from .access import secret

    if secret():
        # Jupyter's own /files and /api/contents follow the same decision as the HDF5 endpoints
        from .contents_guard import guard_contents, guard_files_handler

        guard_contents(serverapp.contents_manager, serverapp.log)
        files_handler = getattr(serverapp.contents_manager, "files_handler_class", None)
        if files_handler is not None:
            guard_files_handler(serverapp.web_app, files_handler, serverapp.log)
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, WS_PATH), DaqlabSocketHandler)])
    serverapp.log.info("daqlab HDF5 viewer endpoints at %s", url_path_join(base, PREFIX))
    if getattr(serverapp, "io_loop", None) is not None:  # one reading process ready before the first view
        serverapp.io_loop.add_callback(POOL.prestart)


# the older name jupyter_server still looks for
load_jupyter_server_extension = _load_jupyter_server_extension
