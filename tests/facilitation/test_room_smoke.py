import pytest

from tests.facilitation.room import amake_room, join

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_message_reaches_everyone_in_the_room():
    room = await amake_room()
    fac, _ = await join(room, "facilitator")
    rose, state = await join(room, "member")
    assert state["me"]["member_id"] == room.member_id("member")
    cid = await rose.say("hello")
    ack = await rose.until("ack")
    assert ack["client_id"] == cid
    msg = await fac.until("message")
    assert msg["body"] == "hello" and msg["seq"] == ack["seq"]
    await fac.close()
    await rose.close()
