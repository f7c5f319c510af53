"""Schemathesis against `/api/schema/`, signed in as each persona (catalogue test 26).

For every operation of the served OpenAPI schema, and for every persona of `tests.conftest`,
Hypothesis generates requests (valid ones and invalid ones) and sends them through Django's WSGI
handler in this process. Each response must:

- not be a server error (`not_a_server_error`);
- conform to the schema: a documented status code, content type and body
  (`status_code_conformance`, `content_type_conformance`, `response_schema_conformance`);
- keep authentication: a 2xx obtained with a token is refused without it (`ignored_auth`);
- keep authorisation (our own oracle, from the matrix of `tests/test_authz_matrix.py`): nobody
  signed out gets a 2xx except on sign-in and invite redemption; nobody gets a 2xx on a group's
  objects (the group, its roster, invites, agreement, proposals, sessions, plans, attendance,
  events, concerns) unless her role in that group or her org role allows it; lists never show
  groups or concerns the caller may not see.

The requests are aimed: besides fully generated path parameters, each operation also gets the
ids of real objects of group A and group B (and mixed ones, such as a member of B under group A),
so authorisation is tested on things that exist. Every example runs inside a savepoint that is
rolled back, so each one meets the same world (a revoked token or an erased account does not
leak into the next example).

Bounded and reproducible: `MAX_EXAMPLES` per operation and persona, each pair with its own
fixed seed (set HAVEN_FUZZ_SEED to explore other requests), `deadline=None`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from facilitation import services as session_services
from groups import services as group_services
from groups.models import Group, Membership
from project.exceptions import MAX_ID
from safeguarding import services as safeguarding_services
from safeguarding.models import Concern
from tests.conftest import PASSWORD, World, clear_cache
from tests.facilitation.room import make_room

SCHEMA_PATH = "/api/schema/"
API = "/api/v1"
MAX_EXAMPLES = 15
# Every (operation, persona) has its own fixed seed, so CI runs the same requests each time and
# the personas do not all get the same ones. Set HAVEN_FUZZ_SEED to explore other requests.
FUZZ_SEED = int(os.environ.get("HAVEN_FUZZ_SEED", "0"))
FUZZED_PERSONAS = [
    "anonymous",
    "deactivated",
    "outsider",
    "member",
    "peer_mentor",
    "facilitator",
    "other_facilitator",
    "safeguarding_lead",
    "admin",
]
SIGNED_OUT = frozenset({"anonymous", "deactivated"})
# Operations anyone may call without being signed in.
OPEN_OPERATIONS = frozenset(
    {
        f"POST {API}/auth/token/",
        f"POST {API}/invites/{{code}}/redeem/",
        # Issue 17: the help directory is public, like /help/ (a woman in crisis may be signed out).
        f"GET {API}/help/services/",
    }
)

CHECKS = {
    "not_a_server_error": st_checks.not_a_server_error,
    "status_code_conformance": st_checks.status_code_conformance,
    "content_type_conformance": st_checks.content_type_conformance,
    "response_schema_conformance": st_checks.response_schema_conformance,
    "ignored_auth": st_checks.ignored_auth,
}


@dataclass(frozen=True)
class SchemaBug:
    """The served schema does not document what an operation answers (found by this suite).

    The operation is fuzzed without `check`, so everything else still holds for it, and
    `test_the_schema_documents_what_the_operation_answers` pins the mismatch as a strict xfail
    (as `persona`) until the schema is fixed; then delete the entry.
    """

    check: str
    persona: str
    reason: str


# Operations whose schema did not match what they answer: none left (the paginated lists and
# the redeem 401 are documented now). Add one here, with its reason, only as a strict xfail.
SCHEMA_BUGS: dict[str, SchemaBug] = {}


# Operations that take a list of ids: an id past 2**63-1 once answered 500 on SQLite (sqlite3's
# OverflowError); `test_ids_past_64_bits_are_refused` keeps it a 400 on every backend.
ID_LISTS_WITHOUT_RANGE = {
    # facilitation/serializers.py:47 and :60 (co_hosts), facilitation/services.py:139
    f"POST {API}/groups/{{group_id}}/sessions/": "co_hosts",
    f"PATCH {API}/sessions/{{session_id}}/": "co_hosts",
    # safeguarding/serializers.py:25 (message_ids), safeguarding/services.py:194
    f"POST {API}/concerns/": "message_ids",
}


# --- the application and its schema ----------------------------------------------------------


@functools.cache
def wsgi_application() -> WSGIHandler:
    return WSGIHandler()


@functools.cache
def api_schema() -> Any:
    """The schema as `/api/schema/` serves it, bound to Django's WSGI handler."""
    with _django_connections_kept():
        return schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_application())


def operation_labels() -> list[str]:
    return sorted(result.ok().label for result in api_schema().get_all_operations())


@contextlib.contextmanager
def _django_connections_kept() -> Iterator[None]:
    """Django's test client does this too: a request must not close the test's connection
    (which holds the test transaction), as `close_old_connections` would."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# --- the world the requests are aimed at ------------------------------------------------------


@dataclass
class Targets:
    """Real objects of group A and B, by the path parameter that names them."""

    world: World
    values: dict[str, list[Any]] = field(default_factory=dict)
    # Which group each object belongs to, by parameter name and id.
    group_of: dict[str, dict[Any, int]] = field(default_factory=dict)
    co_hosted_sessions: set[int] = field(default_factory=set)
    concern_visible_to: dict[int, frozenset[str]] = field(default_factory=dict)
    concern_status_by: dict[int, frozenset[str]] = field(default_factory=dict)

    def add(self, name: str, value: Any, group: Group) -> None:
        self.values.setdefault(name, []).append(value)
        self.group_of.setdefault(name, {})[value] = group.pk

    def combos(self, parameters: list[str]) -> list[dict[str, Any]]:
        """Every combination of known values for these path parameters (A's, B's, mixed)."""
        combos: list[dict[str, Any]] = [{}]
        for name in parameters:
            known = self.values.get(name)
            if not known:
                return []
            combos = [{**combo, name: value} for combo in combos for value in known]
        return combos


def build_targets() -> Targets:
    room = make_room()  # group A: agreement accepted, a live session co-hosted by peer_mentor
    world = room.world
    targets = Targets(world=world)
    a, b = world.group_a, world.group_b
    fac_a, fac_b = world.users["facilitator"], world.users["other_facilitator"]
    for group in (a, b):
        targets.add("group_id", group.pk, group)
    for membership in Membership.objects.filter(group__in=[a, b]):
        targets.add("member_id", membership.pk, membership.group)
    targets.add("session_id", room.session.pk, a)
    targets.co_hosted_sessions.add(room.session.pk)
    now = timezone.now()
    for group, host in ((a, fac_a), (b, fac_b)):
        session = session_services.session_create(
            actor=host,
            group=group,
            title="Morning circle",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            kind="booked",
        )
        targets.add("session_id", session.pk, group)
        invite, code = group_services.invite_create(actor=host, group=group)
        targets.add("invite_id", invite.pk, group)
        targets.add("code", code, group)
    group_services.agreement_publish(actor=fac_b, group=b, points=["Listen"])
    for group, author in ((a, world.users["member"]), (b, world.users["outsider"])):
        proposal = group_services.proposal_create(actor=author, group=group, text="No phones")
        targets.add("proposal_id", proposal.pk, group)
    mine = safeguarding_services.concern_raise(
        actor=world.users["member"],
        group_id=a.pk,
        category="my_wellbeing",
        body="Something said in confidence",
    )
    targets.add("concern_id", mine.pk, a)
    targets.concern_visible_to[mine.pk] = frozenset({"member", "facilitator"})
    targets.concern_status_by[mine.pk] = frozenset({"facilitator"})
    shared = safeguarding_services.concern_raise(
        actor=world.users["member2"],
        group_id=a.pk,
        category="my_wellbeing",
        body="Something else said in confidence",
        share_with_peer_mentors=True,
    )
    targets.add("concern_id", shared.pk, a)
    targets.concern_visible_to[shared.pk] = frozenset({"peer_mentor", "facilitator"})
    targets.concern_status_by[shared.pk] = frozenset({"facilitator"})
    theirs = safeguarding_services.concern_raise(
        actor=world.users["outsider"],
        group_id=b.pk,
        category="my_wellbeing",
        body="Something from group B",
    )
    targets.add("concern_id", theirs.pk, b)
    targets.concern_visible_to[theirs.pk] = frozenset({"outsider", "other_facilitator"})
    targets.concern_status_by[theirs.pk] = frozenset({"other_facilitator"})
    return targets


# --- the authorisation oracle -----------------------------------------------------------------

# Personas' role in each group (deactivated is signed out and never gets this far).
ROLES = {
    "A": {"facilitator": "facilitator", "peer_mentor": "peer_mentor", "member": "member"},
    "B": {"other_facilitator": "facilitator", "outsider": "member"},
}
IN_GROUP = frozenset({"facilitator", "peer_mentor", "member"})
FACILITATOR = frozenset({"facilitator"})


def _route(path: str) -> str:
    return path.removeprefix(API)


# Operations outside any group: the org roles that may get a 2xx.
ORG_RULES: dict[str, frozenset[str]] = {
    "GET /audit/": frozenset({"safeguarding_lead", "admin"}),
    "POST /groups/": frozenset({"facilitator", "other_facilitator", "admin"}),
}
# Who may get a 2xx on a group's operation: roles in the group, plus org roles.
GROUP_RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "GET /groups/{group_id}/": (IN_GROUP, frozenset({"safeguarding_lead", "admin"})),
    "PATCH /groups/{group_id}/": (FACILITATOR, frozenset({"admin"})),
    "GET /groups/{group_id}/agreement/": (IN_GROUP, frozenset({"safeguarding_lead", "admin"})),
    "POST /groups/{group_id}/agreement/": (FACILITATOR, frozenset({"admin"})),
    "POST /groups/{group_id}/agreement/accept/": (IN_GROUP, frozenset()),
    "GET /groups/{group_id}/agreement/acceptances/": (
        frozenset({"facilitator", "peer_mentor"}),
        frozenset({"admin"}),
    ),
    "GET /groups/{group_id}/agreement/proposals/": (IN_GROUP, frozenset({"admin"})),
    "POST /groups/{group_id}/agreement/proposals/": (IN_GROUP, frozenset()),
    "PATCH /groups/{group_id}/agreement/proposals/{proposal_id}/": (
        FACILITATOR,
        frozenset({"admin"}),
    ),
    "GET /groups/{group_id}/invites/": (FACILITATOR, frozenset({"admin"})),
    "POST /groups/{group_id}/invites/": (FACILITATOR, frozenset({"admin"})),
    "DELETE /groups/{group_id}/invites/{invite_id}/": (FACILITATOR, frozenset({"admin"})),
    "GET /groups/{group_id}/members/": (IN_GROUP, frozenset({"admin"})),
    "PATCH /groups/{group_id}/members/{member_id}/": (FACILITATOR, frozenset({"admin"})),
    # ... and a member may remove herself (leave): see `may_succeed`.
    "DELETE /groups/{group_id}/members/{member_id}/": (FACILITATOR, frozenset({"admin"})),
    # Issue 16: pause or remove with a staff-only reason; bring her back.
    "POST /groups/{group_id}/members/{member_id}/decision/": (FACILITATOR, frozenset({"admin"})),
    "POST /groups/{group_id}/members/{member_id}/reinstate/": (FACILITATOR, frozenset({"admin"})),
    "GET /groups/{group_id}/sessions/": (IN_GROUP, frozenset({"admin"})),
    "POST /groups/{group_id}/sessions/": (FACILITATOR, frozenset({"admin"})),
    "GET /sessions/{session_id}/": (IN_GROUP, frozenset({"admin"})),
    "PATCH /sessions/{session_id}/": (FACILITATOR, frozenset({"admin"})),
    "GET /sessions/{session_id}/events/": (IN_GROUP, frozenset({"admin"})),
    # ... and the session's co-hosts (peer mentors): see `may_succeed`.
    "GET /sessions/{session_id}/plan/": (FACILITATOR, frozenset({"admin"})),
    "PUT /sessions/{session_id}/plan/": (FACILITATOR, frozenset({"admin"})),
    "GET /sessions/{session_id}/attendance/": (FACILITATOR, frozenset({"admin"})),
    # Issue 15. Members read their own support requests and threads (lists filtered to hers).
    "GET /groups/{group_id}/support/": (IN_GROUP, frozenset({"admin"})),
    "POST /groups/{group_id}/support/": (IN_GROUP, frozenset()),
    "POST /groups/{group_id}/support/{request_id}/status/": (FACILITATOR, frozenset({"admin"})),
    "GET /groups/{group_id}/private/": (IN_GROUP, frozenset({"admin"})),
    # ... and her own thread: see `may_succeed`. An admin outside the group reads, never writes.
    "GET /groups/{group_id}/private/{member_id}/messages/": (FACILITATOR, frozenset({"admin"})),
    "POST /groups/{group_id}/private/{member_id}/messages/": (FACILITATOR, frozenset()),
    "GET /sessions/{session_id}/checkins/": (FACILITATOR, frozenset({"admin"})),
    "POST /sessions/{session_id}/checkins/": (IN_GROUP, frozenset()),
    "POST /sessions/{session_id}/checkins/skip/": (IN_GROUP, frozenset()),
    # Issue 16: debrief notes, for the group's facilitators (and the leads read them).
    "GET /sessions/{session_id}/debriefs/": (
        FACILITATOR,
        frozenset({"safeguarding_lead", "admin"}),
    ),
    "POST /sessions/{session_id}/debriefs/": (FACILITATOR, frozenset({"admin"})),
    # Issue 17: referrals with consent are listed and proposed by the group's facilitators.
    "GET /groups/{group_id}/referrals/": (FACILITATOR, frozenset({"admin"})),
    "POST /groups/{group_id}/referrals/": (FACILITATOR, frozenset({"admin"})),
}
# Routes where a member may act on her own member id (leave; her private thread).
OWN_MEMBER_ROUTES = (
    "DELETE /groups/{group_id}/members/",
    "GET /groups/{group_id}/private/",
    "POST /groups/{group_id}/private/",
)
CO_HOST_ROUTES = frozenset(
    {
        "GET /sessions/{session_id}/plan/",
        "PUT /sessions/{session_id}/plan/",
        "GET /sessions/{session_id}/attendance/",
    }
)
CONCERN_STATUS_ROUTE = "POST /concerns/{concern_id}/status/"
# Issue 16: taking a concern and its staff-only notes are for those who move it, like status.
CONCERN_MOVER_ROUTES = frozenset(
    {
        CONCERN_STATUS_ROUTE,
        "POST /concerns/{concern_id}/take/",
        "GET /concerns/{concern_id}/notes/",
        "POST /concerns/{concern_id}/notes/",
    }
)
DIGITS = re.compile(r"[0-9]+")


def role_in(persona: str, group_id: int, world: World) -> str | None:
    name = "A" if group_id == world.group_a.pk else "B" if group_id == world.group_b.pk else None
    return ROLES.get(name, {}).get(persona) if name else None


def resolve(targets: Targets, name: str, value: Any) -> Any:
    """The id Django's URL router reads from a generated path value (`<int:...>` takes ASCII
    digits only), if it names an object we registered; otherwise `None`."""
    text = str(value)
    if name != "code":
        if not DIGITS.fullmatch(text):
            return None
        value = int(text)
    return value if value in targets.group_of.get(name, {}) else None


def may_succeed(persona: str, label: str, path_parameters: dict[str, Any], t: Targets) -> str:
    """'' when a 2xx is allowed for this persona here; otherwise why it must not happen."""
    method, path = label.split(" ", 1)
    route = f"{method} {_route(path)}"
    if label == f"POST {API}/auth/token/" and persona == "deactivated":
        return "a deactivated account got a token"
    if label in OPEN_OPERATIONS:
        return ""
    if persona in SIGNED_OUT:
        return "signed out"
    if route in ORG_RULES:
        return "" if persona in ORG_RULES[route] else f"{persona} has no such org role"
    if not path_parameters or route.startswith("POST /invites/"):
        return ""
    resolved = {name: resolve(t, name, value) for name, value in path_parameters.items()}
    if any(value is None for value in resolved.values()):
        # An id we did not register: nothing, or a row the world made along the way (such as
        # the invites the members joined with). Nothing is asserted about it here.
        return ""
    groups = {t.group_of[name][value] for name, value in resolved.items()}
    if len(groups) > 1:
        return f"objects of two groups in one URL {resolved}"
    (group_id,) = groups
    if "concern_id" in resolved:
        concern_id = resolved["concern_id"]
        allowed = (
            t.concern_status_by[concern_id]
            if route in CONCERN_MOVER_ROUTES
            else t.concern_visible_to[concern_id]
        )
        return "" if persona in allowed else f"concern {concern_id} is not hers to see or handle"
    rule = GROUP_RULES.get(route)
    assert rule is not None, f"no authorisation rule for {route}"
    roles, org_roles = rule
    role = role_in(persona, group_id, t.world)
    if role in roles or persona in org_roles:
        return ""
    if route.startswith(OWN_MEMBER_ROUTES) and role is not None:
        own = t.world.members[persona].pk
        if resolved.get("member_id") == own:
            return ""
    if (
        route in CO_HOST_ROUTES
        and role == "peer_mentor"
        and resolved["session_id"] in t.co_hosted_sessions
    ):
        return ""
    return f"{persona} ({role or 'not in the group'}) in group {group_id}"


def check_lists(persona: str, label: str, body: Any, t: Targets) -> str:
    """Lists never show a group or a concern the persona may not see."""
    world = t.world
    results = body.get("results", body) if isinstance(body, dict) else body
    if not isinstance(results, list):
        return ""
    if label == f"GET {API}/groups/":
        seen = {item.get("id") for item in results if isinstance(item, dict)}
        for group in (world.group_a, world.group_b):
            member = role_in(persona, group.pk, world) is not None
            staff = persona in {"safeguarding_lead", "admin"}
            if group.pk in seen and not (member or staff):
                return f"group {group.pk} listed for {persona}"
    if label == f"GET {API}/concerns/":
        seen = {item.get("id") for item in results if isinstance(item, dict)}
        for concern_id, allowed in t.concern_visible_to.items():
            if concern_id in seen and persona not in allowed:
                return f"concern {concern_id} listed for {persona}"
    return ""


def check_concern_raised(persona: str, label: str, status: int, t: Targets) -> str:
    """A concern is raised only by a member of the group it is raised in."""
    if label != f"POST {API}/concerns/" or not 200 <= status < 300:
        return ""
    concern = Concern.objects.select_related("reporter").order_by("-id").first()
    reporter_user = concern.reporter.user_id if concern and concern.reporter else None
    user = t.world.users.get(persona)
    if concern is None or user is None or reporter_user != user.pk:
        return f"{persona} got {status} but no concern of hers was stored"
    if role_in(persona, concern.group_id, t.world) is None:
        return f"{persona} raised a concern in group {concern.group_id}, which is not hers"
    return ""


# --- running one operation for every persona --------------------------------------------------


class Rollback(Exception):
    """Leaves the example's savepoint, undoing whatever its requests wrote."""


@dataclass
class Outcome:
    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def case_strategy(operation: Any, targets: Targets, persona: str) -> st.SearchStrategy:
    names = [p.name for p in operation.path_parameters]
    strategies = [
        operation.as_strategy(generation_mode=mode)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for combo in targets.combos(names) if names else []:
        strategies.append(operation.as_strategy(path_parameters=combo))
        if operation.body or operation.query:
            strategies.append(
                operation.as_strategy(
                    generation_mode=GenerationMode.NEGATIVE, path_parameters=combo
                )
            )
    user = targets.world.users.get(persona)
    if operation.label == f"POST {API}/auth/token/" and user is not None:
        # Her own credentials: only a signed-in persona's account may get a token.
        strategies.append(
            operation.as_strategy(body={"username": user.username, "password": PASSWORD})
        )
    return st.one_of(strategies)


def fuzz(
    operation: Any,
    persona: str,
    targets: Targets,
    outcome: Outcome,
    *,
    checks: list[Any],
    authorisation: bool = True,
) -> None:
    token = targets.world.tokens.get(persona)
    headers = {"Authorization": f"Token {token}"} if token else None
    errors: list[str] = []

    def on_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
        errors.append(traceback.format_exc())

    @seed(zlib.crc32(f"{operation.label} {persona} {FUZZ_SEED}".encode()))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=case_strategy(operation, targets, persona))
    def run(case: Any) -> None:
        errors.clear()
        # Each example meets the same world: no throttle counts from the ones before it.
        clear_cache()
        try:
            with transaction.atomic():
                response = case.call(headers=headers)
                outcome.examples += 1
                outcome.statuses[response.status_code] = (
                    outcome.statuses.get(response.status_code, 0) + 1
                )
                assert not errors, f"the server raised:\n{errors[0][-1500:]}"
                case.validate_response(response, checks=checks, headers=headers)
                if authorisation and 200 <= response.status_code < 300:
                    why = may_succeed(persona, operation.label, case.path_parameters or {}, targets)
                    assert not why, (
                        f"authorisation bypassed: {persona} got {response.status_code} on "
                        f"{case.method} {case.formatted_path}: {why}"
                    )
                    body = response.json() if response.content else None
                    why = check_lists(persona, operation.label, body, targets) or (
                        check_concern_raised(
                            persona, operation.label, response.status_code, targets
                        )
                    )
                    assert not why, f"authorisation bypassed: {why}"
                raise Rollback
        except Rollback:
            pass

    got_request_exception.connect(on_exception)
    try:
        run()
    finally:
        got_request_exception.disconnect(on_exception)


def summary(failure: BaseException) -> str:
    """The failure in a few lines: each check that failed, and how to reproduce it."""
    if not isinstance(failure, BaseExceptionGroup):
        return "\n".join(str(failure).splitlines()[:12])
    lines = []
    for sub in failure.exceptions:
        message = getattr(sub, "message", str(sub)).strip().splitlines()
        lines.append(f"{getattr(sub, 'code', '')} {getattr(sub, 'title', type(sub).__name__)}")
        lines += [f"    {line}" for line in message[:3]]
    text = str(failure).splitlines()
    lines += [line for line in text if line.strip().startswith("curl ")][:1]
    return "\n".join(lines)


@pytest.fixture
def connections_kept() -> Iterator[None]:
    """Keep the test's connection across requests; keep 4xx warnings out of the log."""
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        with _django_connections_kept():
            yield
    finally:
        request_log.setLevel(level)


@pytest.mark.parametrize("label", operation_labels())
def test_operation_holds_for_every_persona(label: str, db: None, connections_kept: None) -> None:
    operation = api_schema().find_operation_by_label(label)
    assert operation is not None, label
    bug = SCHEMA_BUGS.get(label)
    checks = [check for name, check in CHECKS.items() if bug is None or name != bug.check]
    targets = build_targets()
    outcome = Outcome()
    failures: list[str] = []
    for persona in FUZZED_PERSONAS:
        try:
            fuzz(operation, persona, targets, outcome, checks=checks)
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"--- as {persona} ---\n{summary(failure)}")
    print(f"{label}: {outcome.examples} requests, statuses {sorted(outcome.statuses.items())}")
    assert not failures, "\n".join(failures)


def _past_64_bits(targets: Targets, label: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(persona, path parameters, body): a request she may make, but for one id past 2**63-1."""
    world = targets.world
    too_big = MAX_ID + 1
    if label.endswith("/sessions/"):
        start = timezone.now() + timedelta(days=1)
        body = {
            "title": "Evening circle",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "kind": "booked",
            "co_hosts": [too_big],
        }
        return "facilitator", {"group_id": world.group_a.pk}, body
    if "{session_id}" in label:
        return (
            "facilitator",
            {"session_id": targets.values["session_id"][0]},
            {"co_hosts": [too_big]},
        )
    body = {
        "group_id": world.group_a.pk,
        "category": "my_wellbeing",
        "body": "I would like to talk about last week",
        "urgency": "low",
        "message_ids": [too_big],
    }
    return "member", {}, body


@pytest.mark.parametrize("label", sorted(ID_LISTS_WITHOUT_RANGE))
def test_ids_past_64_bits_are_refused(label: str, db: None, connections_kept: None) -> None:
    operation = api_schema().find_operation_by_label(label)
    targets = build_targets()
    persona, path_parameters, body = _past_64_bits(targets, label)
    case = operation.Case(path_parameters=path_parameters, body=body)
    headers = {"Authorization": f"Token {targets.world.tokens[persona]}"}
    with contextlib.suppress(Rollback), transaction.atomic():
        response = case.call(headers=headers)
        status = response.status_code
        raise Rollback
    assert status == 400, f"{label} answered {status}"


def test_every_operation_is_fuzzed_and_the_schema_is_served() -> None:
    labels = operation_labels()
    assert len(labels) >= 30, labels
    assert all(label.split(" ", 1)[1].startswith(API + "/") for label in labels)
