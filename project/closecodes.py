"""The WebSocket close codes of PROTOCOL.md, named once; every module that closes a socket
uses these names (the services that decide, the consumer that closes, the heartbeat)."""

from __future__ import annotations

from typing import Final

# Not signed in, signed out, or the token was revoked.
NOT_SIGNED_IN: Final = 4401
# Not (or no longer) a member of the group, or removed from this session.
FORBIDDEN: Final = 4403
# No such session, or one she may not see: the two are never told apart.
NO_SESSION: Final = 4404
# The group's current agreement is not accepted yet.
AGREEMENT: Final = 4409
# The session is not open (ended, or scheduled and she is not a host).
NOT_OPEN: Final = 4410
# "Try again later": the database is unavailable. WebSocket 1013 says the same, but servers
# may not send it through Daphne, so it lives in the application range.
TRY_AGAIN: Final = 4503
# Too many live connections of one member to one session (HAVEN_SOCKETS_PER_MEMBER).
TOO_MANY: Final = 4429
