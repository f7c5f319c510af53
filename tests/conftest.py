"""Shared fixtures: a small world of named personas, built through the real services.

Personas (the authorisation matrix uses the same names):
- anonymous: nobody signed in
- outsider: signed in, member of another group only
- member, member2: members of group A
- peer_mentor: a peer mentor of group A
- facilitator: the facilitator of group A
- other_facilitator: the facilitator of group B (not in A)
- safeguarding_lead, admin: org staff, in no group
- deactivated: was a member of group A, account switched off
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from groups import services as group_services
from groups.models import Group, GroupRole, Membership, OrgRole, User

PASSWORD = "correct horse battery staple"
PERSONAS = [
    "anonymous",
    "outsider",
    "member",
    "peer_mentor",
    "facilitator",
    "other_facilitator",
    "safeguarding_lead",
    "admin",
    "deactivated",
]


@dataclass
class World:
    group_a: Group
    group_b: Group
    users: dict[str, User | None] = field(default_factory=dict)
    members: dict[str, Membership] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, persona: str) -> APIClient:
        client = APIClient()
        token = self.tokens.get(persona)
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    def user(self, persona: str) -> User | None:
        return self.users.get(persona)


def make_staff(username: str, role: str) -> User:
    return group_services.staff_create(
        actor=None, username=username, password=PASSWORD, org_role=role
    ).user


def join(group: Group, *, by: User, username: str, display_name: str, role: str) -> Membership:
    _, code = group_services.invite_create(actor=by, group=group, role=role)
    membership, _ = group_services.invite_redeem(
        actor=None, code=code, display_name=display_name, username=username, password=PASSWORD
    )
    return membership


@pytest.fixture(autouse=True)
def _fast_hashers(request: pytest.FixtureRequest, settings: Any) -> None:
    """Argon2 is deliberately slow; tests that check hashing ask for `real_hashers`."""
    if "real_hashers" not in request.fixturenames:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def real_hashers() -> None:
    """Keep the production password hashers for this test."""


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete() -> Iterator[None]:
    """A transactional test ends with Django's flush. On PostgreSQL that is one TRUNCATE of
    every table (a new file for each of ~60 tables and their indexes): 0.35 s each time on this
    machine, then its post_migrate makes every content type and permission again. The tables
    hold a handful of rows, so DELETE empties them, and keeping the content types and
    permissions (migrate made them; nothing changes them) leaves post_migrate nothing to make:
    0.035 s in all. FOREIGN KEYs are deferred to the flush's commit, so the order is free."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    kept = {"django_content_type", "auth_permission"}

    def sql_flush(
        self: DatabaseOperations,
        style: Any,
        tables: list[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        assert not reset_sequences, "no test resets sequences (they would need TRUNCATE)"
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables if table not in kept]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(autouse=True)
def _reset_lockouts(db: None) -> None:
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()


def shipped_taxonomy() -> None:
    """The content-warning rows migration 0002 makes: a transactional test's flush empties the
    table, and the taxonomy is read from it (issue 19), so every world starts with them."""
    from facilitation.models import ContentWarning
    from facilitation.taxonomy import CONTENT_WARNINGS

    ContentWarning.objects.bulk_create(
        [
            ContentWarning(key=key, label=label, description=description, position=position)
            for position, (key, label, description) in enumerate(CONTENT_WARNINGS)
        ],
        ignore_conflicts=True,
    )


def build_world() -> World:
    shipped_taxonomy()
    facilitator = make_staff("fac-a", OrgRole.FACILITATOR)
    other_facilitator = make_staff("fac-b", OrgRole.FACILITATOR)
    lead = make_staff("lead", OrgRole.SAFEGUARDING_LEAD)
    admin = make_staff("admin", OrgRole.ADMIN)
    group_a = group_services.group_create(
        actor=facilitator, name="Group A", description="For A", display_name="Sam"
    )
    group_b = group_services.group_create(
        actor=other_facilitator, name="Group B", description="For B", display_name="Bea"
    )
    world = World(group_a=group_a, group_b=group_b)
    world.members["facilitator"] = Membership.objects.get(group=group_a, user=facilitator)
    world.members["other_facilitator"] = Membership.objects.get(
        group=group_b, user=other_facilitator
    )
    world.members["peer_mentor"] = join(
        group_a, by=facilitator, username="mentor", display_name="Mari", role=GroupRole.PEER_MENTOR
    )
    world.members["member"] = join(
        group_a, by=facilitator, username="rose", display_name="Rose", role=GroupRole.MEMBER
    )
    world.members["member2"] = join(
        group_a, by=facilitator, username="jade", display_name="Jade", role=GroupRole.MEMBER
    )
    world.members["deactivated"] = join(
        group_a, by=facilitator, username="gone", display_name="Gone", role=GroupRole.MEMBER
    )
    world.members["outsider"] = join(
        group_b, by=other_facilitator, username="olga", display_name="Olga", role=GroupRole.MEMBER
    )
    world.users = {"anonymous": None, "safeguarding_lead": lead, "admin": admin}
    for persona, membership in world.members.items():
        world.users[persona] = membership.user
    for persona, user in world.users.items():
        if user is not None:
            world.tokens[persona] = group_services.token_issue(user=user)
    deactivated = world.users["deactivated"]
    assert deactivated is not None
    group_services.account_deactivate(actor=admin, user=deactivated)
    deactivated.refresh_from_db()
    return world


@pytest.fixture
def world(db: None, request: pytest.FixtureRequest) -> World:
    """The personas. Built through the services once per test process, then restored from a
    snapshot of its rows (tests/snapshot.py); with `real_hashers`, built every time (the
    snapshot's passwords are hashed with the fast test hasher)."""
    if "real_hashers" in request.fixturenames:
        return build_world()
    from tests.snapshot import world_from_snapshot

    shipped_taxonomy()  # the migration's rows, outside the snapshot
    return world_from_snapshot(build_world)


@pytest.fixture(autouse=True)
def _close_fast_post_connections() -> Iterator[None]:
    """The room's asynchronous PostgreSQL connections belong to one test's event loop."""
    yield
    from project import asyncdb, realtime

    asyncdb.close_all()
    # The room's database threads keep their connections between calls: give them back, so
    # no test's connection outlives it (and the test database can be dropped at the end).
    realtime.stop_db_threads()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Django keeps the active language per thread, and a request in Spanish (its cookie or
    Accept-Language) leaves it active after the response: each test starts, and ends, in the
    default language, whatever ran before it on this worker."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_frame_limits() -> None:
    """The room's per-member frame windows live in the process; each test starts with none."""
    from facilitation.services import frame_limiter

    frame_limiter.seen.clear()


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    """Sign-in slow-downs and REST throttles count in Django's cache; each test starts with
    none. On Redis, under a key prefix of this test process: other runs may share the Redis
    database, and each clears its own counts."""
    import os

    config = settings.CACHES["default"]
    if config["BACKEND"].endswith("RedisCache"):
        prefix = f"{config['KEY_PREFIX'].split('.')[0]}.{os.getpid()}"
        settings.CACHES = {"default": {**config, "KEY_PREFIX": prefix}}
    clear_cache()


def clear_cache() -> None:
    """Forget every count in Django's cache. On Redis only the cache's own keys go (FLUSHDB
    would take the channel layer's too)."""
    from django.conf import settings
    from django.core.cache import cache

    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("RedisCache"):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{config['KEY_PREFIX']}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _staff_force_login_is_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test browsers that `force_login` a staff account also hold her second factor, as after
    the code page (django_otp.login records the device in the session). Production is not
    touched: tests of the unverified case sign in through the real pages instead."""
    from django.test import Client

    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from groups.policies import needs_second_factor

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if needs_second_factor(user) and device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


def totp_code(secret: str, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app set up with `secret` (base32) shows now, or that many
    30-second steps later (a code is accepted once; the server allows one step of drift)."""
    import base64

    from django_otp.oath import totp

    return f"{totp(base64.b32decode(secret), step=30, digits=6, drift=steps_ahead):06d}"


def staff_secret(user: User) -> str:
    """The base32 secret of a test staff account's authenticator (read back from its device)."""
    import base64

    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user)
    return base64.b32encode(device.bin_key).decode("ascii")


def manage_py(*args: str) -> Any:
    """`python manage.py ARGS` in a process of its own (its exit code and what it wrote), for
    the commands' exit codes; settings from this environment."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
