"""Agreement points, proposals and the notes answering them are encrypted at rest (issue 13),
like every other text a person writes; the API still reads them as written."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from groups import services
from groups.models import Agreement, AgreementProposal
from project.crypto import PREFIX
from tests.conftest import World

POINT = "Nothing said here leaves the room."
PROPOSAL = "We could start each session with a short grounding."
NOTE = "Yes, from next week."


def raw(model: Any, column: str, pk: int) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",
            [pk],
        )
        return str(cursor.fetchone()[0])


def test_points_proposals_and_notes_are_stored_encrypted_and_read_back_plain(
    world: World,
) -> None:
    facilitator = world.users["facilitator"]
    agreement = services.agreement_publish(
        actor=facilitator, group=world.group_a, points=[POINT, "Second point."]
    )
    proposal = services.proposal_create(
        actor=world.users["member"], group=world.group_a, text=PROPOSAL
    )
    services.proposal_decide(
        actor=facilitator,
        group=world.group_a,
        proposal_id=proposal.pk,
        status="adopted",
        note=NOTE,
    )

    stored = {
        "points": raw(Agreement, "points", agreement.pk),
        "text": raw(AgreementProposal, "text", proposal.pk),
        "response_note": raw(AgreementProposal, "response_note", proposal.pk),
    }
    for column, value in stored.items():
        assert value.startswith(PREFIX), column
    for plain in (POINT, PROPOSAL, NOTE):
        assert all(plain not in value for value in stored.values())

    read = world.client("member").get(f"/api/v1/groups/{world.group_a.pk}/agreement/").json()
    assert read["points"] == [POINT, "Second point."]
    mine = world.client("member").get(f"/api/v1/groups/{world.group_a.pk}/agreement/proposals/")
    assert mine.json()["results"][0]["text"] == PROPOSAL
    assert mine.json()["results"][0]["response_note"] == NOTE


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_written_in_plain_text_before_it() -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = [("groups", "0002_agreement_agreementacceptance_agreementproposal_and_more")]
    after = [("groups", "0003_text_encrypted")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    group = old.get_model("groups", "Group").objects.create(name="Old group")
    agreement = old.get_model("groups", "Agreement").objects.create(
        group=group, version=1, points=[POINT]
    )
    proposal = old.get_model("groups", "AgreementProposal").objects.create(
        group=group, text=PROPOSAL, response_note=NOTE
    )
    blank = old.get_model("groups", "AgreementProposal").objects.create(group=group, text=PROPOSAL)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert raw(Agreement, "points", agreement.pk).startswith(PREFIX)
    assert raw(AgreementProposal, "text", proposal.pk).startswith(PREFIX)
    assert raw(AgreementProposal, "response_note", proposal.pk).startswith(PREFIX)
    assert raw(AgreementProposal, "response_note", blank.pk) == ""
    assert Agreement.objects.get(pk=agreement.pk).points == [POINT]
    kept = AgreementProposal.objects.get(pk=proposal.pk)
    assert (kept.text, kept.response_note) == (PROPOSAL, NOTE)
