"""`project.sql.model_load`: a plain-SQL read gives back the models' own instances (issue 20)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from facilitation.models import Participant
from groups.models import ApiToken, Membership, User
from groups.services import token_authenticate
from project.sql import model_columns, model_load
from tests.conftest import build_world
from tests.facilitation.room import make_room

pytestmark = pytest.mark.django_db


def _fields(instance: object, model: type) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}


def test_rows_come_back_as_the_orm_builds_them_encrypted_fields_decrypted():
    room = make_room()
    member_id = room.member_id("member")
    until = timezone.now() + timedelta(minutes=5)
    row = Participant.objects.create(
        session=room.session,
        membership_id=member_id,
        muted_until=until,
        mute_reason="a reason only she reads",
    )
    table = connection.ops.quote_name(Participant._meta.db_table)
    members = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {model_columns(Participant, 'p')}, {model_columns(Membership, 'm')} "
            f"FROM {table} p LEFT JOIN {members} m ON m.id = p.membership_id AND 1 = 0 "
            "WHERE p.id = %s",
            [row.pk],
        )
        found = cursor.fetchone()
    # The stored column is ciphertext; the loaded field is her words, as the ORM gives them.
    assert "a reason only she reads" not in [v for v in found if isinstance(v, str)]
    loaded, start = model_load(Participant, found)
    assert isinstance(loaded, Participant)
    assert _fields(loaded, Participant) == _fields(Participant.objects.get(pk=row.pk), Participant)
    assert loaded.mute_reason == "a reason only she reads"
    assert loaded.muted_until == until
    # A LEFT JOIN that found nothing is None, and the columns are all read.
    nothing, end = model_load(Membership, found, start)
    assert nothing is None
    assert end == len(found)


def test_the_token_check_returns_the_account_as_the_orm_reads_it():
    world = build_world()
    found = token_authenticate(key=world.tokens["member"])
    assert found is not None
    user, token = found
    assert _fields(user, User) == _fields(User.objects.get(pk=user.pk), User)
    assert _fields(token, ApiToken) == _fields(ApiToken.objects.get(pk=token.pk), ApiToken)
    assert token.user is user


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_the_room_plain_sql_is_prepared_once_per_connection():
    from facilitation import services, sql
    from project.sql import prepared_cursor

    room = make_room()
    member = room.world.users["member"]

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    for _ in range(2):
        context, _state = services.room_enter(actor=member, session_id=room.session.pk)
        services.room_leave(context=context)
    entry = [s for s in prepared() if s.startswith("SELECT s.id")]
    arrival = [s for s in prepared() if s.startswith("WITH ")]
    # The entry read and her arrival, each prepared once with server-side parameters
    # ($1 ...), used twice (a first entry and a return: two arrivals, one statement each).
    assert len(entry) == 1 and "$1" in entry[0]
    assert len(arrival) == 2 and all("$1" in s for s in arrival)
    with prepared_cursor() as cursor:
        cursor.execute(sql.resume()["gate"], [room.session.pk, 0, 0, room.session.pk])
        assert cursor.fetchone() is not None
    assert any("EXISTS" in s for s in prepared())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
@pytest.mark.parametrize(("knob", "prepared"), [(2, True), (0, False)])
def test_haven_fast_post_prepare_0_turns_preparing_off(settings, knob, prepared):
    from project.sql import prepared_cursor

    settings.HAVEN_FAST_POST_PREPARE = knob
    marker = f"haven_{uuid.uuid4().hex}"
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT %s::int + 1 AS {marker}", [1])
        assert cursor.fetchone()[0] == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{marker}%"]
        )
        assert cursor.fetchone()[0] == int(prepared)
