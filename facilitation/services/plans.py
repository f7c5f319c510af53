"""Session plans: the agenda a host prepares, replaced whole."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from facilitation.models import PlanItem, PlanItemKind, Session, SessionStatus
from facilitation.services.sessions import title_clean
from facilitation.taxonomy import clean_warning_list
from groups.models import User
from groups.policies import Action, require
from project.audit import audit_record
from project.exceptions import Conflict, ValidationFailed
from project.text import clean_text

PLAN_MAX_ITEMS = 30
PLAN_ITEM_MINUTES_MAX = 240
PLAN_NOTES_MAX = 2000


def _clean_plan(items: Any, kept: frozenset[str]) -> list[dict[str, Any]]:
    """The items, checked; `kept`: the content warnings the plan already had (a retired
    category may stay where it was)."""
    if not isinstance(items, list):
        raise ValidationFailed({"items": [_("Give a list of agenda items.")]})
    if len(items) > PLAN_MAX_ITEMS:
        raise ValidationFailed(
            {"items": [_("Use at most %(max)d items.") % {"max": PLAN_MAX_ITEMS}]}
        )
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, dict):
            raise ValidationFailed({where: [_("Each item needs a title, kind and minutes.")]})
        title = title_clean(item.get("title"), f"{where}.title")
        if item.get("kind") not in PlanItemKind.values:
            raise ValidationFailed({f"{where}.kind": [_("Unknown kind of item.")]})
        minutes = item.get("minutes")
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 1 <= minutes <= PLAN_ITEM_MINUTES_MAX
        ):
            raise ValidationFailed(
                {
                    f"{where}.minutes": [
                        _("Between 1 and %(max)d minutes.") % {"max": PLAN_ITEM_MINUTES_MAX}
                    ]
                }
            )
        notes = clean_text(
            item.get("notes"), field=f"{where}.notes", max_length=PLAN_NOTES_MAX, required=False
        )
        cleaned.append(
            {
                "title": title,
                "kind": item["kind"],
                "minutes": minutes,
                "notes": notes,
                "content_warnings": clean_warning_list(
                    item.get("content_warnings"), f"{where}.content_warnings", kept=kept
                ),
            }
        )
    return cleaned


@transaction.atomic
def plan_replace(*, actor: User, session: Session, items: Any) -> list[PlanItem]:
    """Replace the whole plan at once: every item is stored, or none is."""
    require(actor, Action.SESSION_HOST, session=session, visible=Action.SESSION_VIEW)
    session = Session.objects.select_for_update().get(pk=session.pk)
    had = PlanItem.objects.filter(session=session).values_list("content_warnings", flat=True)
    cleaned = _clean_plan(items, frozenset(key for keys in had for key in keys))
    if session.status == SessionStatus.ENDED:
        raise Conflict(_("This session has ended and can no longer change."), code="ended")
    PlanItem.objects.filter(session=session).delete()
    rows = PlanItem.objects.bulk_create(
        PlanItem(session=session, position=position, **item)
        for position, item in enumerate(cleaned)
    )
    audit_record(
        actor=actor,
        action="plan.replaced",
        target=session,
        group_id=session.group_id,
        extra={"items": len(rows)},
    )
    return rows
