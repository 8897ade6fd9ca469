"""A Jupyter identity provider for tests: several users behind one `jupyter server`, each with a token
(`$TEST_JUPYTER_USERS`, JSON {"<token>": "<user name>"}). It fills the slot JupyterHub's own provider
fills in a hub's single-user servers (`ServerApp.identity_provider_class`): the handlers see
`current_user.username` exactly as they would there."""
from __future__ import annotations

import json
import os

from jupyter_server.auth.identity import IdentityProvider, User


class TokenUsers(IdentityProvider):
    def get_user(self, handler):
        users = json.loads(os.environ.get("TEST_JUPYTER_USERS", "{}"))
        auth = handler.request.headers.get("Authorization", "")
        token = auth.split(None, 1)[1] if auth.lower().startswith("token ") else None
        name = users.get(token) if token else None
        if name:
            handler._token_authenticated = True  # as Jupyter's own tokens: no XSRF cookie to show
        return User(username=name) if name else None
