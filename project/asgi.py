"""ASGI entry point: Django for HTTP, Channels for the live room (Channels docs, verbatim order).

`get_asgi_application()` runs before anything imports models or consumers.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from groups.authentication import TokenOrSessionAuthMiddleware  # noqa: E402
from project.clientip import ClientAddressMiddleware  # noqa: E402
from project.origin import SameOriginValidator  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402

# The client's address is settled once, before anything reads it (project/clientip.py).
application = ClientAddressMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SameOriginValidator(
                AllowedHostsOriginValidator(
                    TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
                )
            ),
        }
    )
)
