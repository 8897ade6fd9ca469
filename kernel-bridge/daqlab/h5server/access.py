"""Who may read which file through the HDF5 endpoints: asked of the daqlab server, never decided here.

The daqlab server holds the one set of rules (its catalogue: proposals, teams, staff, embargo dates;
daq-server/src/access/) and answers `GET /access/path?path=ABS` for the user Jupyter authenticated,
which this extension asserts with a shared secret that only it holds (``$DAQLAB_JUPYTER_SECRET``, on
both sides; never the connection token, which Jupyter hands to browsers). Rules copied into Python would
drift from the server's (and the catalogue's database is the server's), so there is one definition.

Without ``$DAQLAB_JUPYTER_SECRET`` nothing is asked: a single-user Jupyter reads what its root holds, as
before. With it, a daqlab server that does not answer refuses the read (503): fail closed.
"""
from __future__ import annotations

import json
import os
from urllib.parse import urlencode, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

SECRET_ENV = "DAQLAB_JUPYTER_SECRET"
USER_HEADER = "X-Daqlab-User"  # daq-server/src/access/forwarded.ts
SECRET_HEADER = "X-Daqlab-Jupyter-Secret"
ACCESS_PATH = "/access/path"  # daq-server/src/api/access-http.ts
TIMEOUT_S = 10.0


_secret: str | None = None


def take_secret() -> None:
    """At the extension's load: keep the secret in this process only, out of the environment that kernels
    (users' code) inherit, and point browsers at the relay that acts for their Jupyter user (wsproxy.py)."""
    global _secret
    value = os.environ.pop(SECRET_ENV, None)
    if value:
        _secret = value
        from ..widgets import BROWSER_URL_ENV
        from ..wsproxy import PATH

        os.environ.setdefault(BROWSER_URL_ENV, PATH)


def secret() -> str | None:
    """The shared secret (taken at load, else still in the environment: tests that call in directly)."""
    return _secret or os.environ.get(SECRET_ENV) or None


class Undecided(Exception):
    """The daqlab server could not be asked (HTTP 503: refused, never guessed)."""


def _endpoint() -> str:
    from ..client import resolve_url

    url, _, _ = resolve_url(None, token="")  # token="": never the connection token
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}[parts.scheme]
    return urlunsplit((scheme, parts.netloc, ACCESS_PATH, "", ""))


def user_name(current_user) -> str:
    """The name Jupyter authenticated (jupyter_server 2's User, or the older str/dict)."""
    if isinstance(current_user, str):
        return current_user
    if isinstance(current_user, dict):
        return str(current_user.get("name", ""))
    return str(getattr(current_user, "username", "") or getattr(current_user, "name", ""))


async def may_read(current_user, full_path: str) -> bool:
    """True when `current_user` may read the file at `full_path` (absolute, links resolved)."""
    shared = secret()
    if not shared:
        return True
    url = f"{_endpoint()}?{urlencode({'path': full_path})}"
    req = HTTPRequest(url, method="GET", request_timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S,
                      headers={USER_HEADER: user_name(current_user), SECRET_HEADER: shared})
    try:
        resp = await AsyncHTTPClient().fetch(req)
        answer = json.loads(resp.body)
    except HTTPClientError as e:
        raise Undecided(f"the daqlab server refused to decide (HTTP {e.code})") from None
    except (OSError, ValueError) as e:
        raise Undecided(f"the daqlab server that decides who may read files does not answer ({type(e).__name__})") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("readable"), bool):
        raise Undecided("the daqlab server's answer about who may read files is not understood")
    return answer["readable"]
