"""`manage.py seed_demo`: a demo organisation for `make run`. Idempotent.

The "Get help now" directory comes from an HSDS datapackage in the repository
(safeguarding/fixtures/demo_directory/), imported through the same service as
`manage.py import_services`, so `make run` exercises the importer.

Everything is made through the same services the API uses. Passwords are generated once and
kept in var/demo-credentials.json (mode 0600) so a second run can print them again, with the
demo staff's authenticator keys (staff sign in with a password and a 6-digit code).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from facilitation import services as session_services
from facilitation.models import SessionKind, SessionStatus
from groups import services as group_services
from groups.models import GroupRole, OrgRole, User
from groups.policies import needs_second_factor
from safeguarding.services import directory_import

FACILITATOR = "demo-facilitator"
LEAD = "demo-lead"
ADMIN = "demo-admin"
MENTOR = "demo-mentor"
MEMBERS = [("demo-rose", "Rose"), ("demo-jade", "Jade"), ("demo-amber", "Amber")]
GROUP_NAME = "Thursday evening circle"
# A small made-up directory plus National Ugly Mugs (issue 17), as an HSDS datapackage.
DEMO_DIRECTORY = (
    Path(__file__).resolve().parents[3] / "safeguarding" / "fixtures" / "demo_directory"
)
AGREEMENT = [
    "What is shared here stays here. Do not repeat names or stories outside the group.",
    "Use the name you chose for this group. Do not ask anyone for her real name or contacts.",
    "No selling, recruiting or arranging work with each other, here or outside.",
    "Listen without judging. Speak about your own experience.",
    "You can pass in any round, and you can step out and come back at any time.",
    "If something worries you, tell a facilitator privately with 'raise a concern'.",
]
PLAN = [
    {"title": "Arrive and check in", "kind": "check_in", "minutes": 10},
    {"title": "Grounding: five things you can see", "kind": "grounding", "minutes": 5},
    {
        "title": "Looking after ourselves at work",
        "kind": "topic",
        "minutes": 40,
        "notes": "Keep it to what helps now; signpost to specialist services for details.",
        "content_warnings": ["physical_violence"],
    },
    {"title": "Break", "kind": "break", "minutes": 10},
    {"title": "One thing I will do this week", "kind": "round", "minutes": 20},
    {"title": "Check out", "kind": "check_out", "minutes": 10},
]
GROUP_DESCRIPTION = (
    "Who this is for: women who sell or exchange sex, in any setting, who want to talk with "
    "others who understand. Come as you are, under any name you like. You can pass in any "
    "round, step out and come back, and tell a facilitator privately if something is wrong."
)


def _credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def _password() -> str:
    return f"haven-{secrets.token_urlsafe(9)}"


class Command(BaseCommand):
    help = "Create the demo organisation (once) and print its sign-in details."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = directory_import(actor=None, paths=[DEMO_DIRECTORY])
        self.stdout.write(f"Help directory: {counts['services']} services (/help/).")
        path = _credentials_path()
        if User.objects.filter(username=FACILITATOR).exists() and path.exists():
            credentials = json.loads(path.read_text())
        else:
            # Without the file but with the accounts (the database outlived var/), the demo
            # accounts get new passwords; otherwise the demo is created.
            exists = User.objects.filter(username=FACILITATOR).exists()
            credentials = self._reset_passwords() if exists else self._seed()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(json.dumps(credentials, indent=2))
        self.stdout.write("Demo accounts (sign in at http://127.0.0.1:8000/):")
        for row in credentials["accounts"]:
            line = f"  {row['role']:<22} {row['username']:<18} {row['password']}"
            if row.get("totp_secret"):
                line += f"  authenticator key {row['totp_secret']}"
            self.stdout.write(line)
        self.stdout.write(
            "Staff then type the 6-digit code from an authenticator app set up with the key."
        )

    @transaction.atomic
    def _reset_passwords(self) -> dict[str, Any]:
        roles = {
            FACILITATOR: "facilitator",
            LEAD: "safeguarding lead",
            ADMIN: "admin",
            MENTOR: "peer mentor",
        }
        accounts = []
        if not User.objects.filter(username=ADMIN).exists():
            # A demo from before there was an admin (issue 16: staff pages) gets one.
            group_services.staff_create(
                actor=None, username=ADMIN, password=_password(), org_role=OrgRole.ADMIN
            )
        for username in [FACILITATOR, LEAD, ADMIN, MENTOR, *[n for n, _shown in MEMBERS]]:
            user = User.objects.filter(username=username).first()
            if user is None:
                continue
            password = _password()
            user.set_password(password)
            user.save(update_fields=["password"])
            row = {
                "role": roles.get(username, "member"),
                "username": username,
                "password": password,
            }
            if needs_second_factor(user):
                row["totp_secret"] = group_services.second_factor_enrol(user=user).totp_secret
            accounts.append(row)
        return {"accounts": accounts}

    @transaction.atomic
    def _seed(self) -> dict[str, Any]:
        accounts: list[dict[str, str]] = []
        passwords = {name: _password() for name in [FACILITATOR, LEAD, ADMIN]}
        made = group_services.staff_create(
            actor=None,
            username=FACILITATOR,
            password=passwords[FACILITATOR],
            org_role=OrgRole.FACILITATOR,
        )
        facilitator = made.user
        lead = group_services.staff_create(
            actor=None,
            username=LEAD,
            password=passwords[LEAD],
            org_role=OrgRole.SAFEGUARDING_LEAD,
        )
        admin = group_services.staff_create(
            actor=None, username=ADMIN, password=passwords[ADMIN], org_role=OrgRole.ADMIN
        )
        for role, username, password, created in (
            ("facilitator", FACILITATOR, passwords[FACILITATOR], made),
            ("safeguarding lead", LEAD, passwords[LEAD], lead),
            ("admin", ADMIN, passwords[ADMIN], admin),
        ):
            accounts.append(
                {
                    "role": role,
                    "username": username,
                    "password": password,
                    "totp_secret": created.enrolment.totp_secret,
                }
            )
        group = group_services.group_create(
            actor=facilitator,
            name=GROUP_NAME,
            description=GROUP_DESCRIPTION,
            display_name="Sam (facilitator)",
        )
        people = [
            (MENTOR, "Mari", GroupRole.PEER_MENTOR),
            *[(username, shown, GroupRole.MEMBER) for username, shown in MEMBERS],
        ]
        agreement = group_services.agreement_publish(
            actor=facilitator, group=group, points=AGREEMENT
        )
        members = []
        for username, shown, role in people:
            _, code = group_services.invite_create(actor=facilitator, group=group, role=role)
            password = _password()
            membership, _token = group_services.invite_redeem(
                actor=None, code=code, display_name=shown, username=username, password=password
            )
            members.append(membership)
            if username != MEMBERS[-1][0]:
                # The last demo member has not accepted yet, to show the agreement step.
                group_services.agreement_accept(
                    actor=membership.user, group=group, version=agreement.version
                )
            accounts.append(
                {
                    "role": str(GroupRole(role).label).lower(),
                    "username": username,
                    "password": password,
                }
            )
        self._sessions(facilitator=facilitator, group=group, mentor_id=members[0].pk)
        return {"group_id": group.pk, "accounts": accounts}

    def _sessions(self, *, facilitator: User, group: Any, mentor_id: int) -> None:
        now = timezone.now().replace(second=0, microsecond=0)
        today = session_services.session_create(
            actor=facilitator,
            group=group,
            title="Evening circle: looking after ourselves",
            starts_at=now,
            ends_at=now + timedelta(hours=2),
            kind=SessionKind.DROP_IN,
            content_warnings=["physical_violence", "substance_use"],
            co_hosts=[mentor_id],
        )
        session_services.plan_replace(actor=facilitator, session=today, items=PLAN)
        session_services.session_set_status(
            actor=facilitator, session=today, status=SessionStatus.OPEN
        )
        next_week = now + timedelta(days=7)
        session_services.session_create(
            actor=facilitator,
            group=group,
            title="Dealing with services",
            starts_at=next_week,
            ends_at=next_week + timedelta(hours=2),
            kind=SessionKind.BOOKED,
            content_warnings=["police_courts", "child_removal"],
            co_hosts=[mentor_id],
        )
