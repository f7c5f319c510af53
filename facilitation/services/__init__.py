"""Writes of the facilitation app, one module per sub-domain (ARCHITECTURE.md "Layout").

Every public name is re-exported here, so callers import `facilitation.services.X` whatever
module it lives in. Imports inside run one way: consumers → delivery → services → (sql, log)
→ events → models; the room's modules share their lookups through `services.context`.
"""

from facilitation.log import event_append, events_replay
from facilitation.selectors import preferences_effective
from facilitation.services.context import (
    PRESENCE_WINDOW,
    Beat,
    RoomContext,
    RoomRefused,
    active_round,
    host_session,
    participant_get,
)
from facilitation.services.limits import FRAME_LIMITS, FrameLimiter, frame_limiter
from facilitation.services.messages import (
    BODY_MAX,
    RATE_LIMIT_MESSAGES,
    RATE_LIMIT_WINDOW,
    RecentPosts,
    Verdict,
    message_post,
    message_post_fast,
    message_send,
    post_verdict,
    rate_limited,
)
from facilitation.services.moderation import (
    MUTE_MINUTES_MAX,
    MUTE_MINUTES_MIN,
    REASON_MAX,
    member_mute,
    member_remove_from_session,
    member_unmute,
    message_hide,
    message_set_warning,
)
from facilitation.services.plans import (
    PLAN_ITEM_MINUTES_MAX,
    PLAN_MAX_ITEMS,
    PLAN_NOTES_MAX,
    plan_replace,
)
from facilitation.services.preferences import preferences_update
from facilitation.services.room import (
    SOCKETS_PER_MEMBER,
    SUPPORT_NOTE_MAX,
    BeatAnswer,
    presence_set,
    room_channel_groups,
    room_enter,
    room_leave,
    room_rights,
    room_touch_many,
    support_request,
)
from facilitation.services.rounds import (
    ROUND_PROMPT_MAX,
    round_end,
    round_pass_for,
    round_start,
    round_state,
    round_take_turn,
)
from facilitation.services.sessions import (
    SESSION_MAX_LENGTH,
    SESSION_TITLE_MAX,
    STATUS_NOTE_MAX,
    TRANSITIONS,
    room_set_status,
    session_create,
    session_set_status,
    session_update,
    title_clean,
)
from facilitation.taxonomy import CW_COLLAPSE, CW_NOTE_MAX, CW_SHOW

__all__ = [
    "BODY_MAX",
    "CW_COLLAPSE",
    "CW_NOTE_MAX",
    "CW_SHOW",
    "FRAME_LIMITS",
    "MUTE_MINUTES_MAX",
    "MUTE_MINUTES_MIN",
    "PLAN_ITEM_MINUTES_MAX",
    "PLAN_MAX_ITEMS",
    "PLAN_NOTES_MAX",
    "PRESENCE_WINDOW",
    "RATE_LIMIT_MESSAGES",
    "RATE_LIMIT_WINDOW",
    "REASON_MAX",
    "ROUND_PROMPT_MAX",
    "SESSION_MAX_LENGTH",
    "SESSION_TITLE_MAX",
    "SOCKETS_PER_MEMBER",
    "STATUS_NOTE_MAX",
    "SUPPORT_NOTE_MAX",
    "TRANSITIONS",
    "Beat",
    "BeatAnswer",
    "FrameLimiter",
    "RecentPosts",
    "RoomContext",
    "RoomRefused",
    "Verdict",
    "active_round",
    "event_append",
    "events_replay",
    "frame_limiter",
    "host_session",
    "member_mute",
    "member_remove_from_session",
    "member_unmute",
    "message_hide",
    "message_post",
    "message_post_fast",
    "message_send",
    "message_set_warning",
    "participant_get",
    "plan_replace",
    "post_verdict",
    "preferences_effective",
    "preferences_update",
    "presence_set",
    "rate_limited",
    "room_channel_groups",
    "room_enter",
    "room_leave",
    "room_rights",
    "room_set_status",
    "room_touch_many",
    "round_end",
    "round_pass_for",
    "round_start",
    "round_state",
    "round_take_turn",
    "session_create",
    "session_set_status",
    "session_update",
    "support_request",
    "title_clean",
]
