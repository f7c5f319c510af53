"""Private notices: what a host did about one member, told to her alone and kept.

A notice is stored (its reason encrypted) and sent to her participant group after commit;
`resume` and her room page read the ones that still stand (`selectors.notices_active`), so a
reload or a reconnect never loses why her message was hidden or why she cannot post. Never
through the session group (ARCHITECTURE.md rule 5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from facilitation import events
from facilitation.models import Message, NoticeCode, PrivateNotice, Session
from facilitation.services.context import RoomContext
from groups.models import Membership, User
from project import languages, realtime
from project.exceptions import NotFound, parse_id

# A mute's notice and an unmute's supersede the earlier ones of hers in the session.
MUTE_CODES = (NoticeCode.MUTED, NoticeCode.UNMUTED)


def notice_send(
    *,
    session: Session,
    recipient_id: int,
    code: str,
    by: Membership | None,
    reason: str = "",
    until: datetime | None = None,
    message: Message | None = None,
) -> None:
    """Store a notice for one member and send it to her alone after commit (in the caller's
    transaction). A host is not told about what she did to herself. A mute or an unmute
    dismisses her earlier mute and unmute notices of this session."""
    if by is not None and by.pk == recipient_id:
        return
    if code in MUTE_CODES:
        _dismiss(
            PrivateNotice.objects.filter(
                session=session, recipient_id=recipient_id, code__in=MUTE_CODES
            ),
            session_id=session.pk,
            recipient_id=recipient_id,
        )
    row = PrivateNotice.objects.create(
        session=session,
        recipient_id=recipient_id,
        code=code,
        by=by,
        reason=reason,
        until=until,
        message=message,
    )
    # In her language, not the host's: the language kept on her account (issue 18).
    chosen = (
        Membership.objects.filter(pk=recipient_id).values_list("user__language", flat=True).first()
    )
    with translation.override(languages.supported(chosen) or translation.get_language()):
        event = events.notice_from_row(row)
    realtime.broadcast_on_commit(events.participant_group(session.pk, recipient_id), event)


def _dismiss(rows: Any, *, session_id: int, recipient_id: int) -> None:
    """Dismiss the standing notices among `rows`; every tab of hers drops them."""
    standing = list(rows.filter(dismissed_at__isnull=True).values_list("pk", flat=True))
    if not standing:
        return
    PrivateNotice.objects.filter(pk__in=standing).update(dismissed_at=timezone.now())
    group = events.participant_group(session_id, recipient_id)
    for pk in standing:
        realtime.broadcast_on_commit(group, events.notice_dismissed(notice_id=pk))


@transaction.atomic
def notice_dismiss(*, actor: User, context: RoomContext, notice_id: Any) -> None:
    """She has read a notice of hers (`notice.dismiss`): it no longer comes back. Someone
    else's notice, or none at all, is not found."""
    pk = parse_id(notice_id)
    rows = PrivateNotice.objects.filter(
        pk=pk, session_id=context.session_id, recipient_id=context.member_id
    )
    if not rows.exists():
        raise NotFound()
    # Already dismissed (another tab): answered all the same, so every tab agrees.
    rows.filter(dismissed_at__isnull=True).update(dismissed_at=timezone.now())
    realtime.broadcast_on_commit(
        events.participant_group(context.session_id, context.member_id),
        events.notice_dismissed(notice_id=pk),
    )
