"""My groups, a group's page and its actions (agreement, roster, invites, sessions),
and on it "Ask for support" and the private thread with the hosts (issue 15); the new-invite
page that shows codes once, the pause-or-remove confirmation and a member's record for staff
(issue 16)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from facilitation import selectors as session_selectors
from facilitation import services as session_services
from facilitation.agreements import agreement_admits_to
from facilitation.models import SessionKind, SessionStatus, SupportKind
from facilitation.services.private import PRIVATE_BODY_MAX
from facilitation.services.support import ASKED_KINDS, SUPPORT_NOTE_MAX
from facilitation.taxonomy import categories
from frontend.views._common import _error_text, _flash_errors, _local_datetime, signed_in
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import GroupRole
from groups.policies import Action, can, group_for
from project.exceptions import ApplicationError, ValidationFailed
from project.organisation import urgent_help


@signed_in
@require_http_methods(["GET", "POST"])
def groups(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        created: dict[str, Any] = {}

        def create() -> None:
            created["group"] = group_services.group_create(
                actor=user,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                display_name=request.POST.get("display_name", ""),
            )

        if _flash_errors(request, create, _("Group created.")):
            return redirect("group", group_id=created["group"].pk)
        return redirect("groups")
    # First: reading her decisions lifts a pause whose date has passed, so the list has the group.
    decisions = group_selectors.decisions_for_me(viewer=user)
    rows = [
        group_selectors.group_row(g)
        for g in group_selectors.group_list_with_membership(viewer=user)
    ]
    joined = group_selectors.joined_recently_counts(viewer=user, groups=rows)
    # Issue 17: groups she is taking a break from fold away under their own heading.
    resting = [row.group for row in rows if getattr(row.membership, "on_break", False)]
    rows = [row for row in rows if not getattr(row.membership, "on_break", False)]
    return render(
        request,
        "frontend/groups.html",
        {
            "rows": [(row.group, row.membership, joined.get(row.group.pk, 0)) for row in rows],
            "resting": resting,
            "can_create": can(user, Action.GROUP_CREATE),
            # Issue 16: a pause (until when) or a removal, with the facilitators' message.
            "decisions": decisions,
        },
    )


def _group_context(request: HttpRequest, group: Any, thread: Any = None) -> dict[str, Any]:
    user = request.user
    view = group_selectors.group_view(viewer=user, group=group)
    membership = view.membership
    try:
        agreement, accepted = group_selectors.agreement_view(viewer=user, group=group)
    except ApplicationError:
        agreement, accepted = None, False
    is_facilitator = can(user, Action.GROUP_UPDATE, group=group, membership=membership)
    # Labels for every category (a session may carry a retired one); the retired are not offered.
    shown_warnings = categories()
    context: dict[str, Any] = {
        "group": group,
        "membership": membership,
        "agreement": agreement,
        "accepted": accepted,
        "is_facilitator": is_facilitator,
        "can_see_roster": can(user, Action.ROSTER_VIEW, group=group, membership=membership),
        "sessions": [],
        "cw_labels": {c.key: c.label for c in shown_warnings},
        "session_kinds": SessionKind.choices,
        "invite_roles": [
            (GroupRole.MEMBER, _("Member")),
            (GroupRole.PEER_MENTOR, _("Peer mentor")),
        ],
        "roles": GroupRole.choices,
        "expiry_days": group_services.INVITE_EXPIRY_DAYS,
        "label_max": group_services.INVITE_LABEL_MAX,
        "batch_size": group_services.INVITE_BATCH_SIZE,
        "content_warnings": [
            (c.key, c.label, c.description) for c in shown_warnings if not c.retired
        ],
    }
    if can(user, Action.SESSION_VIEW, group=group, membership=membership):
        listed = list(session_selectors.session_list(viewer=user, group=group))
        context["sessions"] = [s for s in listed if s.status != SessionStatus.ENDED]
        if is_facilitator:
            # The last few that ended, to follow up on how people were (issue 15).
            ended = [s for s in listed if s.status == SessionStatus.ENDED]
            context["past_sessions"] = ended[-5:][::-1]
    if membership is not None and context["sessions"]:
        # Issue 16: the agreement rule at each session's door (a version published after a
        # session opened does not apply to it); "Read the agreement" leads to the room's door.
        admits = agreement_admits_to(membership, context["sessions"])
        context["needs_accept"] = {pk for pk, ok in admits.items() if not ok}
    if context["can_see_roster"]:
        context["roster"] = group_selectors.roster_list(viewer=user, group=group)
    if can(user, Action.ACCEPTANCES_VIEW, group=group, membership=membership):
        context["acceptances"] = group_selectors.acceptance_list(viewer=user, group=group)
        current = agreement.version if agreement else None
        context["accepted_count"] = sum(
            1 for a in context["acceptances"] if current and a["accepted_version"] == current
        )
    if is_facilitator:
        context["invites"] = group_selectors.invite_list(viewer=user, group=group)[:20]
        context["joined_recently"] = group_selectors.joined_recently(viewer=user, group=group)
    if can(user, Action.MEMBER_REINSTATE, group=group, membership=membership):
        context["members_away"] = group_selectors.members_away(viewer=user, group=group)
    context["reads_history"] = can(user, Action.MEMBER_HISTORY, group=group, membership=membership)
    if membership is not None:
        context["proposals"] = group_selectors.proposal_list(viewer=user, group=group)
    if can(user, Action.AGREEMENT_PUBLISH, group=group, membership=membership):
        # Issue 16: the points adopted since the current version, in the next one's draft.
        context["drafted"] = group_selectors.agreement_drafted(viewer=user, group=group)
    context.update(_support_context(request, group, membership, thread))
    context["checklist"] = _first_run_checklist(user, membership, accepted, context["sessions"])
    return context


def _first_run_checklist(
    user: Any, membership: Any, accepted: bool, sessions: list[Any]
) -> dict[str, Any] | None:
    """Issue 17: her first steps in the group (the agreement, her content-warning choices, What
    to expect, the next session), shown until the first three are done."""
    if membership is None or membership.role == GroupRole.FACILITATOR:
        return None
    chose_warnings = bool((getattr(user, "preferences", None) or {}).get("content_warnings"))
    read_expectations = getattr(user, "read_what_to_expect_at", None) is not None
    if accepted and chose_warnings and read_expectations:
        return None
    return {
        "accepted": accepted,
        "chose_warnings": chose_warnings,
        "read_expectations": read_expectations,
        "next_session": sessions[0] if sessions else None,
    }


# --- support and private threads on the group page (issue 15) --------------------------------

# Where the error summary's links lead, by the service's field name.
SUPPORT_FIELDS = {"kind": "kind-minute", "note": "support-note", "client_id": "support-send"}
PRIVATE_FIELDS = {"body": "private-body", "client_id": "private-send"}


def _support_context(
    request: HttpRequest, group: Any, membership: Any, thread: Any = None
) -> dict[str, Any]:
    """What the group page shows of the support loop: for those who answer requests (the
    group's facilitators) the open requests and the private threads; for anyone else in the
    group her own requests, "Ask for support" and her private thread with the hosts."""
    user = request.user
    manages = can(user, Action.SUPPORT_MANAGE, group=group, membership=membership)
    asks = (
        membership is not None
        and not manages
        and can(user, Action.SUPPORT_REQUEST, group=group, membership=membership)
    )
    context: dict[str, Any] = {
        "manages_support": manages,
        "asks_support": asks,
        "urgent_help": urgent_help(),
        "support_kinds": [(kind, SupportKind(kind).label) for kind in ASKED_KINDS],
        "support_form": {"kind": "", "note": "", "client_id": str(uuid.uuid4())},
        "private_form": {"body": "", "client_id": str(uuid.uuid4())},
        "support_done": request.session.pop("support_done", None),
        "private_sent": request.session.pop("private_sent", None),
    }
    if manages:
        context["support_open"] = list(
            session_selectors.support_list(viewer=user, group=group)[:50]
        )
        context["threads"] = list(session_selectors.private_threads(viewer=user, group=group)[:50])
        if thread is not None:
            # One thread at a time: a facilitator's read of someone's thread is audited.
            target = session_selectors.private_target(viewer=user, group=group, member_id=thread)
            context["thread_member"] = target
            context["thread_messages"] = session_services.private_read(
                actor=user, group=group, member_id=target.pk
            )
    elif asks:
        sent_id = request.session.pop("support_sent", None)
        # Never "left quickly" here: whoever looks at her phone must not learn she used it.
        mine = [
            row
            for row in session_selectors.support_list(viewer=user, group=group)[:10]
            if row.kind != SupportKind.LEFT_QUICKLY
        ]
        context["my_support"] = mine[:3]
        context["support_sent"] = next((row for row in mine if row.pk == sent_id), None)
        context["thread_member"] = membership
        context["thread_messages"] = session_services.private_read(
            actor=user, group=group, member_id=membership.pk
        )
    return context


def _page_errors(
    request: HttpRequest,
    found: Any,
    *,
    form: str,
    exc: ValidationFailed,
    values: dict[str, str],
    anchors: dict[str, str],
    thread: Any = None,
) -> HttpResponse:
    """The group page again (400) with a GOV.UK error summary, each field's own message and
    everything she wrote kept. A bad client id (a hidden field) gets a fresh one."""
    words = {
        "kind": _("Choose what you need."),
        "client_id": _("Something went wrong. Please press the button again."),
    }
    fields = exc.extra.get("fields", {}) if isinstance(exc.extra, dict) else {}
    if not values.get("body", "x").strip():
        words["body"] = _("Write your message first.")
    elif len(values.get("body", "")) > PRIVATE_BODY_MAX:
        words["body"] = _("Your message must be %(max)s characters or fewer.") % {
            "max": f"{PRIVATE_BODY_MAX:,}"
        }
    if len(values.get("note", "")) > SUPPORT_NOTE_MAX:
        words["note"] = _("Your note must be %(max)s characters or fewer.") % {
            "max": SUPPORT_NOTE_MAX
        }
    # The service's words ("Use at most 500 characters."), said of which field.
    about = {"note": _("Your note: %(error)s"), "body": _("Your message: %(error)s")}
    errors = {
        name: words.get(name)
        or about.get(name, "%(error)s") % {"error": " ".join(str(m) for m in msgs)}
        for name, msgs in fields.items()
    }
    if "client_id" in errors:
        values["client_id"] = str(uuid.uuid4())
    context = _group_context(request, found, thread=thread)
    context[f"{form}_form"] = values
    context["errors"] = {
        "form": form,
        "fields": errors,
        "summary": [
            (anchors.get(name, anchors["client_id"]), text) for name, text in errors.items()
        ],
    }
    return render(request, "frontend/group.html", context, status=400)


def _support_ask(request: HttpRequest, found: Any) -> HttpResponse:
    """ "Ask for support" from the group page: the same service as the REST route."""
    post = request.POST
    values = {
        "kind": post.get("kind", ""),
        "note": post.get("note", ""),
        "client_id": post.get("client_id", ""),
    }
    try:
        row = session_services.support_ask(
            actor=request.user,
            group=found,
            kind=values["kind"],
            note=values["note"],
            client_id=values["client_id"] or None,
        )
    except ValidationFailed as exc:
        return _page_errors(
            request, found, form="support", exc=exc, values=values, anchors=SUPPORT_FIELDS
        )
    request.session["support_sent"] = row.pk
    return HttpResponseRedirect(reverse("group", args=[found.pk]) + "#support-sent")


def _private_post(request: HttpRequest, found: Any) -> HttpResponse:
    """A message in a private thread from the group page: hers, or a facilitator's answer."""
    post = request.POST
    member_id = post.get("member_id", "")
    if not member_id.isdigit():
        raise Http404()
    values = {"body": post.get("body", ""), "client_id": post.get("client_id", "")}
    mine = _is_self(request, found, member_id)
    thread = None if mine else member_id
    try:
        session_services.private_post(
            actor=request.user,
            group=found,
            member_id=member_id,
            client_id=values["client_id"] or None,
            body=values["body"],
        )
    except ValidationFailed as exc:
        return _page_errors(
            request,
            found,
            form="private",
            exc=exc,
            values=values,
            anchors=PRIVATE_FIELDS,
            thread=thread,
        )
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        messages.error(request, _error_text(exc))
    else:
        request.session["private_sent"] = timezone.localtime().strftime("%H:%M")
    url = reverse("group", args=[found.pk])
    if thread is not None:
        url += f"?thread={int(thread)}"
    return HttpResponseRedirect(url + "#private-sent")


def _support_status(request: HttpRequest, found: Any) -> HttpResponse:
    """A facilitator takes or closes a request: the same service as the REST status route."""
    status = request.POST.get("status")
    try:
        row = session_services.support_set_status_in_group(
            actor=request.user,
            group=found,
            request_id=request.POST.get("request_id"),
            status=status,
        )
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        request.session["support_done"] = {"error": True, "text": _error_text(exc)}
    else:
        name = row.membership.display_name
        done = {
            "taken": _("You have taken %(name)s's request. She can see you are with her.")
            % {"name": name},
            "closed": _("%(name)s's request is closed.") % {"name": name},
        }.get(str(status), _("Saved."))
        request.session["support_done"] = {"error": False, "text": done}
    return HttpResponseRedirect(reverse("group", args=[found.pk]) + "#support-requests")


@signed_in
def group(request: HttpRequest, group_id: int) -> HttpResponse:
    found = group_for(request.user, group_id)
    # A facilitator opens one member's private thread at a time (`?thread=<member id>`).
    thread = request.GET.get("thread", "")
    thread = thread if thread.isdigit() else None
    return render(request, "frontend/group.html", _group_context(request, found, thread))


@signed_in
@require_POST
def group_action(request: HttpRequest, group_id: int, action: str) -> HttpResponse:
    """Every form on the group page posts here, named by `action`."""
    user = request.user
    found = group_for(request.user, group_id)
    post = request.POST
    back = HttpResponseRedirect(reverse("group", args=[found.pk]))
    # Issue 15: these answer on the page itself (errors next to her words, or where she was).
    page_actions = {
        "support": _support_ask,
        "support_status": _support_status,
        "private": _private_post,
    }
    if action in page_actions:
        return page_actions[action](request, found)

    def accept() -> None:
        group_services.agreement_accept(
            actor=user, group=found, version=int(post.get("version", 0))
        )

    def publish() -> None:
        points = [line.strip() for line in post.get("points", "").splitlines() if line.strip()]
        group_services.agreement_publish(actor=user, group=found, points=points)

    def propose() -> None:
        group_services.proposal_create(actor=user, group=found, text=post.get("text", ""))

    def decide() -> None:
        group_services.proposal_decide(
            actor=user,
            group=found,
            proposal_id=post.get("proposal_id"),
            status=post.get("status"),
            note=post.get("note", ""),
        )

    def invite() -> None:
        made = group_services.invite_create(
            actor=user,
            group=found,
            role=post.get("role", GroupRole.MEMBER),
            max_uses=int(post.get("max_uses") or 1),
            expires_in_days=int(post.get("expires_in_days") or 7),
            label=post.get("label", ""),
        )
        _show_once(request, found, [made])

    def invite_batch() -> None:
        made = group_services.invite_create_batch(
            actor=user,
            group=found,
            role=post.get("role", GroupRole.MEMBER),
            expires_in_days=int(post.get("expires_in_days") or 30),
            label=post.get("label", ""),
        )
        _show_once(request, found, made)

    def reinstate() -> None:
        group_services.member_reinstate(actor=user, group=found, member_id=post.get("member_id"))

    def revoke() -> None:
        group_services.invite_revoke(actor=user, group=found, invite_id=post.get("invite_id"))

    def change_role() -> None:
        group_services.member_change_role(
            actor=user, group=found, member_id=post.get("member_id"), role=post.get("role")
        )

    def remove() -> None:
        group_services.member_remove(actor=user, group=found, member_id=post.get("member_id"))

    def new_session() -> None:
        session_services.session_create(
            actor=user,
            group=found,
            title=post.get("title", ""),
            starts_at=_local_datetime(post.get("starts_at", "")),
            ends_at=_local_datetime(post.get("ends_at", "")),
            kind=post.get("kind", SessionKind.BOOKED),
            content_warnings=post.getlist("content_warnings"),
            co_hosts=[int(v) for v in post.getlist("co_hosts") if v.isdigit()],
        )

    actions: dict[str, tuple[Callable[[], None], str]] = {
        "accept": (accept, _("Thank you. You can now join this group's sessions.")),
        "publish": (
            publish,
            _("The new agreement is published. Everyone will be asked to accept it."),
        ),
        "propose": (propose, _("Thank you. The facilitators will read your suggestion.")),
        "decide": (decide, _("Saved.")),
        "invite": (invite, None),
        "invite_batch": (invite_batch, None),
        "reinstate": (reinstate, _("She is back in the group.")),
        "revoke": (revoke, _("Invite revoked.")),
        "role": (change_role, _("Role changed.")),
        "remove": (
            remove,
            _("You left the group.")
            if _is_self(request, found, post.get("member_id", ""))
            else _("Removed from the group."),
        ),
        "session": (new_session, _("Session created.")),
    }
    if action not in actions:
        return back
    if action == "remove" and not _is_self(request, found, post.get("member_id", "")):
        # One click removes nobody: removing someone else goes through the confirmation page.
        member_id = post.get("member_id", "")
        if not member_id.isdigit():
            raise Http404()
        return redirect("member-remove", group_id=found.pk, member_id=int(member_id))
    run, done = actions[action]
    try:
        ran = _flash_errors(request, run, done)
    except (TypeError, ValueError):
        ran = False
        messages.error(request, _("Some fields need another look."))
    if ran and action in {"invite", "invite_batch"}:
        return redirect("invite-created", group_id=found.pk)
    if (
        action == "remove"
        and post.get("member_id")
        and _is_self(request, found, post.get("member_id"))
    ):
        return redirect("groups")
    return back


def _is_self(request: HttpRequest, found: Any, member_id: Any) -> bool:
    mine = group_selectors.memberships_by_group(viewer=request.user, group_ids=[found.pk])
    return not mine or str(getattr(mine.get(found.pk), "pk", "")) == str(member_id)


# Where the codes wait for their one showing: the server-side session, never a URL or a log.
SHOW_ONCE_KEY = "invites_shown"


def _show_once(request: HttpRequest, found: Any, made: list[tuple[Any, str]]) -> None:
    request.session[SHOW_ONCE_KEY] = {
        "group": found.pk,
        "codes": [code for _invite, code in made],
        "label": made[0][0].label if made else "",
        "role": made[0][0].role if made else "",
        "expires_at": made[0][0].expires_at.isoformat() if made else "",
        "max_uses": made[0][0].max_uses if made else 1,
    }


# --- issue 17: leaving asks first, or she takes a break instead -------------------------------


def _own_group(request: HttpRequest, group_id: int) -> Any:
    """A group she is in; anyone else (staff who only see it, too) gets 404."""
    if not can(request.user, Action.MEMBER_LEAVE, group=group_id):
        raise Http404()
    return group_for(request.user, group_id, Action.MEMBER_LEAVE)


@signed_in
@require_http_methods(["GET", "POST"])
def leave_group(request: HttpRequest, group_id: int) -> HttpResponse:
    """ "Leave <group>?": what happens, "Leave the group", "Take a break instead" or "Stay".

    Nothing happens on the way here; only the buttons on this page change anything."""
    found = _own_group(request, group_id)
    mine = group_selectors.memberships_by_group(viewer=request.user, group_ids=[found.pk]).get(
        found.pk
    )
    if mine is None:
        raise Http404()
    error = ""
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        try:
            if choice == "leave":
                group_services.member_remove(actor=request.user, group=found, member_id=mine.pk)
                messages.success(
                    request,
                    _("You left the group. To come back, ask a facilitator for a new invite code."),
                )
                return redirect("groups")
            if choice == "break":
                group_services.membership_break(actor=request.user, group=found, on=True)
                messages.success(
                    request,
                    _(
                        "You are taking a break. The group is folded away under "
                        "“Groups you are taking a break from”. You are still in it."
                    ),
                )
                return redirect("groups")
            error = _("Choose to leave the group, take a break, or stay.")
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            error = _error_text(exc)
    return render(
        request,
        "frontend/leave_group.html",
        {"group": found, "membership": mine, "error": error},
        status=400 if error else 200,
    )


@signed_in
@require_POST
def group_break(request: HttpRequest, group_id: int) -> HttpResponse:
    """From My groups: come back from a break (`on=0`), or take one (`on=1`)."""
    found = _own_group(request, group_id)
    on = {"1": True, "0": False}.get(request.POST.get("on", ""))
    done = _("Welcome back. The group is in My groups again.") if on is False else None
    _flash_errors(
        request,
        lambda: group_services.membership_break(actor=request.user, group=found, on=on),
        done,
    )
    return redirect("groups")
