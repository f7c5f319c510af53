"""Two Daphne processes on one Redis and one PostgreSQL: the room behaves as one room.

PROTOCOL.md "Guarantees": resume across processes, idempotent `client_id`, and removal and
muting on every connection of a member, on every server process.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from facilitation.models import Message
from tests.e2e.conftest import (
    E2E,
    Refused,
    RoomClient,
    add_member,
    all_caught_up,
    assert_everyone_has_the_log,
    close_all,
    db_messages,
    run,
    talk_through_a_kill,
)
from tests.facilitation.room import make_room

pytestmark = E2E

# The room allows 8 messages per member in 10 s (facilitation.services.RATE_LIMIT_MESSAGES).
PER_MEMBER = 8


def client(room, persona: str, token: str | None = None) -> RoomClient:
    return RoomClient(persona, token or room.world.tokens[persona], room.session.pk)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_members_on_different_processes_see_every_message_in_the_same_order(daphne):
    room = make_room()
    _kit_id, kit_token = add_member(room, "kit", "Kit")
    _lee_id, lee_token = add_member(room, "lee", "Lee")
    a, b = daphne("A", "B")
    talkers = [
        ("facilitator", None, a),
        ("peer_mentor", None, a),
        ("member", None, a),
        ("member2", None, b),
        ("kit", kit_token, b),
    ]
    placement = [*talkers, ("lee", lee_token, b)]
    sent_at: dict[str, float] = {}

    async def scenario():
        clients = [client(room, name, token) for name, token, _ in placement]
        ports = [process.port for _, _, process in placement]
        await asyncio.gather(*(c.connect(p) for c, p in zip(clients, ports, strict=True)))
        await asyncio.gather(*(c.settled() for c in clients))
        # First one message in a quiet room (Lee's), for the latency of a single message.
        quiet = str(uuid.uuid4())
        sent_at[quiet] = time.monotonic()
        first_reply = await clients[-1].post("a quiet hello", ports=[b.port], client_id=quiet)
        await all_caught_up(clients)

        async def burst(member: RoomClient) -> list[dict]:
            ids = []
            for index in range(PER_MEMBER):
                client_id = str(uuid.uuid4())
                sent_at[client_id] = time.monotonic()
                await member.say(f"{member.name} says {index}", client_id=client_id)
                ids.append(client_id)
            return [await member.reply_to(client_id) for client_id in ids]

        replies = await asyncio.gather(*(burst(c) for c in clients[: len(talkers)]))
        await all_caught_up(clients)
        await close_all(clients)
        return clients, [first_reply, *(reply for batch in replies for reply in batch)], quiet

    clients, replies, quiet = run(scenario())

    expected = len(talkers) * PER_MEMBER + 1
    assert [r["type"] for r in replies] == ["ack"] * expected, replies
    assert len({r["seq"] for r in replies}) == expected
    assert_everyone_has_the_log(clients, room.session.pk)
    first = clients[0].message_ids()
    assert len(first) == expected
    for other in clients[1:]:
        assert other.message_ids() == first, other.name
    assert sorted(first) == [m for m, _, _ in db_messages(room.session.pk)]
    alone = [c.arrived_at[quiet] - sent_at[quiet] for c in clients]
    burst = [c.arrived_at[i] - sent_at[i] for c in clients for i in sent_at if i != quiet]
    print(
        f"one message in a quiet room reached all {len(clients)} members within "
        f"{max(alone) * 1000:.0f} ms; {expected - 1} concurrent messages from {len(talkers)} "
        f"members on 2 processes: delivery p50 {statistics.median(burst) * 1000:.0f} ms, "
        f"p95 {percentile(burst, 0.95) * 1000:.0f} ms, max {max(burst) * 1000:.0f} ms; "
        f"wire duplicates {sum(c.wire_duplicates for c in clients)}, "
        f"gaps {sum(c.gaps_seen for c in clients)}"
    )


def test_a_client_id_sent_to_both_processes_is_stored_once_with_one_seq(daphne):
    room = make_room()
    a, b = daphne("A", "B")
    client_id = str(uuid.uuid4())

    async def scenario():
        on_a, on_b = client(room, "member"), client(room, "member")
        watcher = client(room, "facilitator")
        await asyncio.gather(on_a.connect(a.port), on_b.connect(b.port), watcher.connect(b.port))
        await asyncio.gather(on_a.settled(), on_b.settled(), watcher.settled())
        await on_a.say("only once, please", client_id=client_id)
        first = await on_a.reply_to(client_id)
        await on_b.say("only once, please", client_id=client_id)
        second = await on_b.reply_to(client_id)
        await all_caught_up([on_a, on_b, watcher])
        await close_all([on_a, on_b, watcher])
        return first, second, watcher

    first, second, watcher = run(scenario())

    assert first["type"] == "ack" and second["type"] == "ack", (first, second)
    assert second["seq"] == first["seq"]
    assert second["message_id"] == first["message_id"]
    assert Message.objects.filter(session=room.session, client_id=client_id).count() == 1
    assert watcher.message_ids() == [first["message_id"]]


def test_a_client_id_sent_to_both_processes_at_once_is_acked_twice_with_one_seq(daphne):
    room = make_room()
    a, b = daphne("A", "B")
    attempts = 6

    async def scenario():
        on_a, on_b = client(room, "member"), client(room, "member")
        await asyncio.gather(on_a.connect(a.port), on_b.connect(b.port))
        await asyncio.gather(on_a.settled(), on_b.settled())
        pairs = []
        for index in range(attempts):
            client_id = str(uuid.uuid4())
            body = f"retry {index}"
            await asyncio.gather(
                on_a.say(body, client_id=client_id), on_b.say(body, client_id=client_id)
            )
            pairs.append(
                (
                    client_id,
                    await on_a.reply_to(client_id),
                    await on_b.reply_to(client_id),
                )
            )
        await close_all([on_a, on_b])
        return pairs

    pairs = run(scenario())

    stored = [client_id for _, _, client_id in db_messages(room.session.pk)]
    assert sorted(stored) == sorted(client_id for client_id, _, _ in pairs)
    for _client_id, on_a, on_b in pairs:
        assert (on_a["type"], on_b["type"]) == ("ack", "ack"), (on_a, on_b)
        assert on_a["seq"] == on_b["seq"]


def test_a_member_removed_on_one_process_is_closed_on_both_and_hears_nothing_more(daphne):
    room = make_room()
    a, b = daphne("A", "B")
    rose_id = room.member_id("member")

    async def scenario():
        rose_a, rose_b = client(room, "member"), client(room, "member")
        rose_a.name, rose_b.name = "rose@A", "rose@B"
        facilitator, jade = client(room, "facilitator"), client(room, "member2")
        everyone = [rose_a, rose_b, facilitator, jade]
        await asyncio.gather(
            rose_a.connect(a.port),
            rose_b.connect(b.port),
            facilitator.connect(a.port),
            jade.connect(b.port),
        )
        await asyncio.gather(*(c.settled() for c in everyone))
        before = await jade.post("before she goes", ports=[b.port])
        await all_caught_up(everyone)

        await facilitator.send(
            type="member.remove", member_id=rose_id, reason="We will talk one to one"
        )
        removed = await facilitator.wait_event("member.removed", member_id=rose_id)
        codes = await asyncio.gather(rose_a.wait_closed(5), rose_b.wait_closed(5))

        after = [await jade.post(f"after {i}", ports=[b.port]) for i in range(3)]
        after.append(await facilitator.post("after, from A", ports=[a.port]))
        await all_caught_up([facilitator, jade])
        refusals = []
        for port in (a.port, b.port):
            try:
                await rose_a.connect(port)
                refusals.append("let in")
            except Refused as refused:
                refusals.append(refused.code)
        await close_all(everyone)
        return before, removed, codes, after, refusals, rose_a, rose_b

    before, removed, codes, after, refusals, rose_a, rose_b = run(scenario())

    assert before["type"] == "ack"
    assert codes == [4403, 4403]
    assert refusals == [4403, 4403]
    assert [r["type"] for r in after] == ["ack"] * 4
    for rose in (rose_a, rose_b):
        late = [(seq, kind) for seq, kind in rose.wire if seq > removed["seq"]]
        assert late == [], f"{rose.name} heard events after her removal: {late}"
        assert before["message_id"] in rose.message_ids()
        assert not {r["message_id"] for r in after} & set(rose.message_ids())


def test_a_member_muted_on_one_process_cannot_post_on_the_other(daphne):
    room = make_room()
    a, b = daphne("A", "B")
    rose_id = room.member_id("member")

    async def scenario():
        facilitator = client(room, "facilitator")
        rose_a, rose_b = client(room, "member"), client(room, "member")
        rose_a.name, rose_b.name = "rose@A", "rose@B"
        everyone = [facilitator, rose_a, rose_b]
        await asyncio.gather(
            facilitator.connect(a.port), rose_a.connect(a.port), rose_b.connect(b.port)
        )
        await asyncio.gather(*(c.settled() for c in everyone))
        await facilitator.send(
            type="member.mute", member_id=rose_id, minutes=5, reason="A short pause"
        )
        muted = await facilitator.wait_event("member.muted", member_id=rose_id)
        await rose_b.wait_event("member.muted", member_id=rose_id)
        await rose_b.wait_until(
            lambda: any(n.get("code") == "muted" for n in rose_b.notices), 5, "muted notice"
        )
        on_b = await rose_b.post("can anyone hear me?", ports=[b.port])
        on_a = await rose_a.post("and from here?", ports=[a.port])
        await close_all(everyone)
        return muted, on_a, on_b

    muted, on_a, on_b = run(scenario())

    assert muted["until"]
    assert (on_b["type"], on_b["code"]) == ("error", "muted"), on_b
    assert (on_a["type"], on_a["code"]) == ("error", "muted"), on_a
    assert db_messages(room.session.pk) == []


def test_a_dropped_member_resumes_on_the_other_process_with_every_message_once(daphne):
    room = make_room()
    a, b = daphne("A", "B")

    async def scenario():
        rose = client(room, "member")
        senders = [
            (client(room, "facilitator"), a),
            (client(room, "peer_mentor"), b),
            (client(room, "member2"), a),
        ]
        everyone = [rose, *(c for c, _ in senders)]
        await asyncio.gather(rose.connect(a.port), *(c.connect(p.port) for c, p in senders))
        await asyncio.gather(*(c.settled() for c in everyone))
        start = rose.last_seq

        async def talk(member: RoomClient, process) -> list[dict]:
            replies = []
            for index in range(PER_MEMBER):
                replies.append(await member.post(f"{index}", ports=[process.port]))
                await asyncio.sleep(0.15)
            return replies

        talking = asyncio.gather(*(talk(c, p) for c, p in senders))
        await rose.wait_seq(start + 6)
        rose.abort()
        dropped_at = await rose.wait_closed(3), rose.last_seq
        await asyncio.sleep(0.6)  # the others keep talking while she is away
        state = await rose.connect(b.port)
        replies = await talking
        await all_caught_up(everyone)
        await close_all(everyone)
        return everyone, dropped_at, state, [r for batch in replies for r in batch]

    everyone, (code, seq_at_drop), state, replies = run(scenario())

    assert code == 1006
    assert state["last_seq"] > seq_at_drop, "nothing was sent while she was away"
    assert all(r["type"] == "ack" for r in replies), replies
    assert_everyone_has_the_log(everyone, room.session.pk)
    rose = everyone[0]
    assert rose.port == b.port
    for reply in replies:
        assert rose.message_ids().count(reply["message_id"]) == 1
    print(
        f"dropped at seq {seq_at_drop}, back at {state['last_seq']}, ended at {rose.last_seq}; "
        f"resumes {rose.resumes_sent}, wire duplicates {rose.wire_duplicates}"
    )


def test_members_of_a_killed_process_resume_on_the_other_and_lose_nothing(daphne):
    room = make_room()
    a, b = daphne("A", "B")
    per_member = 6

    async def scenario():
        placement = [
            (client(room, "facilitator"), a),
            (client(room, "member"), a),
            (client(room, "peer_mentor"), b),
            (client(room, "member2"), b),
        ]
        everyone = [c for c, _ in placement]
        await asyncio.gather(*(c.connect(p.port) for c, p in placement))
        await asyncio.gather(*(c.settled() for c in everyone))
        replies = await talk_through_a_kill(
            everyone, a, ports=[a.port, b.port], reconnect_to=[b.port], per_member=per_member
        )
        return everyone, replies

    everyone, replies = run(scenario())

    assert not a.alive()
    assert all(r["type"] == "ack" for r in replies), replies
    assert len({r["message_id"] for r in replies}) == len(everyone) * per_member
    assert_everyone_has_the_log(everyone, room.session.pk)
    for member in everyone[:2]:
        assert 1006 in member.close_codes, member.close_codes
        assert member.port == b.port
    for member in everyone:
        ids = member.message_ids()
        for reply in replies:
            assert ids.count(reply["message_id"]) == 1, member.name
    print(
        f"after SIGKILL: {len(replies)} acked messages, resumes "
        f"{[m.resumes_sent for m in everyone]}, wire duplicates "
        f"{[m.wire_duplicates for m in everyone]}"
    )
