"""Command-line tools: `staff_create` and `seed_demo`."""

from __future__ import annotations

import io
import json
import re
import stat
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from groups.models import Group, Membership, User
from project.models import AuditEntry
from tests.conftest import totp_code

STRONG = "a long enough password"


def staff_create(monkeypatch, username: str, role: str, password: str) -> str:
    # The command reads the password from sys.stdin itself (one line), like a shell pipe.
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command("staff_create", username, role=role, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_staff_create_makes_a_facilitator_that_can_sign_in(monkeypatch):
    output = staff_create(monkeypatch, "alice", "facilitator", STRONG)

    assert "alice" in output
    assert STRONG not in output
    user = User.objects.get(username="alice")
    assert user.org_role == "facilitator"
    assert user.check_password(STRONG)
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert (user.email, user.first_name, user.last_name) == ("", "", "")
    audit = AuditEntry.objects.get(action="account.staff_created", target_id=str(user.pk))
    assert audit.actor is None
    assert audit.extra == {"role": "facilitator"}
    # Staff sign in with the password and the code of the key printed once (issue 13).
    secret = re.search(r"authenticator app \(shown only now\):\n  ([A-Z2-7]+)", output)
    assert secret is not None, output
    without_code = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": STRONG}, format="json"
    )
    assert without_code.status_code == 400
    assert "otp" in without_code.json()["extra"]["fields"]
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": STRONG, "otp": totp_code(secret.group(1))},
        format="json",
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_staff_create_admin_gets_the_django_admin_too(monkeypatch):
    staff_create(monkeypatch, "root-person", "admin", STRONG)

    user = User.objects.get(username="root-person")
    assert (user.org_role, user.is_staff, user.is_superuser) == ("admin", True, True)


@pytest.mark.django_db
def test_staff_create_keeps_a_password_with_surrounding_spaces_exactly(monkeypatch):
    staff_create(monkeypatch, "lee", "safeguarding_lead", "  spaced out password  ")

    assert User.objects.get(username="lee").check_password("  spaced out password  ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "short"),
        ("alice", "password123"),
        ("alice", "12345678901234"),
        ("alice", ""),
        ("Alice Smith", STRONG),
    ],
    ids=["too-short", "common", "numeric", "empty", "real-name-like-username"],
)
def test_staff_create_refuses_weak_input_and_creates_nothing(monkeypatch, username, password):
    before = (User.objects.count(), AuditEntry.objects.count())

    with pytest.raises(CommandError):
        staff_create(monkeypatch, username, "facilitator", password)

    assert (User.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.django_db
def test_staff_create_refuses_a_username_already_taken(monkeypatch):
    staff_create(monkeypatch, "alice", "facilitator", STRONG)

    with pytest.raises(CommandError, match="taken"):
        staff_create(monkeypatch, "ALICE", "admin", STRONG)

    assert User.objects.get(username="alice").org_role == "facilitator"


@pytest.mark.django_db
def test_staff_create_refuses_a_role_that_is_not_staff(monkeypatch):
    with pytest.raises(CommandError):
        staff_create(monkeypatch, "alice", "none", STRONG)

    assert not User.objects.filter(username="alice").exists()


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


ACCOUNT_LINE = r"^\s+.+?\s+(demo-[a-z-]+)\s+(\S+)(?:\s+authenticator key ([A-Z2-7]+))?\s*$"


def passwords_in(output: str) -> dict[str, str]:
    return {name: pw for name, pw, _key in re.findall(ACCOUNT_LINE, output, flags=re.MULTILINE)}


def secrets_in(output: str) -> dict[str, str]:
    """The demo staff's authenticator keys, printed beside their passwords."""
    return {name: key for name, _pw, key in re.findall(ACCOUNT_LINE, output, flags=re.M) if key}


def sign_in_each(output: str) -> None:
    secrets = secrets_in(output)
    assert set(secrets) == {"demo-facilitator", "demo-lead", "demo-admin"}
    for username, password in passwords_in(output).items():
        body = {"username": username, "password": password}
        if username in secrets:
            body["otp"] = totp_code(secrets[username])
        response = APIClient().post("/api/v1/auth/token/", body, format="json")
        assert response.status_code == 200, username


def world_counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Group.objects.count(),
        Membership.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_accounts_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    first = seed()
    counts = world_counts()
    second = seed()

    assert first == second
    assert world_counts() == counts
    accounts = passwords_in(first)
    assert set(accounts) == {
        "demo-facilitator",
        "demo-lead",
        "demo-admin",
        "demo-mentor",
        "demo-rose",
        "demo-jade",
        "demo-amber",
    }
    assert User.objects.get(username="demo-facilitator").org_role == "facilitator"
    assert User.objects.get(username="demo-lead").org_role == "safeguarding_lead"
    assert User.objects.get(username="demo-admin").org_role == "admin"
    group = Group.objects.get(name="Thursday evening circle")
    roles = dict(group.memberships.values_list("user__username", "role"))
    assert roles == {
        "demo-facilitator": "facilitator",
        "demo-mentor": "peer_mentor",
        "demo-rose": "member",
        "demo-jade": "member",
        "demo-amber": "member",
    }
    sign_in_each(first)


@pytest.mark.django_db
def test_seed_demo_keeps_its_passwords_in_a_private_file_under_var(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    output = seed()

    path = tmp_path / "demo-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = json.loads(path.read_text())["accounts"]
    stored = {row["username"]: row["password"] for row in rows}
    assert stored == passwords_in(output)
    keys = {row["username"]: row["totp_secret"] for row in rows if row.get("totp_secret")}
    assert keys == secrets_in(output)


@pytest.mark.django_db
def test_seed_demo_run_again_after_its_credentials_file_is_lost_does_not_crash(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed()
    counts = world_counts()
    (tmp_path / "demo-credentials.json").unlink()

    output = seed()

    assert world_counts()[:3] == counts[:3]
    accounts = passwords_in(output)
    assert "demo-facilitator" in accounts
    sign_in_each(output)
