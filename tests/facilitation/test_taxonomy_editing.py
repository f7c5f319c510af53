"""Issue 19: an org admin edits the content-warning taxonomy in the admin, through the services
(audited, validated, never a bare field edit, never a delete). Her own words are shown as she
typed them in every language; Haven's own are still translated; a retired category labels old
messages but is offered for nothing new; every process sees a change on its next read."""

from __future__ import annotations

import asyncio
import html
import json
import re
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import translation

from facilitation import services
from facilitation.models import ContentWarning, PlanItem, Session
from facilitation.taxonomy import (
    CACHE_KEY,
    categories,
    clean_warning,
    clean_warning_list,
    taxonomy_forget,
    translated_warnings,
    warning_label,
)
from project.exceptions import Forbidden, ValidationFailed
from project.models import AuditEntry
from tests.conftest import World
from tests.e2e.conftest import free_port
from tests.facilitation.room import make_room
from tests.facilitation.test_plan_page import as_posted
from tests.safeguarding import post_message

pytestmark = pytest.mark.django_db

ADMIN = "/staff/admin/facilitation/contentwarning/"
API = "/api/v1/content-warnings/"
SV = "sexual_violence"
SV_DESCRIPTION = "Rape, sexual assault or being made to do sexual things."


def admin_client(world: World) -> Client:
    client = Client()
    client.force_login(world.users["admin"])
    return client


def change(world: World, key: str, **fields: Any) -> Any:
    row = ContentWarning.objects.get(pk=key)
    data = {
        "label": row.label,
        "description": row.description,
        "position": row.position,
        **fields,
    }
    if data.pop("retired", row.retired):
        data["retired"] = "on"
    return admin_client(world).post(f"{ADMIN}{key}/change/", data)


def api_labels(world: World, language: str = "en") -> dict[str, dict[str, Any]]:
    response = world.client("member").get(API, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return {row["key"]: row for row in response.json()["results"]}


def room_config(world: World, session_id: int, language: str) -> dict[str, Any]:
    browser = Client()
    browser.force_login(world.users["member"])
    assert browser.post("/language/", {"language": language, "next": "/"}).status_code == 302
    page = browser.get(f"/sessions/{session_id}/room/").content.decode()
    found = re.search(r'data-config="([^"]*)"', page)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))


# --- the admin, through the services ---------------------------------------------------


def test_the_change_page_edits_through_the_service_and_is_audited_without_the_words(
    world, django_capture_on_commit_callbacks
):
    page = admin_client(world).get(f"{ADMIN}{SV}/change/").content.decode()
    assert "Haven&#x27;s own words" in page and f"Sexual violence: {SV_DESCRIPTION}" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = change(world, SV, label="Sexual harm")

    assert response.status_code == 302
    assert ContentWarning.objects.get(pk=SV).label == "Sexual harm"
    entry = AuditEntry.objects.get(action="content_warning.updated")
    assert entry.actor_id == world.users["admin"].pk
    assert (entry.target_type, entry.target_id) == ("contentwarning", SV)
    assert entry.extra == {"changed": ["label"], "retired": False}
    assert "Sexual harm" not in json.dumps(entry.extra)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"label": ""}, "This field is required."),
        ({"label": "x" * 81}, "at most 80 characters"),
        ({"position": 10_001}, "Give a whole number from 0 to 10000."),
        ({"description": "d" * 201}, "at most 200 characters"),
    ],
    ids=["no-label", "long-label", "far-position", "long-description"],
)
def test_bad_input_is_shown_at_the_field_and_nothing_changes(world, fields, error):
    before = ContentWarning.objects.values().get(pk=SV)

    response = change(world, SV, **fields)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert ContentWarning.objects.values().get(pk=SV) == before
    assert not AuditEntry.objects.filter(action__startswith="content_warning.").exists()


def test_an_admin_adds_a_category_of_her_own_and_a_bad_or_taken_key_is_refused(
    world, django_capture_on_commit_callbacks
):
    client = admin_client(world)
    count = ContentWarning.objects.count()
    for key, error in [("Racism", "Use small letters"), ("other", "There is already a category")]:
        data = {"key": key, "label": "Racism", "description": "", "position": 3}
        refused = client.post(f"{ADMIN}add/", data)
        assert refused.status_code == 200 and error in refused.content.decode()
    assert ContentWarning.objects.count() == count
    warm = [c.key for c in categories()]

    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            f"{ADMIN}add/", {"key": "racism", "label": "Racism", "description": "", "position": 3}
        )

    assert added.status_code == 302
    assert "racism" not in warm
    assert AuditEntry.objects.get(action="content_warning.created").target_id == "racism"
    with translation.override("es"):
        assert ("racism", "Racism", "") in translated_warnings()
    keys = [c.key for c in categories()]
    assert keys.index("childhood_abuse") < keys.index("racism") < keys.index("suicide_self_harm")
    assert clean_warning({"category": "racism"}) == ("racism", "")


def test_nothing_is_deleted_and_only_an_org_admin_may_change_the_taxonomy(world):
    client = admin_client(world)
    assert client.get(f"{ADMIN}other/delete/").status_code == 403
    assert client.post(f"{ADMIN}other/delete/", {"post": "yes"}).status_code == 403
    assert ContentWarning.objects.filter(pk="other").exists()

    for persona in ("facilitator", "safeguarding_lead", "member"):
        with pytest.raises(Forbidden):
            services.content_warning_update(
                actor=world.users[persona],
                key=SV,
                label="Changed",
                description="",
                position=0,
            )
    assert ContentWarning.objects.get(pk=SV).label == "Sexual violence"


def test_the_service_says_every_bad_field_at_once_and_writes_nothing(world):
    with pytest.raises(ValidationFailed) as refused:
        services.content_warning_update(
            actor=world.users["admin"],
            key=SV,
            label=" ",
            description=["not", "text"],
            position=-1,
            retired="yes",
        )

    assert set(refused.value.extra["fields"]) == {"label", "description", "position", "retired"}
    assert ContentWarning.objects.get(pk=SV).label == "Sexual violence"
    assert not AuditEntry.objects.filter(action__startswith="content_warning.").exists()


# --- the words shown ---------------------------------------------------------------------


def test_her_wording_shows_as_typed_in_every_language_and_haven_s_own_is_translated(
    world, django_capture_on_commit_callbacks
):
    room = make_room(world=world)
    with django_capture_on_commit_callbacks(execute=True):
        change(world, SV, label="Sexual harm")

    for language in ("en", "es"):
        rows = api_labels(world, language)
        assert rows[SV]["label"] == "Sexual harm", language
        config = {
            cw["key"]: cw
            for cw in room_config(world, room.session.pk, language)["content_warnings"]
        }
        assert config[SV]["label"] == "Sexual harm", language
    # Her label changed, not the description: that is still Haven's, so still translated.
    assert api_labels(world, "en")[SV]["description"] == SV_DESCRIPTION
    assert api_labels(world, "es")[SV]["description"] != SV_DESCRIPTION
    assert api_labels(world, "es")["physical_violence"]["label"] == "Violencia física"
    es_config = room_config(world, room.session.pk, "es")["content_warnings"]
    assert {"key": "physical_violence", "label": "Violencia física", "retired": False} in es_config

    # Back to Haven's words: translated again.
    with django_capture_on_commit_callbacks(execute=True):
        change(world, SV, label="Sexual violence")
    assert api_labels(world, "es")[SV]["label"] == "Violencia sexual"


def test_every_list_follows_the_position_she_gives(world, django_capture_on_commit_callbacks):
    room = make_room(world=world)
    with django_capture_on_commit_callbacks(execute=True):
        change(world, "other", position=0)

    first_two = ["other", SV]  # a tie is ordered by key
    assert list(api_labels(world))[:2] == first_two
    assert [cw["key"] for cw in room_config(world, room.session.pk, "en")["content_warnings"]][
        :2
    ] == first_two
    assert [key for key, _l, _d in translated_warnings()][:2] == first_two
    browser = admin_client(world)
    settings_page = browser.get("/settings/?change=warnings").content.decode()
    assert settings_page.index('name="cw_other"') < settings_page.index(f'name="cw_{SV}"')


# --- retiring ----------------------------------------------------------------------------


def test_a_retired_category_is_offered_for_nothing_new_but_still_labels_old_messages(
    world, django_capture_on_commit_callbacks
):
    room = make_room(world=world)
    old = post_message(room, "member", "before", content_warning={"category": "police_courts"})
    session = Session.objects.get(pk=room.session.pk)
    session.content_warnings = ["police_courts"]
    session.save(update_fields=["content_warnings"])

    with django_capture_on_commit_callbacks(execute=True):
        retired = admin_client(world).post(
            ADMIN, {"action": "retire", "_selected_action": ["police_courts"]}
        )

    assert retired.status_code == 302
    assert ContentWarning.objects.get(pk="police_courts").retired
    entry = AuditEntry.objects.get(action="content_warning.updated")
    assert entry.extra == {"changed": ["retired"], "retired": True}
    # Not offered: the room's menu, the session form, the settings page, new messages.
    assert "police_courts" not in [key for key, _l, _d in translated_warnings()]
    with pytest.raises(ValidationFailed) as refused:
        post_message(room, "member", "after", content_warning={"category": "police_courts"})
    assert "no longer offered" in str(refused.value.extra["fields"])
    with pytest.raises(ValidationFailed):
        clean_warning_list(["police_courts"], "content_warnings")
    made = world.client("facilitator").post(
        f"/api/v1/groups/{world.group_a.pk}/sessions/",
        {
            "title": "Next week",
            "starts_at": "2030-01-01T18:00:00Z",
            "ends_at": "2030-01-01T19:00:00Z",
            "kind": "booked",
            "content_warnings": ["police_courts"],
        },
        format="json",
    )
    assert made.status_code == 400 and "content_warnings" in made.json()["extra"]["fields"]
    settings_page = admin_client(world).get("/settings/?change=warnings").content.decode()
    assert 'name="cw_police_courts"' not in settings_page
    # Still labelling what it marked: the old message, the session that keeps it.
    assert old.content_warning["category"] == "police_courts"
    config = room_config(world, room.session.pk, "es")
    assert {"key": "police_courts", "label": "Policía y juzgados", "retired": True} in config[
        "content_warnings"
    ]
    assert api_labels(world)["police_courts"]["retired"] is True
    assert warning_label("police_courts") == "Police and courts"
    kept = world.client("facilitator").patch(
        f"/api/v1/sessions/{session.pk}/",
        {"content_warnings": ["police_courts", "other"]},
        format="json",
    )
    assert kept.status_code == 200, kept.json()

    # Offered again.
    with django_capture_on_commit_callbacks(execute=True):
        admin_client(world).post(
            ADMIN, {"action": "offer_again", "_selected_action": ["police_courts"]}
        )
    assert clean_warning({"category": "police_courts"}) == ("police_courts", "")


# --- the cache ---------------------------------------------------------------------------


def test_reads_come_from_the_cache_and_a_change_clears_it_for_every_process(
    world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    categories()
    assert cache.get(CACHE_KEY) is not None
    with django_assert_num_queries(0):
        categories()
        clean_warning({"category": "other"})
        clean_warning_list(["other", SV], "content_warnings")

    # A row changed behind the services' back is not seen: the reads are the cache's.
    ContentWarning.objects.filter(pk="other").update(label="Something else")
    assert warning_label("other") == "Other"

    with django_capture_on_commit_callbacks(execute=True) as forgotten:
        services.content_warning_update(
            actor=world.users["admin"], key=SV, label="Sexual harm", description="", position=0
        )
        assert cache.get(CACHE_KEY) is not None  # kept until the change commits
    assert len(forgotten) == 1
    # Every process shares this cache (Redis): the key is gone, so each reads the table once.
    assert cache.get(CACHE_KEY) is None
    with django_assert_num_queries(1):
        assert warning_label(SV) == "Sexual harm"
    assert warning_label("other") == "Something else"
    with django_assert_num_queries(0):
        warning_label(SV)


def test_a_change_that_rolls_back_leaves_the_cache_alone(world):
    categories()
    taxonomy_forget()  # inside the test's transaction: waits for a commit that never comes
    assert cache.get(CACHE_KEY) is not None


def test_a_message_with_a_content_warning_leaves_the_event_loop_path_to_a_database_thread():
    posted = asyncio.run(
        services.message_post_fast(
            context=None,  # type: ignore[arg-type]
            body="hello",
            content_warning={"category": "other"},
            client_id="c1",
        )
    )

    assert posted is None


def test_a_plan_keeps_a_retired_category_where_it_was_and_offers_it_nowhere_else(
    world, django_capture_on_commit_callbacks
):
    room = make_room(world=world, status="open")
    services.plan_replace(
        actor=world.users["facilitator"],
        session=room.session,
        items=[
            {"title": "Arrive", "kind": "check_in", "minutes": 10},
            {
                "title": "Courts",
                "kind": "topic",
                "minutes": 30,
                "content_warnings": ["police_courts"],
            },
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.content_warning_retire(actor=world.users["admin"], keys=["police_courts"])
    browser = Client()
    browser.force_login(world.users["facilitator"])
    url = f"/sessions/{room.session.pk}/plan/"

    page = browser.get(url).content.decode()
    posted = as_posted(page)

    assert posted["cw-1"] == ["police_courts"]
    assert page.count('value="police_courts"') == 1  # on its own row only
    assert browser.post(url, posted).status_code == 302
    assert PlanItem.objects.get(session=room.session, title="Courts").content_warnings == [
        "police_courts"
    ]
    # Once the plan no longer has it, it is not put back.
    cleared = {**posted, "cw-1": []}
    assert browser.post(url, cleared).status_code == 302
    refused = browser.post(url, {**cleared, "cw-0": ["police_courts"]})
    assert refused.status_code == 400 and "no longer offered" in refused.content.decode()


def test_with_the_cache_away_the_table_is_read_and_a_change_still_saves(
    world, django_capture_on_commit_callbacks
):
    """Redis restarting (catalogue #15): a warned message, the room page and Settings read the
    table instead, and an admin's change is saved and audited, not a 500."""
    closed = free_port()
    away = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed}/0",
        }
    }
    with override_settings(CACHES=away):
        with pytest.raises(redis.exceptions.ConnectionError):  # really away
            cache.get(CACHE_KEY)
        assert clean_warning({"category": "other", "note": ""}) == ("other", "")
        assert next(row.key for row in categories()) == SV
        with django_capture_on_commit_callbacks(execute=True):
            services.content_warning_update(
                actor=world.users["admin"],
                key=SV,
                label="Sexual harm",
                description="",
                position=0,
            )
        assert warning_label(SV) == "Sexual harm"
    assert AuditEntry.objects.filter(action="content_warning.updated").exists()


def test_a_new_category_without_a_key_is_refused_at_the_key(world):
    before = ContentWarning.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        services.content_warning_create(actor=world.users["admin"], key=None, label="Racism")
    assert "key" in refused.value.extra["fields"]
    assert ContentWarning.objects.count() == before
