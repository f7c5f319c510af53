"""The authorisation matrix: persona x action x expected outcome, from one table.

`ALLOWED` is the table: for each policy action, the personas of `tests.conftest` that may do it
in group A. It drives two tests:

- the policy test asks `groups.policies.can()` for every persona x action;
- the REST test turns every endpoint row into one case per persona, deriving the expected
  status from the same table (signed out: 401; allowed: the endpoint's success status; may not
  even see the thing: 404; may see it but not do this: 403).

Endpoints that are not one group action (sign-in, redeem, leaving) are listed case by case with
`case()`. To cover a new endpoint, append a row to `CASES` with `for_action()`,
`for_signed_in()` or `case()` (and a placeholder to `Placeholders` if its URL needs a new kind
of object); `test_every_api_route_and_method_appears_in_the_matrix` fails until you do, and
`test_the_table_has_a_row_for_every_policy_action` fails until a new action has a row here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from facilitation import services as session_services
from facilitation.taxonomy import CONTENT_WARNING_KEYS
from groups import services
from groups.policies import Action, can, needs_second_factor
from safeguarding import services as safeguarding_services
from tests.conftest import PASSWORD, PERSONAS, World, staff_secret, totp_code
from tests.facilitation.room import make_room
from tests.safeguarding import referralkit

API = "/api/v1/"
SIGNED_OUT = frozenset({"anonymous", "deactivated"})
# Actions that do not happen inside a group: a refusal is 403, there is nothing to hide.
ORG_LEVEL = frozenset(
    {
        Action.GROUP_CREATE,
        Action.AUDIT_VIEW,
        Action.STAFF_MANAGE,
        Action.DASHBOARD_VIEW,
        Action.TAXONOMY_EDIT,
    }
)
IN_A = frozenset({"member", "peer_mentor", "facilitator"})
HOSTS_OF_A = frozenset({"facilitator", "admin"})  # admins hold a facilitator's powers anywhere

# THE table. Personas that may do each action in group A (GROUP_CREATE: in the organisation).
# Safeguarding leads see that a group exists (and its agreement), not who is in it or its
# sessions. Co-hosting is per session: a peer mentor hosts only sessions naming her, so at the
# level of the group she does not hold SESSION_HOST (the REST rows below cover a co-host).
ALLOWED: dict[Action, frozenset[str]] = {
    Action.GROUP_CREATE: frozenset({"facilitator", "other_facilitator", "admin"}),
    Action.GROUP_VIEW: IN_A | {"safeguarding_lead", "admin"},
    Action.GROUP_UPDATE: HOSTS_OF_A,
    Action.ROSTER_VIEW: IN_A | {"admin"},
    Action.MEMBER_CHANGE_ROLE: HOSTS_OF_A,
    Action.MEMBER_REMOVE: HOSTS_OF_A,
    Action.MEMBER_LEAVE: IN_A,
    Action.INVITE_MANAGE: HOSTS_OF_A,
    Action.AGREEMENT_VIEW: IN_A | {"safeguarding_lead", "admin"},
    Action.AGREEMENT_PUBLISH: HOSTS_OF_A,
    Action.AGREEMENT_ACCEPT: IN_A,
    Action.ACCEPTANCES_VIEW: frozenset({"facilitator", "peer_mentor", "admin"}),
    Action.PROPOSAL_CREATE: IN_A,
    Action.PROPOSAL_REVIEW: HOSTS_OF_A,
    Action.SESSION_CREATE: HOSTS_OF_A,
    Action.SESSION_VIEW: IN_A | {"admin"},
    Action.SESSION_UPDATE: HOSTS_OF_A,
    Action.SESSION_HOST: HOSTS_OF_A,
    Action.SESSION_END: HOSTS_OF_A,
    Action.CONCERN_RAISE: IN_A,
    Action.SUPPORT_REQUEST: IN_A,
    Action.SUPPORT_MANAGE: HOSTS_OF_A,
    Action.CHECKIN_ANSWER: IN_A,
    Action.CHECKIN_READ: HOSTS_OF_A,
    Action.PRIVATE_OWN: IN_A,
    Action.PRIVATE_HOST: HOSTS_OF_A,
    Action.AUDIT_VIEW: frozenset({"safeguarding_lead", "admin"}),
    # Issue 16, afterwards: a co-host reads her own session's register (test_afterwards); the
    # leads read debriefs and handovers, and the past sessions that lead to them.
    Action.REGISTER_VIEW: HOSTS_OF_A,
    Action.FOLLOW_UP_MANAGE: HOSTS_OF_A,
    Action.DEBRIEF_READ: HOSTS_OF_A | {"safeguarding_lead"},
    Action.DEBRIEF_WRITE: HOSTS_OF_A,
    Action.PAST_SESSIONS_VIEW: HOSTS_OF_A | {"safeguarding_lead"},
    Action.TALK_REQUEST: HOSTS_OF_A,
    Action.STAFF_MANAGE: frozenset({"admin"}),
    # Issue 19: the content-warning taxonomy, in the admin (not REST).
    Action.TAXONOMY_EDIT: frozenset({"admin"}),
    Action.DASHBOARD_VIEW: frozenset({"safeguarding_lead", "admin"}),
    # Issue 16: bringing back a paused or removed member; one member's record (not peer mentors).
    Action.MEMBER_REINSTATE: HOSTS_OF_A,
    Action.MEMBER_HISTORY: HOSTS_OF_A,
    # Issue 17: a one-time reset code for a member of A (a page, not REST).
    Action.MEMBER_RESET_CODE: HOSTS_OF_A,
    # Issue 17: her own name in the group, from Settings (a page, not REST).
    Action.MEMBER_RENAME_SELF: IN_A,
    # Issue 17: referral with consent. Any member of A answers a referral, but only one that
    # concerns her (the REST rows below: everyone else finds nothing); the pack is the hosts' and
    # the leads', only once she agreed.
    Action.REFERRAL_PROPOSE: HOSTS_OF_A,
    Action.REFERRAL_RESPOND: IN_A,
    Action.REFERRAL_PACK: HOSTS_OF_A | {"safeguarding_lead"},
}

ERROR_CODES = {401: "not_authenticated", 403: "forbidden", 404: "not_found"}


@dataclass(frozen=True)
class Case:
    persona: str
    method: str
    path: str  # a template: {group_a}, {member2}, {invite}, {code}, {session}, ... (Placeholders)
    body: dict[str, Any] | None
    expected: int
    bug: str | None = None  # a known application bug: the case runs as a strict xfail

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.method}-{self.path.removeprefix(API)}"


def expected_status(
    persona: str, allowed: frozenset[str], ok: int, *, visible: frozenset[str] | None
) -> int:
    if persona in SIGNED_OUT:
        return 401
    if persona in allowed:
        return ok
    if visible is None or persona in visible:
        return 403
    return 404


def for_action(
    method: str,
    path: str,
    action: Action | frozenset[str],
    *,
    ok: int,
    body: dict[str, Any] | None = None,
    visible: Action | frozenset[str] = Action.GROUP_VIEW,
) -> list[Case]:
    """One case per persona, the expected status derived from `ALLOWED`.

    `action` may also be a set of personas, for an endpoint that is not one policy action.
    `visible` (an action, or a set of personas) says who can see the thing at all: everyone
    else gets 404 instead of 403. Organisation-level actions hide nothing.
    """
    allowed = ALLOWED[action] if isinstance(action, Action) else action
    shown = ALLOWED[visible] if isinstance(visible, Action) else visible
    if action in ORG_LEVEL:
        shown = None
    return [
        Case(persona, method, path, body, expected_status(persona, allowed, ok, visible=shown))
        for persona in PERSONAS
    ]


def for_signed_in(
    method: str, path: str, *, ok: int, body: dict[str, Any] | None = None
) -> list[Case]:
    """Endpoints every signed-in account may call."""
    return [
        Case(persona, method, path, body, 401 if persona in SIGNED_OUT else ok)
        for persona in PERSONAS
    ]


def case(
    persona: str, method: str, path: str, expected: int, body: dict[str, Any] | None = None
) -> Case:
    return Case(persona, method, path, body, expected)


def known_bug(cases: list[Case], persona: str, reason: str) -> list[Case]:
    """Mark one persona's case of a row as a known bug (strict xfail) until it is fixed."""
    marked = [c for c in cases if c.persona == persona]
    assert len(marked) == 1
    return [Case(**{**c.__dict__, "bug": reason}) if c.persona == persona else c for c in cases]


GROUP_A = API + "groups/{group_a}/"
AGREED_A = API + "groups/{agreed_group}/"  # group A once its facilitator published an agreement
SESSION = API + "sessions/{session}/"  # a scheduled session of group A without co-hosts
CO_HOSTED = API + "sessions/{co_hosted_session}/"  # one naming the peer mentor as co-host
LIVE_CO_HOSTED = API + "sessions/{live_co_hosted_session}/"  # that one, live, nobody in its room
NEW_ACCOUNT = {"username": "newcomer", "password": PASSWORD, "display_name": "Newcomer"}
JOIN = {"display_name": "Newcomer"}
A_CW_KEY = sorted(CONTENT_WARNING_KEYS)[0]
PLAN = {"items": [{"title": "Check in", "kind": "check_in", "minutes": 10}]}
NEW_SESSION = {
    "title": "Evening circle",
    "starts_at": "{in_an_hour}",
    "ends_at": "{in_two_hours}",
    "kind": "drop_in",
}
# Concerns are not group actions: each answers only to the woman who raised it and to whoever
# handles it (PROTOCOL.md "Concerns"); everyone else gets 404, admins included.
CONCERN = API + "concerns/{concern}/"  # the member's, about her wellbeing, not escalated
ESCALATED = API + "concerns/{escalated_concern}/"  # the member's, escalated to the leads
SHARED = API + "concerns/{shared_concern}/"  # the member's, shared with peer mentors
ABOUT_ROSE = API + "concerns/{concern_about_member}/"  # Jade's, about the member (Rose)
SEES_CONCERN = frozenset({"member", "facilitator"})
NEW_CONCERN = {
    "group_id": "{group_a}",
    "category": "my_wellbeing",
    "body": "I am finding this week hard",
    "urgency": "normal",
}

# Rose's private thread: she and the facilitators (admins too) read it; leads see the group
# exists (403), everyone else finds nothing (404), peer mentors included outside their room.
ROSE_THREAD_READERS = frozenset({"member", "facilitator", "admin"})
ROSE_THREAD_VISIBLE = ROSE_THREAD_READERS | {"safeguarding_lead"}

# Issue 17: referrals. Rose's (the member's) referral is hers alone: every other member, the
# peer mentor, the leads and admins find nothing (404) when they read or answer it. The group's
# hosts propose and follow status; the pack opens to them and the leads once she agreed.
REFERRAL = API + "referrals/{referral}/"  # Rose's, proposed, waiting for her answer
AGREED = API + "referrals/{accepted_referral}/"  # Rose's, agreed: the pack is open
ROSE_ONLY = frozenset({"member"})
NEW_REFERRAL = {
    "member_id": "{rose}",
    "service_id": "{help_service}",
    "share_need": True,
    "need": "Advice about a client",
}

CASES: list[Case] = [
    # --- authentication and me ---
    *[
        case(
            persona,
            "POST",
            API + "auth/token/",
            400 if persona in SIGNED_OUT else 200,
            {"username": "{username}", "password": PASSWORD, "otp": "{otp}"},
        )
        for persona in PERSONAS
    ],
    *for_signed_in("POST", API + "auth/token/revoke/", ok=204),
    *for_signed_in("POST", API + "auth/signout-everywhere/", ok=204),
    *for_signed_in("GET", API + "me/", ok=200),
    *for_signed_in(
        "PATCH",
        API + "me/",
        ok=200,
        body={"preferences": {"content_warnings": {A_CW_KEY: "show"}}},
    ),
    *for_signed_in("GET", API + "content-warnings/", ok=200),
    # --- groups ---
    *for_signed_in("GET", API + "groups/", ok=200),
    *for_action(
        "POST",
        API + "groups/",
        Action.GROUP_CREATE,
        ok=201,
        body={"name": "New group", "description": "", "display_name": "Host"},
    ),
    *for_action("GET", GROUP_A, Action.GROUP_VIEW, ok=200),
    *for_action(
        "PATCH", GROUP_A, Action.GROUP_UPDATE, ok=200, body={"name": "Renamed", "retention_days": 7}
    ),
    # --- roster ---
    *for_action("GET", GROUP_A + "members/", Action.ROSTER_VIEW, ok=200),
    *for_action(
        "PATCH",
        GROUP_A + "members/{member2}/",
        Action.MEMBER_CHANGE_ROLE,
        ok=200,
        body={"role": "peer_mentor"},
    ),
    *for_action("DELETE", GROUP_A + "members/{member2}/", Action.MEMBER_REMOVE, ok=204),
    # Leaving: DELETE of one's own member id. The last facilitator may not leave.
    case("member", "DELETE", GROUP_A + "members/{own_member}/", 204),
    case("peer_mentor", "DELETE", GROUP_A + "members/{own_member}/", 204),
    case("facilitator", "DELETE", GROUP_A + "members/{own_member}/", 409),
    # --- issue 16: members (pause or remove with a reason, reinstate) ---
    *for_action(
        "POST",
        GROUP_A + "members/{member2}/decision/",
        Action.MEMBER_REMOVE,
        ok=200,
        body={"decision": "pause", "weeks": 2, "reason": "Kept breaking the agreement"},
    ),
    *for_action(
        "POST", GROUP_A + "members/{paused_member2}/reinstate/", Action.MEMBER_REINSTATE, ok=200
    ),
    case(
        "facilitator",
        "POST",
        GROUP_A + "members/{member_of_b}/decision/",
        404,
        {"decision": "remove", "reason": "Not in this group"},
    ),
    case("facilitator", "POST", GROUP_A + "members/{member2}/reinstate/", 404),
    # --- end issue 16: members
    # --- invites ---
    *for_action("GET", GROUP_A + "invites/", Action.INVITE_MANAGE, ok=200),
    *for_action(
        "POST",
        GROUP_A + "invites/",
        Action.INVITE_MANAGE,
        ok=201,
        body={"role": "member", "max_uses": 3, "expires_in_hours": 24},
    ),
    *for_action("DELETE", GROUP_A + "invites/{invite}/", Action.INVITE_MANAGE, ok=204),
    case("anonymous", "POST", API + "invites/{code}/redeem/", 201, NEW_ACCOUNT),
    case("deactivated", "POST", API + "invites/{code}/redeem/", 401, JOIN),
    *[
        case(persona, "POST", API + "invites/{code}/redeem/", 201, JOIN)
        for persona in ["outsider", "other_facilitator", "safeguarding_lead", "admin"]
    ],
    *[
        case(persona, "POST", API + "invites/{code}/redeem/", 409, JOIN)
        for persona in ["member", "peer_mentor", "facilitator"]
    ],
    # --- boundary agreements ---
    *for_action("GET", AGREED_A + "agreement/", Action.AGREEMENT_VIEW, ok=200),
    *for_action(
        "POST", GROUP_A + "agreement/", Action.AGREEMENT_PUBLISH, ok=201, body={"points": ["Kind"]}
    ),
    *for_action(
        "POST", AGREED_A + "agreement/accept/", Action.AGREEMENT_ACCEPT, ok=200, body={"version": 1}
    ),
    *for_action("GET", AGREED_A + "agreement/acceptances/", Action.ACCEPTANCES_VIEW, ok=200),
    *for_action(
        "POST",
        GROUP_A + "agreement/proposals/",
        Action.PROPOSAL_CREATE,
        ok=201,
        body={"text": "No phones"},
    ),
    # Members list their own proposals, facilitators (and so admins) every proposal.
    *for_action(
        "GET",
        GROUP_A + "agreement/proposals/",
        ALLOWED[Action.PROPOSAL_CREATE] | ALLOWED[Action.PROPOSAL_REVIEW],
        ok=200,
    ),
    *for_action(
        "PATCH",
        GROUP_A + "agreement/proposals/{proposal}/",
        Action.PROPOSAL_REVIEW,
        ok=200,
        body={"status": "declined", "note": ""},
    ),
    # --- sessions: a session's URL hides it from anyone who may not see the group's sessions ---
    *for_action("GET", GROUP_A + "sessions/", Action.SESSION_VIEW, ok=200),
    *for_action("POST", GROUP_A + "sessions/", Action.SESSION_CREATE, ok=201, body=NEW_SESSION),
    *for_action("GET", SESSION, Action.SESSION_VIEW, ok=200, visible=Action.SESSION_VIEW),
    *for_action(
        "PATCH",
        SESSION,
        Action.SESSION_UPDATE,
        ok=200,
        body={"title": "Renamed"},
        visible=Action.SESSION_VIEW,
    ),
    *for_action("GET", SESSION + "plan/", Action.SESSION_HOST, ok=200, visible=Action.SESSION_VIEW),
    *for_action(
        "PUT",
        SESSION + "plan/",
        Action.SESSION_HOST,
        ok=200,
        body=PLAN,
        visible=Action.SESSION_VIEW,
    ),
    *for_action(
        "GET", SESSION + "attendance/", Action.SESSION_HOST, ok=200, visible=Action.SESSION_VIEW
    ),
    *for_action(
        "GET", SESSION + "events/", Action.SESSION_VIEW, ok=200, visible=Action.SESSION_VIEW
    ),
    # A co-host hosts her session (plan, attendance) but may not change or end it.
    case("peer_mentor", "GET", CO_HOSTED + "plan/", 200),
    case("peer_mentor", "PUT", CO_HOSTED + "plan/", 200, PLAN),
    case("peer_mentor", "GET", CO_HOSTED + "attendance/", 200),
    case("peer_mentor", "PATCH", CO_HOSTED, 403, {"title": "Renamed"}),
    # A co-host may end her session from its room while no facilitator is there (the socket
    # half of the matrix); over REST a status change stays a facilitator's PATCH.
    case("peer_mentor", "PATCH", LIVE_CO_HOSTED, 403, {"status": "ended"}),
    case("facilitator", "PATCH", LIVE_CO_HOSTED, 200, {"status": "ended"}),
    case("member", "GET", CO_HOSTED + "plan/", 403),
    # --- "I need support" from the group page: members ask and read their own, facilitators
    # read every open one and answer (admins hold a facilitator's powers).
    *for_action("GET", GROUP_A + "support/", IN_A | {"admin"}, ok=200),
    *for_action(
        "POST",
        GROUP_A + "support/",
        Action.SUPPORT_REQUEST,
        ok=201,
        body={"kind": "minute", "note": "Please", "client_id": "{uuid}"},
    ),
    *for_action(
        "POST",
        GROUP_A + "support/{support_request}/status/",
        Action.SUPPORT_MANAGE,
        ok=200,
        body={"status": "taken"},
    ),
    case("facilitator", "POST", GROUP_A + "support/{missing}/status/", 404, {"status": "seen"}),
    # --- check-ins: facilitators read a session's (each read audited), a co-host only in
    # her room; she checks out afterwards of a session she was in, and reads her own.
    *for_action(
        "GET", SESSION + "checkins/", Action.CHECKIN_READ, ok=200, visible=Action.SESSION_VIEW
    ),
    case("peer_mentor", "GET", CO_HOSTED + "checkins/", 403),
    *for_action(
        "POST",
        API + "sessions/{attended_session}/checkins/",
        Action.CHECKIN_ANSWER,
        ok=201,
        body={"moment": "out", "mood": "okay"},
        visible=Action.SESSION_VIEW,
    ),
    *for_action(
        "POST",
        API + "sessions/{attended_session}/checkins/skip/",
        Action.CHECKIN_ANSWER,
        ok=204,
        body={"moment": "out"},
        visible=Action.SESSION_VIEW,
    ),
    *for_signed_in("GET", API + "me/checkins/", ok=200),
    # --- issue 16: debrief notes after a session, for the group's facilitators and the leads;
    # members and peer mentors (the co-host of this one too) find nothing.
    *for_action(
        "GET",
        API + "sessions/{attended_session}/debriefs/",
        Action.DEBRIEF_READ,
        ok=200,
        visible=Action.DEBRIEF_READ,
    ),
    *for_action(
        "POST",
        API + "sessions/{attended_session}/debriefs/",
        Action.DEBRIEF_WRITE,
        ok=201,
        body={"body": "A calm evening; Rose was quieter than usual."},
        visible=Action.DEBRIEF_READ,
    ),
    # --- private threads: hers, and the facilitators'; a peer mentor reads them only as a
    # co-host in her room (the socket half); an admin outside the group reads, never writes.
    *for_action("GET", GROUP_A + "private/", IN_A | {"admin"}, ok=200),
    *for_action(
        "GET",
        GROUP_A + "private/{rose}/messages/",
        ROSE_THREAD_READERS,
        ok=200,
        visible=ROSE_THREAD_VISIBLE,
    ),
    *for_action(
        "POST",
        GROUP_A + "private/{rose}/messages/",
        ROSE_THREAD_READERS - {"admin"},
        ok=201,
        body={"client_id": "{uuid}", "body": "Are you all right?"},
        visible=ROSE_THREAD_VISIBLE,
    ),
    # --- concerns, the audit log, a member's own data ---
    *for_signed_in("GET", API + "concerns/", ok=200),
    *for_action("POST", API + "concerns/", Action.CONCERN_RAISE, ok=201, body=NEW_CONCERN),
    *for_action("GET", CONCERN, SEES_CONCERN, ok=200, visible=SEES_CONCERN),
    *for_action(
        "POST",
        CONCERN + "replies/",
        SEES_CONCERN,
        ok=201,
        body={"body": "Thank you"},
        visible=SEES_CONCERN,
    ),
    *for_action(
        "POST",
        CONCERN + "status/",
        frozenset({"facilitator"}),
        ok=200,
        body={"status": "acknowledged"},
        visible=SEES_CONCERN,
    ),
    case("safeguarding_lead", "GET", ESCALATED, 200),
    case("safeguarding_lead", "POST", ESCALATED + "status/", 200, {"status": "action_taken"}),
    case("admin", "GET", ESCALATED, 404),
    case("peer_mentor", "GET", SHARED, 200),
    case("peer_mentor", "POST", SHARED + "replies/", 201, {"body": "I am here"}),
    case("peer_mentor", "POST", SHARED + "status/", 403, {"status": "acknowledged"}),
    case("member", "GET", ABOUT_ROSE, 404),
    case("member", "POST", ABOUT_ROSE + "replies/", 404, {"body": "That is not fair"}),
    case("facilitator", "GET", ABOUT_ROSE, 200),
    # Issue 16: taking a concern, and its staff-only notes (never for her who raised it, nor a
    # peer mentor she shared it with: 404, as if there were none).
    *for_action(
        "POST", CONCERN + "take/", frozenset({"facilitator"}), ok=200, visible=SEES_CONCERN
    ),
    *for_action(
        "GET",
        CONCERN + "notes/",
        frozenset({"facilitator"}),
        ok=200,
        visible=frozenset({"facilitator"}),
    ),
    *for_action(
        "POST",
        CONCERN + "notes/",
        frozenset({"facilitator"}),
        ok=201,
        body={"body": "Rang her back, she is safe"},
        visible=frozenset({"facilitator"}),
    ),
    case("safeguarding_lead", "POST", ESCALATED + "take/", 200),
    case("safeguarding_lead", "GET", ESCALATED + "notes/", 200),
    case("peer_mentor", "POST", SHARED + "take/", 403),
    case("peer_mentor", "GET", SHARED + "notes/", 404),
    case("peer_mentor", "POST", SHARED + "notes/", 404, {"body": "I am here"}),
    case("member", "GET", ESCALATED + "notes/", 404),
    *for_action("GET", API + "audit/", Action.AUDIT_VIEW, ok=200),
    *for_signed_in("GET", API + "me/export/", ok=200),
    # Erasing her account: not while she is the only facilitator of a group.
    *[
        case(
            persona,
            "POST",
            API + "me/erase/",
            {"facilitator": 409, "other_facilitator": 409}.get(
                persona, 401 if persona in SIGNED_OUT else 204
            ),
            {"password": PASSWORD, "confirm": True},
        )
        for persona in PERSONAS
    ],
    # --- issue 17: the "Get help now" directory is public, read only ---
    *[case(persona, "GET", API + "help/services/", 200) for persona in PERSONAS],
    # --- issue 17: referral with consent ---
    *for_action(
        "GET",
        GROUP_A + "referrals/",
        Action.REFERRAL_PROPOSE,
        ok=200,
        visible=Action.REFERRAL_PROPOSE,
    ),
    *for_action(
        "POST",
        GROUP_A + "referrals/",
        Action.REFERRAL_PROPOSE,
        ok=201,
        body=NEW_REFERRAL,
        visible=Action.REFERRAL_PROPOSE,
    ),
    *for_action("GET", REFERRAL, ROSE_ONLY, ok=200, visible=ROSE_ONLY),
    *for_action("PATCH", REFERRAL, ROSE_ONLY, ok=200, body={"need": "Mine"}, visible=ROSE_ONLY),
    *for_action(
        "POST", REFERRAL + "accept/", ROSE_ONLY, ok=200, body={"version": 1}, visible=ROSE_ONLY
    ),
    *for_action("POST", REFERRAL + "decline/", ROSE_ONLY, ok=200, visible=ROSE_ONLY),
    *for_action(
        "POST",
        AGREED + "withdraw/",
        ROSE_ONLY | HOSTS_OF_A,
        ok=200,
        visible=ROSE_ONLY | HOSTS_OF_A,
    ),
    *for_action(
        "GET",
        AGREED + "pack/",
        Action.REFERRAL_PACK,
        ok=200,
        visible=Action.REFERRAL_PACK,
    ),
    # Before she agrees there is no pack, for anyone.
    *[
        case(persona, "GET", REFERRAL + "pack/", 404)
        for persona in ("facilitator", "safeguarding_lead", "admin", "member")
    ],
    # --- things that do not exist look like things one may not see ---
    case("admin", "GET", API + "groups/{missing}/", 404),
    case("admin", "GET", API + "groups/{missing}/members/", 404),
    case("admin", "GET", API + "sessions/{missing}/", 404),
    case("facilitator", "GET", API + "concerns/{missing}/", 404),
    case("admin", "PATCH", GROUP_A + "members/{member_of_b}/", 404, {"role": "member"}),
    case("facilitator", "DELETE", GROUP_A + "members/{member_of_b}/", 404),
    case("facilitator", "DELETE", GROUP_A + "invites/{invite_of_b}/", 404),
]


def _invite(world: World) -> Any:
    return services.invite_create(actor=world.users["facilitator"], group=world.group_a)


def _session(world: World, *, co_hosts: list[int]) -> int:
    start = timezone.now() + timedelta(hours=1)
    return session_services.session_create(
        actor=world.users["facilitator"],
        group=world.group_a,
        title="Evening circle",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        kind="drop_in",
        co_hosts=co_hosts,
    ).pk


def _live_session(world: World, *, co_hosts: list[int]) -> int:
    _agreed_group(world)
    session = session_services.session_create(
        actor=world.users["facilitator"],
        group=world.group_a,
        title="Evening circle",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=2),
        kind="drop_in",
        co_hosts=co_hosts,
    )
    for status in ("open", "live"):
        session = session_services.session_set_status(
            actor=world.users["facilitator"], session=session, status=status
        )
    return session.pk


def _attended_session(world: World, persona: str) -> int:
    """An ended session of group A whose room `persona` was in (if she could enter it)."""
    room = make_room(world=world)
    user = world.users[persona]
    if persona in IN_A:
        context, _state = session_services.room_enter(actor=user, session_id=room.session.pk)
        session_services.room_leave(context=context)
    session_services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    return room.session.pk


def _agreed_group(world: World) -> int:
    services.agreement_publish(
        actor=world.users["facilitator"], group=world.group_a, points=["Be kind"]
    )
    return world.group_a.pk


def _proposal(world: World) -> int:
    return services.proposal_create(
        actor=world.users["member"], group=world.group_a, text="No phones in sessions"
    ).pk


def _concern(world: World, *, by: str = "member", **options: Any) -> Any:
    return safeguarding_services.concern_raise(
        actor=world.users[by],
        group_id=world.group_a.pk,
        category=options.pop("category", "my_wellbeing"),
        body="Something a member wrote in confidence",
        **options,
    )


def _escalated_concern(world: World) -> int:
    concern = _concern(world)
    for step in ["acknowledged", "escalated"]:
        safeguarding_services.concern_set_status(
            actor=world.users["facilitator"], concern_id=concern.pk, status=step
        )
    return concern.pk


# How each placeholder of a case's path or body is made, for the world and the case's persona.
MAKERS: dict[str, Any] = {
    "group_a": lambda world, persona: world.group_a.pk,
    "missing": lambda world, persona: 2**62,  # a valid id no row will reach
    "member2": lambda world, persona: world.members["member2"].pk,
    "member_of_b": lambda world, persona: world.members["outsider"].pk,
    "own_member": lambda world, persona: world.members[persona].pk,
    "invite": lambda world, persona: _invite(world)[0].pk,
    "invite_of_b": lambda world, persona: (
        services.invite_create(actor=world.users["other_facilitator"], group=world.group_b)[0].pk
    ),
    "code": lambda world, persona: _invite(world)[1],
    "username": lambda world, persona: (
        world.users[persona].username if world.users[persona] is not None else "nobody-at-all"
    ),
    # Staff sign in with the code of their authenticator app too; members leave it blank.
    "otp": lambda world, persona: (
        totp_code(staff_secret(world.users[persona]))
        if needs_second_factor(world.users[persona])
        else ""
    ),
    "agreed_group": lambda world, persona: _agreed_group(world),
    "proposal": lambda world, persona: _proposal(world),
    "session": lambda world, persona: _session(world, co_hosts=[]),
    "co_hosted_session": lambda world, persona: _session(
        world, co_hosts=[world.members["peer_mentor"].pk]
    ),
    "live_co_hosted_session": lambda world, persona: _live_session(
        world, co_hosts=[world.members["peer_mentor"].pk]
    ),
    "concern": lambda world, persona: _concern(world).pk,
    "escalated_concern": lambda world, persona: _escalated_concern(world),
    "shared_concern": lambda world, persona: _concern(world, share_with_peer_mentors=True).pk,
    "concern_about_member": lambda world, persona: (
        _concern(
            world, by="member2", category="about_member", about_member_id=world.members["member"].pk
        ).pk
    ),
    "uuid": lambda world, persona: uuid.uuid4(),
    "rose": lambda world, persona: world.members["member"].pk,
    "attended_session": _attended_session,
    "support_request": lambda world, persona: (
        session_services.support_ask(
            actor=world.users["member2"],
            group=world.group_a,
            kind="minute",
            client_id=str(uuid.uuid4()),
        ).pk
    ),
    "paused_member2": lambda world, persona: (
        services.member_decide(
            actor=world.users["facilitator"],
            group=world.group_a,
            member_id=world.members["member2"].pk,
            decision="pause",
            weeks=1,
            reason="A pause the case lifts",
        ).membership.pk
    ),
    "referral": lambda world, persona: referralkit.propose(world, share_contact=False).pk,
    "accepted_referral": lambda world, persona: referralkit.accepted(world).pk,
    "help_service": lambda world, persona: referralkit.help_service().pk,
    "in_an_hour": lambda world, persona: (timezone.now() + timedelta(hours=1)).isoformat(),
    "in_two_hours": lambda world, persona: (timezone.now() + timedelta(hours=2)).isoformat(),
}


class Placeholders(dict):
    """Values for a case's templates, made on first use so each case builds only what it needs."""

    def __init__(self, world: World, persona: str) -> None:
        super().__init__()
        self.world = world
        self.persona = persona

    def __missing__(self, key: str) -> str:
        self[key] = str(MAKERS[key](self.world, self.persona))
        return self[key]


def render(case_: Case, world: World) -> tuple[str, dict[str, Any] | None]:
    values = Placeholders(world, case_.persona)
    path = case_.path.format_map(values)
    body = None
    if case_.body is not None:
        body = {
            key: value.format_map(values) if isinstance(value, str) else value
            for key, value in case_.body.items()
        }
    return path, body


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every Haven model: what a refused request must leave exactly as it was."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for label in ["project", "groups", "facilitation", "safeguarding"]:
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


# --- the policy ------------------------------------------------------------------------------


def test_a_peer_mentor_hosts_only_the_sessions_that_name_her_co_host(world):
    peer_mentor = world.user("peer_mentor")
    from facilitation.models import Session

    co_hosted = Session.objects.get(pk=MAKERS["co_hosted_session"](world, "peer_mentor"))
    other = Session.objects.get(pk=MAKERS["session"](world, "peer_mentor"))

    assert can(peer_mentor, Action.SESSION_HOST, session=co_hosted) is True
    assert can(peer_mentor, Action.SESSION_HOST, session=other) is False
    assert can(peer_mentor, Action.SESSION_END, session=co_hosted) is False
    assert can(peer_mentor, Action.SESSION_UPDATE, session=co_hosted) is False
    assert can(world.user("member"), Action.SESSION_HOST, session=co_hosted) is False


def test_a_co_host_may_end_her_session_only_while_no_facilitator_is_in_its_room(world):
    from facilitation.models import Session

    co_hosted = Session.objects.get(pk=MAKERS["co_hosted_session"](world, "peer_mentor"))
    other = Session.objects.get(pk=MAKERS["session"](world, "peer_mentor"))
    peer_mentor, member = world.user("peer_mentor"), world.user("member")

    def may_end(user: Any, session: Any, present: bool | None) -> bool:
        return can(user, Action.SESSION_END, session=session, facilitator_present=present)

    assert may_end(peer_mentor, co_hosted, False) is True
    assert may_end(peer_mentor, co_hosted, True) is False
    # Asked without looking (as removing a member from a session is): not alone.
    assert may_end(peer_mentor, co_hosted, None) is False
    assert may_end(peer_mentor, other, False) is False
    assert may_end(member, co_hosted, False) is False
    assert may_end(world.user("facilitator"), co_hosted, True) is True


def test_the_table_has_a_row_for_every_policy_action():
    assert set(ALLOWED) == set(Action)
    for personas in ALLOWED.values():
        assert personas <= set(PERSONAS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_policy_answers_every_action_as_the_table_says(world, persona):
    user = world.user(persona) or AnonymousUser()
    actual = {
        action: can(user, action, group=None if action in ORG_LEVEL else world.group_a)
        for action in ALLOWED
    }
    expected = {action: persona in personas for action, personas in ALLOWED.items()}
    assert actual == expected


# --- REST ------------------------------------------------------------------------------------


def problems_with(case_: Case, world: World) -> list[str]:
    """Run one case against `world`; describe every way the answer differs from the table."""
    path, body = render(case_, world)
    before = snapshot()
    response = getattr(world.client(case_.persona), case_.method.lower())(path, body, format="json")
    found = []
    if response.status_code != case_.expected:
        found.append(f"{case_.id}: {response.status_code} != {case_.expected} {response.content}")
    elif case_.expected in ERROR_CODES and response.json()["code"] != ERROR_CODES[case_.expected]:
        found.append(f"{case_.id}: code {response.json()['code']}")
    if case_.expected >= 400 and snapshot() != before:
        found.append(f"{case_.id}: a refused request changed something")
    return found


# Reads change nothing, so all personas of one GET row share a world; every write gets its own.
READS: dict[str, list[Case]] = {}
for _case in CASES:
    if _case.method == "GET" and _case.bug is None:
        READS.setdefault(_case.path, []).append(_case)
WRITES = [c for c in CASES if c.method != "GET" or c.bug is not None]


@pytest.mark.parametrize("path", list(READS), ids=[p.removeprefix(API) for p in READS])
def test_each_persona_reads_each_endpoint_as_the_table_says(world, path):
    found = [problem for case_ in READS[path] for problem in problems_with(case_, world)]

    assert found == []


@pytest.mark.parametrize(
    "case_",
    [
        pytest.param(
            c, id=c.id, marks=[pytest.mark.xfail(reason=c.bug, strict=True)] if c.bug else []
        )
        for c in WRITES
    ],
)
def test_each_persona_gets_the_expected_status_from_each_endpoint(world, case_):
    assert problems_with(case_, world) == []


def _api_routes() -> set[tuple[str, str]]:
    """(route, METHOD) for every view mounted under /api/v1/."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(API.lstrip("/")):
                view_class = getattr(pattern.callback, "cls", None) or getattr(
                    pattern.callback, "view_class", None
                )
                assert view_class is not None, f"{route} is not a class-based view"
                for method in view_class.http_method_names:
                    if method not in {"options", "head"} and hasattr(view_class, method):
                        found.add((route, method.upper()))

    walk(get_resolver().url_patterns, "")
    return found


class _Dummy(dict):
    def __missing__(self, key: str) -> str:
        return "CODE" if key == "code" else "1"


def test_every_api_route_and_method_appears_in_the_matrix():
    routes = _api_routes()
    covered = {(resolve(c.path.format_map(_Dummy())).route, c.method) for c in CASES}
    assert routes, "no API routes found"
    missing = routes - covered
    assert not missing, f"routes with no row in the matrix: {sorted(missing)}"


def test_every_persona_appears_for_every_group_action_endpoint():
    per_route: dict[tuple[str, str], set[str]] = {}
    for c in CASES:
        key = (resolve(c.path.format_map(_Dummy())).route, c.method)
        per_route.setdefault(key, set()).add(c.persona)
    for key, personas in per_route.items():
        assert personas == set(PERSONAS), f"{key} misses {sorted(set(PERSONAS) - personas)}"


def test_the_matrix_cases_are_unique():
    keys = [json.dumps([c.persona, c.method, c.path, c.body], sort_keys=True) for c in CASES]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert duplicates == []
