"""WebSocket routes of every app, gathered for `project.asgi`."""

from __future__ import annotations

from facilitation.routing import websocket_urlpatterns as facilitation_routes

websocket_urlpatterns = [*facilitation_routes]
