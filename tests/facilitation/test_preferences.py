"""A member's content-warning preferences on `/api/v1/me/`: defaults, merging, bad input."""

from __future__ import annotations

import pytest

from facilitation import services
from facilitation.taxonomy import CONTENT_WARNING_KEYS
from groups.models import User
from project.exceptions import ValidationFailed
from project.models import AuditEntry

ME = "/api/v1/me/"


def patch_warnings(client, choices):
    return client.patch(ME, {"preferences": {"content_warnings": choices}}, format="json")


def test_me_lists_every_category_collapsed_by_default(world):
    response = world.client("member").get(ME)

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "rose"
    assert body["org_role"] == "none"
    assert body["preferences"]["content_warnings"] == dict.fromkeys(
        sorted(CONTENT_WARNING_KEYS), "collapse"
    )


def test_showing_one_category_leaves_every_other_collapsed(world):
    response = patch_warnings(world.client("member"), {"substance_use": "show"})

    assert response.status_code == 200
    choices = response.json()["preferences"]["content_warnings"]
    assert choices["substance_use"] == "show"
    assert set(choices) == CONTENT_WARNING_KEYS
    assert {k for k, v in choices.items() if v != "collapse"} == {"substance_use"}
    assert world.client("member").get(ME).json()["preferences"]["content_warnings"] == choices


def test_a_second_patch_merges_with_the_first(world):
    client = world.client("member")
    patch_warnings(client, {"substance_use": "show", "death_grief": "show"})

    response = patch_warnings(client, {"police_courts": "show", "death_grief": "collapse"})

    assert response.status_code == 200
    choices = client.get(ME).json()["preferences"]["content_warnings"]
    assert {k for k, v in choices.items() if v == "show"} == {"substance_use", "police_courts"}
    assert choices["death_grief"] == "collapse"


def test_preferences_belong_to_the_account_that_set_them(world):
    patch_warnings(world.client("member"), {"sexual_violence": "show"})

    other = world.client("member2").get(ME).json()["preferences"]["content_warnings"]

    assert other["sexual_violence"] == "collapse"


def test_an_unknown_category_is_refused_by_name_and_nothing_is_saved(world):
    client = world.client("member")
    patch_warnings(client, {"substance_use": "show"})
    before = User.objects.get(pk=world.user("member").pk).preferences
    audits = AuditEntry.objects.count()

    response = patch_warnings(client, {"spiders": "show", "death_grief": "show"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["extra"]["fields"]) == ["preferences.content_warnings.spiders"]
    assert User.objects.get(pk=world.user("member").pk).preferences == before
    assert AuditEntry.objects.count() == audits
    choices = client.get(ME).json()["preferences"]["content_warnings"]
    assert choices["death_grief"] == "collapse"
    assert choices["substance_use"] == "show"


@pytest.mark.parametrize("choice", ["hide", "", None, True, 1], ids=repr)
def test_a_choice_other_than_show_or_collapse_is_refused(world, choice):
    client = world.client("member")

    response = patch_warnings(client, {"substance_use": "show", "death_grief": choice})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any("death_grief" in key for key in body["extra"]["fields"]), body
    choices = client.get(ME).json()["preferences"]["content_warnings"]
    assert set(choices.values()) == {"collapse"}


@pytest.mark.parametrize(
    "body",
    [{}, {"preferences": {}}, {"preferences": {"content_warnings": ["substance_use"]}}],
    ids=["empty", "no-content-warnings", "a-list"],
)
def test_a_patch_without_a_map_of_choices_is_refused(world, body):
    response = world.client("member").patch(ME, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["extra"]["fields"]


def test_the_service_refuses_an_unknown_category_without_saving(world):
    user = world.user("member")

    with pytest.raises(ValidationFailed) as refused:
        services.preferences_update(actor=user, content_warnings={"spiders": "show"})

    assert "preferences.content_warnings.spiders" in refused.value.extra["fields"]
    user.refresh_from_db()
    assert user.preferences == {}


def test_me_needs_a_signed_in_caller(world):
    assert world.client("anonymous").get(ME).status_code == 401
    assert patch_warnings(world.client("anonymous"), {"other": "show"}).status_code == 401
