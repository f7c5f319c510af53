"""The persona world restored from its snapshot is the world the services build."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from rest_framework.test import APIClient

from groups.models import Membership, User
from tests.conftest import World, build_world, shipped_taxonomy
from tests.snapshot import _models, _snapshots, world_from_snapshot


def contents() -> dict[str, Any]:
    """What a test can see of a world: rows per table and who is who, without random keys."""
    counts = {model._meta.label: model._base_manager.count() for model in _models()}
    users = sorted(User.objects.values_list("username", "is_active", "org_role"))
    members = sorted(
        Membership.objects.values_list("user__username", "group__name", "role", "display_name")
    )
    return {"counts": counts, "users": users, "members": members}


def whoami(world: World, persona: str) -> int:
    response = APIClient()
    response.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[persona]}")
    return response.get("/api/v1/me/").status_code


def test_the_world_is_snapshotted_and_a_restored_one_matches_a_built_one(db: None) -> None:
    shipped_taxonomy()
    with transaction.atomic():
        world_from_snapshot(build_world)  # builds (and snapshots) if this process has not yet
        transaction.set_rollback(True)
    snapshot = _snapshots[(connection.vendor, str(connection.settings_dict["NAME"]))]
    assert snapshot is not None, "the world could not be snapshotted: every test rebuilds it"

    with transaction.atomic():
        restored = snapshot.restore()
        seen_restored = contents()
        statuses = {persona: whoami(restored, persona) for persona in restored.tokens}
        assert restored.members["member"].user == restored.users["member"]
        assert restored.members["member"].group == restored.group_a
        transaction.set_rollback(True)
    with transaction.atomic():
        build_world()
        seen_built = contents()
        transaction.set_rollback(True)

    assert seen_restored == seen_built
    assert seen_restored["counts"]["groups.User"] == 9
    # every token signs its persona in, except the switched-off account's
    assert statuses == {
        persona: 401 if persona == "deactivated" else 200 for persona in restored.tokens
    }


def test_a_change_to_the_world_does_not_reach_the_next_test_first(world: World) -> None:
    world.group_a.name = "Renamed"
    world.group_a.save()
    assert type(world.group_a).objects.filter(name="Renamed").exists()


def test_a_change_to_the_world_does_not_reach_the_next_test_second(world: World) -> None:
    assert world.group_a.name == "Group A"
    assert not type(world.group_a).objects.filter(name="Renamed").exists()
