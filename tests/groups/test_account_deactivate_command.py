"""`manage.py account_deactivate USERNAME` (issue 19): through the service, so her live sockets
close and her tokens stop working; an unknown name is a clear error that changes nothing."""

from __future__ import annotations

import io

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command

from groups.models import ApiToken, User
from project import closecodes
from project.models import AuditEntry
from tests.conftest import manage_py
from tests.facilitation.room import amake_room, join


def deactivate(username: str) -> str:
    out = io.StringIO()
    call_command("account_deactivate", username, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
async def test_switching_her_off_closes_her_live_socket_and_ends_her_tokens():
    room = await amake_room()
    rose, _ = await join(room, "member")
    fac, _ = await join(room, "facilitator")
    user = room.world.users["member"]

    output = await database_sync_to_async(deactivate)("  ROSE ")

    assert await rose.closed_with() == closecodes.NOT_SIGNED_IN
    await rose.close()  # waits until her connection has finished leaving
    assert "Switched off account 'rose'" in output
    assert not (await database_sync_to_async(User.objects.get)(pk=user.pk)).is_active
    assert not await database_sync_to_async(ApiToken.objects.filter(user=user).exists)()
    entry = await database_sync_to_async(
        AuditEntry.objects.filter(action="account.deactivated", target_id=str(user.pk)).get
    )()
    assert entry.actor_id is None
    await fac.say("the room goes on")
    assert (await fac.until("ack"))["seq"] > 0
    await fac.close()


@pytest.mark.django_db
def test_an_unknown_username_is_a_clear_error_and_changes_nothing(world):
    before = (AuditEntry.objects.count(), User.objects.filter(is_active=True).count())

    with pytest.raises(CommandError, match=r"No account has that username\. Nothing was changed\."):
        deactivate("nobody-here")
    with pytest.raises(CommandError):
        deactivate("   ")

    assert (AuditEntry.objects.count(), User.objects.filter(is_active=True).count()) == before


@pytest.mark.django_db
def test_an_account_already_off_is_said_so_and_nothing_more_is_written(world):
    before = AuditEntry.objects.count()

    assert "already switched off" in deactivate("gone")

    assert AuditEntry.objects.count() == before


def test_the_command_exits_non_zero_on_bad_input():
    done = manage_py("account_deactivate")

    assert done.returncode != 0 and "username" in done.stderr
