"""Boundary agreements over REST: publishing versions, accepting, acceptances and proposals."""

from __future__ import annotations

import json

import pytest

from groups import services
from groups.models import Agreement, AgreementAcceptance, AgreementProposal
from project.models import AuditEntry
from tests.conftest import World

POINTS_V1 = ["What is said here stays here.", "Nobody has to share."]
POINTS_V2 = ["What is said here stays here.", "Nobody has to share.", "No advice unless asked."]


def agreement_url(world: World, suffix: str = "") -> str:
    return f"/api/v1/groups/{world.group_a.pk}/agreement/{suffix}"


def publish(world: World, points: list[str]) -> Agreement:
    return services.agreement_publish(
        actor=world.user("facilitator"), group=world.group_a, points=points
    )


def accept(world: World, persona: str, version: int) -> None:
    services.agreement_accept(actor=world.user(persona), group=world.group_a, version=version)


def counts() -> tuple[int, int, int, int]:
    return (
        Agreement.objects.count(),
        AgreementAcceptance.objects.count(),
        AgreementProposal.objects.count(),
        AuditEntry.objects.count(),
    )


# --- publishing and reading ------------------------------------------------------------------


def test_reading_the_agreement_before_any_is_published_answers_404_no_agreement(world):
    response = world.client("member").get(agreement_url(world))

    assert response.status_code == 404
    assert response.json()["code"] == "no_agreement"


def test_a_facilitator_publishes_version_1_and_has_accepted_it_by_publishing(world):
    response = world.client("facilitator").post(
        agreement_url(world), {"points": POINTS_V1}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    assert body["points"] == POINTS_V1
    assert body["accepted_by_me"] is True
    assert body["published_at"]
    assert services.agreement_accepted_current(world.members["facilitator"]) is True


def test_a_member_sees_the_agreement_unaccepted_then_accepts_it(world):
    publish(world, POINTS_V1)
    client = world.client("member")

    before = client.get(agreement_url(world))
    accepted = client.post(agreement_url(world, "accept/"), {"version": 1}, format="json")
    after = client.get(agreement_url(world))

    assert before.status_code == 200
    assert before.json()["accepted_by_me"] is False
    assert before.json()["points"] == POINTS_V1
    assert accepted.status_code == 200
    assert accepted.json()["accepted_by_me"] is True
    assert after.json()["accepted_by_me"] is True
    assert services.agreement_accepted_current(world.members["member"]) is True


def test_accepting_the_same_version_twice_writes_one_acceptance_and_one_audit_row(world):
    publish(world, POINTS_V1)
    client = world.client("member")
    client.post(agreement_url(world, "accept/"), {"version": 1}, format="json")
    before = counts()

    again = client.post(agreement_url(world, "accept/"), {"version": 1}, format="json")

    assert again.status_code == 200
    assert counts() == before


def test_publishing_version_2_makes_everyone_accept_again(world):
    publish(world, POINTS_V1)
    accept(world, "member", 1)
    accept(world, "peer_mentor", 1)

    response = world.client("facilitator").post(
        agreement_url(world), {"points": POINTS_V2}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["version"] == 2
    for persona in ("member", "peer_mentor"):
        seen = world.client(persona).get(agreement_url(world)).json()
        assert seen["version"] == 2
        assert seen["points"] == POINTS_V2
        assert seen["accepted_by_me"] is False, persona
        assert services.agreement_accepted_current(world.members[persona]) is False, persona


def test_the_facilitator_who_publishes_version_2_has_accepted_version_2(world):
    publish(world, POINTS_V1)
    publish(world, POINTS_V2)

    seen = world.client("facilitator").get(agreement_url(world)).json()

    assert seen["version"] == 2
    assert seen["accepted_by_me"] is True


def test_accepting_version_1_after_version_2_is_a_conflict_and_writes_nothing(world):
    publish(world, POINTS_V1)
    publish(world, POINTS_V2)
    before = counts()

    response = world.client("member").post(
        agreement_url(world, "accept/"), {"version": 1}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "not_current_version"
    assert response.json()["extra"]["current_version"] == 2
    assert counts() == before
    assert services.agreement_accepted_current(world.members["member"]) is False


def test_accepting_when_no_agreement_exists_answers_404_no_agreement(world):
    response = world.client("member").post(
        agreement_url(world, "accept/"), {"version": 1}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "no_agreement"


def test_a_member_may_not_publish_an_agreement(world):
    before = counts()

    response = world.client("member").post(
        agreement_url(world), {"points": POINTS_V1}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert counts() == before


# --- acceptances -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["facilitator", "peer_mentor"])
def test_hosts_see_each_members_latest_accepted_version_or_null(world, persona):
    publish(world, POINTS_V1)
    accept(world, "member", 1)
    publish(world, POINTS_V2)
    accept(world, "peer_mentor", 2)

    response = world.client(persona).get(agreement_url(world, "acceptances/"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["results"])
    rows = {row["member_id"]: row for row in body["results"]}
    m = world.members
    assert rows[m["facilitator"].pk]["accepted_version"] == 2
    assert rows[m["peer_mentor"].pk]["accepted_version"] == 2
    assert rows[m["member"].pk]["accepted_version"] == 1
    assert rows[m["member2"].pk]["accepted_version"] is None
    assert rows[m["member"].pk]["display_name"] == "Rose"
    assert rows[m["member2"].pk]["display_name"] == "Jade"
    assert m["outsider"].pk not in rows


def test_a_member_may_not_see_the_acceptances(world):
    publish(world, POINTS_V1)

    response = world.client("member").get(agreement_url(world, "acceptances/"))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


# --- proposals -------------------------------------------------------------------------------


def test_a_member_proposes_a_point_and_sees_only_her_own_proposals(world):
    first = world.client("member").post(
        agreement_url(world, "proposals/"), {"text": "Cameras stay off."}, format="json"
    )
    world.client("member2").post(
        agreement_url(world, "proposals/"), {"text": "Breaks every hour."}, format="json"
    )

    listed = world.client("member").get(agreement_url(world, "proposals/"))

    assert first.status_code == 201
    assert first.json()["text"] == "Cameras stay off."
    assert first.json()["status"] == "open"
    assert first.json()["mine"] is True
    assert listed.status_code == 200
    texts = [row["text"] for row in listed.json()["results"]]
    assert texts == ["Cameras stay off."]
    assert listed.json()["count"] == 1


def test_a_facilitator_sees_every_proposal_with_its_proposer(world):
    world.client("member").post(
        agreement_url(world, "proposals/"), {"text": "Cameras stay off."}, format="json"
    )
    world.client("member2").post(
        agreement_url(world, "proposals/"), {"text": "Breaks every hour."}, format="json"
    )

    listed = world.client("facilitator").get(agreement_url(world, "proposals/"))

    assert listed.status_code == 200
    rows = {row["text"]: row for row in listed.json()["results"]}
    assert set(rows) == {"Cameras stay off.", "Breaks every hour."}
    assert rows["Cameras stay off."]["proposer"]["member_id"] == world.members["member"].pk
    assert rows["Cameras stay off."]["proposer"]["display_name"] == "Rose"
    assert rows["Breaks every hour."]["proposer"]["member_id"] == world.members["member2"].pk
    assert rows["Breaks every hour."]["proposer"]["display_name"] == "Jade"
    assert "user_id" not in json.dumps(listed.json())


@pytest.mark.parametrize("decision", ["adopted", "declined"])
def test_a_facilitator_decides_a_proposal_and_the_proposer_sees_the_answer(world, decision):
    created = world.client("member").post(
        agreement_url(world, "proposals/"), {"text": "Cameras stay off."}, format="json"
    )
    proposal_id = created.json()["id"]

    decided = world.client("facilitator").patch(
        agreement_url(world, f"proposals/{proposal_id}/"),
        {"status": decision, "note": "Thank you, we talked it through."},
        format="json",
    )
    seen = world.client("member").get(agreement_url(world, "proposals/")).json()["results"]

    assert decided.status_code == 200
    assert decided.json()["status"] == decision
    assert seen[0]["id"] == proposal_id
    assert seen[0]["status"] == decision
    assert seen[0]["response_note"] == "Thank you, we talked it through."
    assert seen[0]["decided_at"] is not None


def test_a_member_may_not_decide_a_proposal(world):
    proposal = services.proposal_create(
        actor=world.user("member2"), group=world.group_a, text="Breaks every hour."
    )

    response = world.client("member").patch(
        agreement_url(world, f"proposals/{proposal.pk}/"), {"status": "adopted"}, format="json"
    )

    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == "open"


def test_a_proposal_of_another_group_is_not_found_when_decided_through_this_group(world):
    proposal = services.proposal_create(
        actor=world.user("outsider"), group=world.group_b, text="Group B idea."
    )

    response = world.client("facilitator").patch(
        agreement_url(world, f"proposals/{proposal.pk}/"), {"status": "adopted"}, format="json"
    )

    assert response.status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == "open"


# --- outsiders -------------------------------------------------------------------------------


def test_an_outsider_gets_404_from_every_agreement_endpoint(world):
    publish(world, POINTS_V1)
    proposal = services.proposal_create(
        actor=world.user("member"), group=world.group_a, text="Cameras stay off."
    )
    client = world.client("outsider")
    before = counts()

    answers = [
        client.get(agreement_url(world)),
        client.post(agreement_url(world), {"points": POINTS_V2}, format="json"),
        client.post(agreement_url(world, "accept/"), {"version": 1}, format="json"),
        client.get(agreement_url(world, "acceptances/")),
        client.get(agreement_url(world, "proposals/")),
        client.post(agreement_url(world, "proposals/"), {"text": "Hi"}, format="json"),
        client.patch(
            agreement_url(world, f"proposals/{proposal.pk}/"), {"status": "adopted"}, format="json"
        ),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert {a.json()["code"] for a in answers} == {"not_found"}
    assert counts() == before


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "field"),
    [
        ([], "points"),
        (["x" * 10_000], "points.0"),
        ("Be kind.", "points"),
        ({"0": "Be kind."}, "points"),
        (["Be kind.", "   "], "points.1"),
        (None, "points"),
    ],
    ids=["empty-list", "huge-point", "a-string", "a-dict", "blank-point", "null"],
)
def test_publishing_bad_points_is_refused_and_writes_nothing(world, points, field):
    before = counts()

    response = world.client("facilitator").post(
        agreement_url(world), {"points": points}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["extra"]["fields"]
    assert counts() == before


def test_publishing_more_than_30_points_is_refused(world):
    before = counts()

    response = world.client("facilitator").post(
        agreement_url(world), {"points": [f"Point {i}" for i in range(31)]}, format="json"
    )

    assert response.status_code == 400
    assert "points" in response.json()["extra"]["fields"]
    assert counts() == before


@pytest.mark.parametrize(
    "version", ["one", None, 0, True], ids=["a-word", "null", "zero", "a-boolean"]
)
def test_accepting_with_a_version_that_is_not_a_positive_number_is_refused(world, version):
    publish(world, POINTS_V1)
    before = counts()

    response = world.client("member").post(
        agreement_url(world, "accept/"), {"version": version}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "version" in response.json()["extra"]["fields"]
    assert counts() == before


@pytest.mark.parametrize(
    "text", ["", "   ", "x" * 1001, ["a list"]], ids=["empty", "blank", "1001-chars", "a-list"]
)
def test_proposing_bad_text_is_refused_and_writes_nothing(world, text):
    before = counts()

    response = world.client("member").post(
        agreement_url(world, "proposals/"), {"text": text}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "text" in body["extra"]["fields"]
    assert counts() == before


def test_a_proposal_of_exactly_1000_characters_is_accepted(world):
    response = world.client("member").post(
        agreement_url(world, "proposals/"), {"text": "x" * 1000}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [{"status": "maybe"}, {"status": "open"}, {}, {"status": "adopted", "note": "n" * 501}],
    ids=["unknown-status", "back-to-open", "no-status", "501-char-note"],
)
def test_deciding_with_bad_input_is_refused_and_writes_nothing(world, body):
    proposal = services.proposal_create(
        actor=world.user("member"), group=world.group_a, text="Cameras stay off."
    )
    before = counts()

    response = world.client("facilitator").patch(
        agreement_url(world, f"proposals/{proposal.pk}/"), body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["extra"]["fields"]
    assert counts() == before
    proposal.refresh_from_db()
    assert proposal.status == "open"
    assert proposal.decided_at is None


# --- audit -----------------------------------------------------------------------------------


def test_agreement_and_proposal_actions_are_audited_without_their_text(world):
    secret_point = "Never name the shelter on Elm Street."
    secret_proposal = "Please stop Rose's ex from joining."
    secret_note = "We know about the situation at the flat."
    facilitator, member = world.client("facilitator"), world.client("member")

    facilitator.post(agreement_url(world), {"points": [secret_point]}, format="json")
    member.post(agreement_url(world, "accept/"), {"version": 1}, format="json")
    created = member.post(
        agreement_url(world, "proposals/"), {"text": secret_proposal}, format="json"
    )
    facilitator.patch(
        agreement_url(world, f"proposals/{created.json()['id']}/"),
        {"status": "declined", "note": secret_note},
        format="json",
    )

    entries = AuditEntry.objects.filter(group_id=world.group_a.pk)
    actions = set(entries.values_list("action", flat=True))
    assert {
        "agreement.published",
        "agreement.accepted",
        "proposal.created",
        "proposal.decided",
    } <= actions
    published = entries.get(action="agreement.published")
    assert published.actor_id == world.user("facilitator").pk
    assert published.extra["version"] == 1
    accepted = entries.get(action="agreement.accepted")
    assert accepted.actor_id == world.user("member").pk
    assert accepted.extra["member_id"] == world.members["member"].pk
    assert entries.get(action="proposal.decided").extra["status"] == "declined"
    for entry in entries:
        dumped = json.dumps(entry.extra)
        for text in (secret_point, secret_proposal, secret_note, "Elm Street", "Rose"):
            assert text not in dumped, entry.action
