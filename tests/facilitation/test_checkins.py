"""Check-in and check-out (issue 15): how she is, said privately on arriving and leaving; the
hosts read it (peer mentors never a note she did not share), members never each other's;
never asked twice."""

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from facilitation import services
from facilitation.models import CheckIn, CheckInSkip
from project.models import AuditEntry
from tests.facilitation.room import amake_room, join, make_room

pytestmark = pytest.mark.django_db(transaction=True)

NOTE = "Rough week, glad to be here"


def raw_notes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM facilitation_checkin")
        return [row[0] for row in cursor.fetchall()]


def count() -> int:
    return CheckIn.objects.count()


async def check_in(client, **fields):
    fields.setdefault("moment", "in")
    fields.setdefault("mood", "struggling")
    await client.send(type="checkin.set", **fields)


async def test_the_hosts_hear_how_she_is_and_a_peer_mentor_never_reads_an_unshared_note():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    mentor, _ = await join(room, "peer_mentor")
    jade, _ = await join(room, "member2")
    rose, _ = await join(room, "member")

    await check_in(rose, note=NOTE)

    saved = await rose.until("checkin.saved")
    assert saved["moment"] == "in" and saved["mood"] == "struggling" and saved["note"] == NOTE
    heard = await fac.until("checkin")
    assert heard == {
        "type": "checkin",
        "member_id": room.member_id("member"),
        "display_name": "Rose",
        "moment": "in",
        "mood": "struggling",
        "note": NOTE,
        "at": saved["at"],
    }
    assert (await mentor.until("checkin"))["note"] is None
    await jade.drain()
    assert not [e for e in jade.received if e["type"].startswith("checkin")]

    _fac2, fac_state = await join(room, "facilitator")
    _mentor2, mentor_state = await join(room, "peer_mentor")
    _rose2, rose_state = await join(room, "member")
    _jade2, jade_state = await join(room, "member2")
    assert [c["note"] for c in fac_state["checkins"]] == [NOTE]
    assert [c["note"] for c in mentor_state["checkins"]] == [None]
    assert rose_state["me"]["checkins"] == ["in"] and "checkins" not in rose_state
    assert "checkins" not in jade_state and jade_state["me"]["checkins"] == []
    stored = await database_sync_to_async(raw_notes)()
    assert len(stored) == 1 and NOTE not in stored[0]
    entry = await database_sync_to_async(AuditEntry.objects.get)(action="checkin.saved")
    assert "Rough" not in str(entry.extra) and "struggling" not in str(entry.extra)
    for client in (fac, mentor, jade, rose, _fac2, _mentor2, _rose2, _jade2):
        await client.close()


async def test_a_peer_mentor_reads_the_note_she_chose_to_share():
    room = await amake_room()
    mentor, _ = await join(room, "peer_mentor")
    rose, _ = await join(room, "member")

    await check_in(rose, mood="okay", note=NOTE, share_note_with_peer_mentors=True)

    assert (await mentor.until("checkin"))["note"] == NOTE
    for client in (mentor, rose):
        await client.close()


async def test_she_is_never_asked_twice_a_second_answer_is_refused_and_writes_nothing():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    await check_in(rose)
    await rose.until("checkin.saved")
    await fac.until("checkin")

    await check_in(rose, mood="good")
    refused = await rose.until("error")
    await check_in(rose, moment="out", mood="good")
    out = await rose.until("checkin.saved")

    assert refused["code"] == "already_answered" and refused["ref"] == "checkin.set"
    assert out["moment"] == "out"
    moods = await database_sync_to_async(
        lambda: sorted(CheckIn.objects.values_list("moment", "mood"))
    )()
    assert moods == [("in", "struggling"), ("out", "good")]
    for client in (fac, rose):
        await client.close()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"moment": "later"}, "moment"),
        ({"mood": "fine"}, "mood"),
        ({"mood": None}, "mood"),
        ({"note": "x" * 501}, "note"),
        ({"share_note_with_peer_mentors": "yes"}, "share_note_with_peer_mentors"),
    ],
)
async def test_bad_input_is_refused_with_the_field_and_writes_nothing(fields, field):
    room = await amake_room()
    rose, _ = await join(room, "member")

    await check_in(rose, **fields)
    error = await rose.until("error")

    assert error["code"] == "invalid" and field in error["fields"]
    assert await database_sync_to_async(count)() == 0
    await rose.close()


async def test_arriving_before_the_session_opens_is_not_live():
    room = await amake_room(status="scheduled")
    fac, _ = await join(room, "facilitator")

    await check_in(fac)

    assert (await fac.until("error"))["code"] == "not_live"
    await fac.close()


async def test_a_skip_is_kept_so_she_is_not_asked_again_and_nobody_else_hears_of_it():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    rose_tab, _ = await join(room, "member")

    await rose.send(type="checkin.skip", moment="in")
    heard = await rose_tab.until("checkin.skipped")
    await rose.send(type="checkin.skip", moment="in")
    await rose.send(type="checkin.skip", moment="later")
    refused = await rose.until("error")
    _again, state = await join(room, "member")

    assert heard == {"type": "checkin.skipped", "moment": "in"}
    assert refused["code"] == "invalid" and "moment" in refused["fields"]
    assert state["me"]["checkins_skipped"] == ["in"] and state["me"]["checkins"] == []
    await fac.drain()
    assert not [e for e in fac.received if e["type"].startswith("checkin")]
    await rose_tab.drain()
    assert [e["type"] for e in rose_tab.received].count("checkin.skipped") == 1
    skips = await database_sync_to_async(lambda: list(CheckInSkip.objects.values_list("moment")))()
    assert skips == [("in",)]
    assert not await database_sync_to_async(
        AuditEntry.objects.filter(action__contains="skip").exists
    )()
    for client in (fac, rose, rose_tab, _again):
        await client.close()


async def test_a_skip_after_answering_writes_nothing():
    room = await amake_room()
    rose, _ = await join(room, "member")
    await check_in(rose)
    await rose.until("checkin.saved")

    await rose.send(type="checkin.skip", moment="in")
    await rose.drain()

    assert not [e for e in rose.received if e["type"] == "checkin.skipped"]
    assert await database_sync_to_async(CheckInSkip.objects.count)() == 0
    await rose.close()


# --- REST ------------------------------------------------------------------------------------


def attended(room, persona):
    context, _state = services.room_enter(
        actor=room.world.users[persona], session_id=room.session.pk
    )
    services.room_leave(context=context)
    return context


def test_after_the_session_she_may_check_out_over_rest_if_she_was_there(world):
    room = make_room(world=world)
    attended(room, "member")
    services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    url = f"/api/v1/sessions/{room.session.pk}/checkins/"

    made = world.client("member").post(url, {"moment": "out", "mood": "low"}, format="json")
    again = world.client("member").post(url, {"moment": "out", "mood": "good"}, format="json")
    absent = world.client("member2").post(url, {"moment": "out", "mood": "low"}, format="json")
    arriving = world.client("member").post(url, {"moment": "in", "mood": "low"}, format="json")

    assert made.status_code == 201 and made.json()["mood"] == "low"
    assert made.json()["session_id"] == room.session.pk
    assert again.status_code == 409 and again.json()["code"] == "already_answered"
    assert absent.status_code == 409 and absent.json()["code"] == "not_attended"
    assert arriving.status_code == 400 and "moment" in arriving.json()["extra"]["fields"]
    assert CheckIn.objects.count() == 1


def test_after_the_session_she_may_skip_the_check_out_over_rest_and_is_not_asked_again(world):
    room = make_room(world=world)
    attended(room, "member")
    services.session_set_status(
        actor=world.users["facilitator"], session=room.session, status="ended"
    )
    url = f"/api/v1/sessions/{room.session.pk}/checkins/skip/"

    made = world.client("member").post(url, {"moment": "out"}, format="json")
    again = world.client("member").post(url, {"moment": "out"}, format="json")
    arriving = world.client("member").post(url, {"moment": "in"}, format="json")
    bad = world.client("member").post(url, {"moment": "later"}, format="json")
    absent = world.client("member2").post(url, {"moment": "out"}, format="json")
    outsider = world.client("outsider").post(url, {"moment": "out"}, format="json")

    assert made.status_code == 204 and again.status_code == 204
    assert arriving.status_code == 400 and "moment" in arriving.json()["extra"]["fields"]
    assert bad.status_code == 400 and "moment" in bad.json()["extra"]["fields"]
    assert absent.status_code == 409 and absent.json()["code"] == "not_attended"
    assert outsider.status_code == 404
    assert list(CheckInSkip.objects.values_list("membership_id", "moment")) == [
        (room.member_id("member"), "out")
    ]
    assert CheckIn.objects.count() == 0


def test_facilitators_read_every_answer_each_read_audited_and_she_reads_her_history(world):
    room = make_room(world=world)
    context = attended(room, "member")
    services.checkin_set(
        actor=world.users["member"], context=context, moment="in", mood="struggling", note=NOTE
    )
    url = f"/api/v1/sessions/{room.session.pk}/checkins/"

    read = world.client("facilitator").get(url)

    assert read.status_code == 200
    assert [(c["display_name"], c["mood"], c["note"]) for c in read.json()["results"]] == [
        ("Rose", "struggling", NOTE)
    ]
    entry = AuditEntry.objects.get(action="checkin.read")
    assert entry.extra == {"count": 1} and entry.target_id == str(room.session.pk)
    assert world.client("peer_mentor").get(url).status_code == 403
    assert world.client("member").get(url).status_code == 403
    assert world.client("outsider").get(url).status_code == 404
    mine = world.client("member").get("/api/v1/me/checkins/").json()["results"]
    assert [(c["session_id"], c["moment"], c["note"]) for c in mine] == [
        (room.session.pk, "in", NOTE)
    ]
    assert world.client("member2").get("/api/v1/me/checkins/").json()["results"] == []


def test_her_settings_page_shows_her_own_history(world):
    from django.test import Client as BrowserClient

    room = make_room(world=world)
    context = attended(room, "member")
    services.checkin_set(actor=world.users["member"], context=context, moment="in", mood="good")
    browser = BrowserClient()
    browser.force_login(world.users["member"])

    history = list(browser.get("/settings/").context["checkins"])

    assert [(c.moment, c.mood) for c in history] == [("in", "good")]
