"""`manage.py seed_demo`: a demo organisation for `make run`. Idempotent.

Everything is made through the same services the API uses. Passwords are generated once and
kept in var/demo-credentials.json (mode 0600) so a second run can print them again.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from groups import services as group_services
from groups.models import GroupRole, OrgRole, User

FACILITATOR = "demo-facilitator"
LEAD = "demo-lead"
MENTOR = "demo-mentor"
MEMBERS = [("demo-rose", "Rose"), ("demo-jade", "Jade"), ("demo-amber", "Amber")]
GROUP_NAME = "Thursday evening circle"
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
        path = _credentials_path()
        if User.objects.filter(username=FACILITATOR).exists() and path.exists():
            credentials = json.loads(path.read_text())
        else:
            credentials = self._seed()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(json.dumps(credentials, indent=2))
        self.stdout.write("Demo accounts (sign in at http://127.0.0.1:8000/):")
        for row in credentials["accounts"]:
            self.stdout.write(f"  {row['role']:<22} {row['username']:<18} {row['password']}")

    @transaction.atomic
    def _seed(self) -> dict[str, Any]:
        accounts: list[dict[str, str]] = []
        passwords = {name: _password() for name in [FACILITATOR, LEAD]}
        facilitator = group_services.staff_create(
            actor=None,
            username=FACILITATOR,
            password=passwords[FACILITATOR],
            org_role=OrgRole.FACILITATOR,
        )
        group_services.staff_create(
            actor=None,
            username=LEAD,
            password=passwords[LEAD],
            org_role=OrgRole.SAFEGUARDING_LEAD,
        )
        accounts.append(
            {"role": "facilitator", "username": FACILITATOR, "password": passwords[FACILITATOR]}
        )
        accounts.append(
            {"role": "safeguarding lead", "username": LEAD, "password": passwords[LEAD]}
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
        for username, shown, role in people:
            _, code = group_services.invite_create(actor=facilitator, group=group, role=role)
            password = _password()
            group_services.invite_redeem(
                actor=None, code=code, display_name=shown, username=username, password=password
            )
            accounts.append(
                {
                    "role": str(GroupRole(role).label).lower(),
                    "username": username,
                    "password": password,
                }
            )
        return {"group_id": group.pk, "accounts": accounts}
