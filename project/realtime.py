"""The only module that talks to the channel layer.

Services call `broadcast_on_commit` with a group name and an event; the event is serialised
to JSON once, here, and consumers forward that text as it is (ARCHITECTURE.md rule 9). Private
events go to per-member or per-user groups, never through a session group (rule 5).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Channel-layer message type handled by every consumer: forward `text` to the socket.
FORWARD = "haven.forward"
# Channel-layer message type asking a consumer to close its socket with `code`.
CLOSE = "haven.close"


def user_group(user_id: int) -> str:
    """Every live connection of one account (logout, deactivation close them all)."""
    return f"user.{user_id}"


def member_group(member_id: int) -> str:
    """Every live connection of one membership (mute, removal, private notices)."""
    return f"member.{member_id}"


def token_group(token_id: int) -> str:
    """Every live connection opened with one API token (revoking it closes them)."""
    return f"token.{token_id}"


def auth_session_group(session_key: str) -> str:
    """Every live connection opened with one signed-in browser session (logout closes them)."""
    digest = hashlib.sha256(session_key.encode("utf-8")).hexdigest()[:32]
    return f"authsession.{digest}"


def dumps(event: dict[str, Any]) -> str:
    """Serialise an event once; raises for anything that is not plain JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def send_now(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the durable log, not the layer, is the source of truth
        # The fast path failed (Redis down, channel full). Clients recover with `resume`.
        logger.warning("realtime: broadcast to a group failed; clients will resume")


def forward_message(event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message carrying `event`, serialised once for every recipient.

    Durable events also carry their `seq` beside the text, so consumers can keep order and
    fill gaps without parsing the JSON again.
    """
    message: dict[str, Any] = {"type": FORWARD, "text": dumps(event)}
    if "seq" in event:
        message["seq"] = event["seq"]
    return message


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to every connection in `group` once the current transaction commits."""
    message = forward_message(event)
    transaction.on_commit(lambda: send_now(group, message))


def close_on_commit(group: str, code: int) -> None:
    """Close every connection in `group` with `code` once the current transaction commits."""
    message = {"type": CLOSE, "code": code}
    transaction.on_commit(lambda: send_now(group, message))
