"""The content-warning taxonomy: loaded by migration, listed to anyone signed in (editing it:
test_taxonomy_editing.py)."""

from __future__ import annotations

import pytest

from facilitation.models import ContentWarning
from facilitation.taxonomy import CONTENT_WARNINGS

URL = "/api/v1/content-warnings/"
REQUIRED_KEYS = {
    "sexual_violence",
    "physical_violence",
    "childhood_abuse",
    "suicide_self_harm",
    "substance_use",
    "child_removal",
    "police_courts",
    "death_grief",
    "eating_body_image",
    "other",
}


@pytest.mark.parametrize("persona", ["member", "facilitator", "outsider", "safeguarding_lead"])
def test_anyone_signed_in_lists_the_taxonomy_in_the_list_envelope(world, persona):
    response = world.client(persona).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(body["results"]) == len(CONTENT_WARNINGS)
    rows = {row["key"]: row for row in body["results"]}
    assert set(rows) >= REQUIRED_KEYS
    for key in REQUIRED_KEYS:
        assert rows[key]["label"].strip(), key
        assert rows[key]["description"].strip(), key


def test_the_taxonomy_is_listed_in_its_shipped_order(world):
    results = world.client("member").get(URL).json()["results"]

    assert [row["key"] for row in results] == [key for key, _l, _d in CONTENT_WARNINGS]
    assert results[0] == {
        "key": CONTENT_WARNINGS[0][0],
        "label": CONTENT_WARNINGS[0][1],
        "description": CONTENT_WARNINGS[0][2],
        "retired": False,
    }


def test_the_migration_stores_every_shipped_category(db):
    stored = {cw.key: (cw.label, cw.description) for cw in ContentWarning.objects.all()}

    assert stored == {key: (label, description) for key, label, description in CONTENT_WARNINGS}


@pytest.mark.parametrize("persona", ["anonymous", "deactivated"])
def test_the_taxonomy_needs_a_signed_in_caller(world, persona):
    response = world.client(persona).get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
