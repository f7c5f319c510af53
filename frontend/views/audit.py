"""The audit page, for safeguarding leads and admins: who did what, with names instead of ids,
in local time, narrowed by person, group, concern, session, action and dates, and as a CSV
(each download recorded). Entries about a concern she may not see are not there at all;
anyone else gets 404."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from frontend.views._common import signed_in
from groups.policies import Action, can
from safeguarding import oversight
from safeguarding import services as safeguarding_services
from safeguarding.oversight import AUDIT_EXPORT_MAX, AUDIT_PAGE_ROWS, AuditFilters, AuditRow


def _number(raw: str, errors: dict[str, str], field: str, words: str) -> int | None:
    if not raw:
        return None
    if raw.isdigit() and len(raw) <= 18:
        return int(raw)
    errors[field] = words
    return None


def _day(raw: str, errors: dict[str, str], field: str, words: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = words
        return None


def _filters(request: HttpRequest, choices: dict[str, Any]) -> tuple[AuditFilters, dict, dict]:
    """The GET form, checked whole: (filters, what she chose, errors by field)."""
    raw = {
        key: request.GET.get(key, "").strip()
        for key in ("person", "group", "concern", "session", "action", "since", "until")
    }
    errors: dict[str, str] = {}
    people = {value for value, _label in choices["people"]} | {"0"}
    if raw["person"] and raw["person"] not in people:
        errors["person"] = _("Choose a person from the list.")
    groups = {value for value, _label in choices["groups"]}
    if raw["group"] and raw["group"] not in groups:
        errors["group"] = _("Choose a group from the list.")
    actions = {value for value, _label in choices["actions"]}
    if raw["action"] and raw["action"] not in actions:
        errors["action"] = _("Choose an action from the list.")
    concern = _number(raw["concern"], errors, "concern", _("A concern number is digits only."))
    session = _number(raw["session"], errors, "session", _("A session number is digits only."))
    since = _day(raw["since"], errors, "since", _("Give the first day as a date."))
    until = _day(raw["until"], errors, "until", _("Give the last day as a date."))
    if since and until and until < since:
        errors["until"] = _("The last day must be the same as or after the first day.")

    def start_of(day: date | None) -> datetime | None:
        return timezone.make_aware(datetime.combine(day, time.min)) if day else None

    filters = AuditFilters(
        person=int(raw["person"]) if raw["person"] and "person" not in errors else None,
        group=int(raw["group"]) if raw["group"] and "group" not in errors else None,
        concern=concern,
        session=session,
        action=raw["action"] if raw["action"] and "action" not in errors else None,
        since=start_of(since),
        until=start_of(until + timedelta(days=1)) if until else None,
    )
    return filters, raw, errors


def _csv(rows: list[AuditRow]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="haven-audit.csv"'
    oversight.audit_csv(rows, response)
    return response


@require_GET
@signed_in
def audit(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, Action.AUDIT_VIEW):
        raise Http404()
    choices = oversight.audit_choices(viewer=user)
    filters, chosen, errors = _filters(request, choices)
    if errors:
        context = {"choices": choices, "chosen": chosen, "errors": errors, "page": None}
        return render(request, "frontend/audit.html", context, status=400)
    entries = oversight.audit_filtered(viewer=user, filters=filters)
    if request.GET.get("format") == "csv":
        picked = list(entries[:AUDIT_EXPORT_MAX])
        safeguarding_services.audit_exported(
            actor=user,
            filters={key: value for key, value in chosen.items() if value},
            count=len(picked),
        )
        return _csv(oversight.audit_named(viewer=user, entries=picked))
    page = Paginator(entries, AUDIT_PAGE_ROWS).get_page(request.GET.get("page"))
    rows = oversight.audit_named(viewer=user, entries=list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "frontend/audit.html",
        {
            "choices": choices,
            "chosen": chosen,
            "errors": {},
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "zone": timezone.get_current_timezone_name(),
        },
    )
