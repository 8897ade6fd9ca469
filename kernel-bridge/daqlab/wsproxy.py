"""`<base_url>daqlab/ws`: the browser's WebSocket to the daqlab server, relayed for the user Jupyter authenticated.

jupyter-server-proxy's ``proxy/<port>/ws`` passes the browser's own headers on, so the daqlab server sees only
the token the browser holds: every Jupyter user would act for that token. This relay instead opens the
connection to the daqlab server itself, naming the user Jupyter authenticated (``X-Daqlab-User``) and proving
it may do so with the shared secret only the Jupyter server and the daqlab server hold
(``$DAQLAB_JUPYTER_SECRET``, daq-server/src/access/forwarded.ts). The daqlab server then decides every read,
subscription and logbook entry for that user (its ``--users`` entry of that name; none: the public).

Used when the secret is configured: :func:`daqlab.widgets.browser_url` and ``daqlab/config`` then point
browsers here and hand them no token. Messages are relayed as they come, text and binary, in both
directions; the daqlab server bounds what one connection may ask for, the relay adds nothing to it.
"""
from __future__ import annotations

from tornado import web, websocket
from tornado.httpclient import HTTPRequest

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin

from .h5server.access import SECRET_HEADER, USER_HEADER, secret, user_name

PATH = "daqlab/ws"
#: the largest message relayed (a frame of a large detector with its header)
MAX_MESSAGE = 256 * 1024 * 1024


def _upstream_url() -> str:
    from .client import resolve_url

    url, _, _ = resolve_url(None, token="")  # the daqlab server's address; never a token in it
    return url


class DaqlabSocketHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """One browser connection, relayed to one daqlab connection opened for its Jupyter user."""

    upstream: websocket.WebSocketClientConnection | None = None

    def get_compression_options(self):
        return None  # frames are compressed by daqlab already (or are not worth it)

    async def get(self, *args, **kwargs):
        # authenticated as every Jupyter endpoint is; the Origin check is WebSocketMixin's (Jupyter's own rules)
        if self.current_user is None:
            raise web.HTTPError(403, "no Jupyter user")
        shared = secret()
        if not shared:
            raise web.HTTPError(404, "daqlab/ws relays for Jupyter users only with $DAQLAB_JUPYTER_SECRET set")
        request = HTTPRequest(_upstream_url(), headers={USER_HEADER: user_name(self.current_user), SECRET_HEADER: shared},
                              connect_timeout=10, request_timeout=10)
        try:
            self.upstream = await websocket.websocket_connect(request, on_message_callback=self._from_daqlab,
                                                              max_message_size=MAX_MESSAGE)
        except Exception as exc:  # refused or unreachable: the browser sees why, never the secret
            code = getattr(exc, "code", 502)
            raise web.HTTPError(code if code in (401, 403) else 502, f"the daqlab server refused or did not answer: {exc}")
        await super().get(*args, **kwargs)

    def _from_daqlab(self, message) -> None:
        if message is None:  # the daqlab server closed
            if self.ws_connection is not None:
                self.close()
            return
        if self.ws_connection is None:
            return
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            pass

    def on_message(self, message) -> None:
        if self.upstream is not None:
            self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
