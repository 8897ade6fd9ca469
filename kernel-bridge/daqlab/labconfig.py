"""`GET <base_url>daqlab/config`: where this Jupyter server's daqlab server is, for the side panels.

The answer comes from the Jupyter server's own environment: ``$DAQLAB_URL`` (``npm start`` sets it,
whatever ``DAQLAB_PORT`` is) and ``$DAQLAB_TOKEN``, turned into the address a browser uses exactly as
the widgets do (:func:`daqlab.widgets.browser_url`: ``proxy/<port>/ws`` for a loopback server). Without
``$DAQLAB_URL`` it says so (``server_url: null``) and the panels fall back to their settings.
Registered by the daqlab server extension (``daqlab.h5server``'s loader).
"""
from __future__ import annotations

import json
import os

from jupyter_server.base.handlers import APIHandler
from tornado import web

PATH = "daqlab/config"


def lab_config(environ: dict | None = None) -> dict:
    """The panels' server address and token from an environment (default: this process's)."""
    env = os.environ if environ is None else environ
    url = env.get("DAQLAB_URL")
    if not url:
        return {"server_url": None, "token": None}
    from .h5server.access import secret
    from .widgets import browser_url

    if environ is None and secret():
        # browsers go through the relay that acts for their Jupyter user (wsproxy.py): they need no token
        from .wsproxy import PATH

        return {"server_url": PATH, "token": None}
    return {"server_url": browser_url(url), "token": env.get("DAQLAB_TOKEN") or None}


class LabConfigHandler(APIHandler):
    # the answer may carry a token: only for users Jupyter authenticated
    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(lab_config()))
