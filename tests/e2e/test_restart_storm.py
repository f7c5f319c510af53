"""A restart with everyone connected (issue 20): the Daphne process serving 200 members in four
live sessions is stopped as a deploy stops it (SIGTERM) and a new one starts on the same port;
every member comes back and resumes, and every acked message reaches every member exactly once.
A process stopped that way closes the attendance of every connection it held, so she is never
counted twice or refused for too many connections around restarts.

Asserted on counts and on the stored log, never on how long anything took; every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
import uuid
from types import ModuleType

from project import closecodes
from tests.e2e.conftest import (
    E2E,
    ROOT,
    Process,
    Refused,
    RoomClient,
    adb,
    all_caught_up,
    assert_everyone_has_the_log,
    close_all,
    db_messages,
    run,
)

pytestmark = E2E

GROUPS = 4
MEMBERS = 50  # per group: 200 members in all, the host of each included
# Closes after which room.js does not reconnect either; anything else (the process is gone,
# 4503 try again later) is tried again.
FINAL = {
    closecodes.NOT_SIGNED_IN,
    closecodes.FORBIDDEN,
    closecodes.NO_SESSION,
    closecodes.AGREEMENT,
    closecodes.NOT_OPEN,
    closecodes.TOO_MANY,
}


def bench_seed() -> ModuleType:
    """bench/seed.py, whose `seed_group` makes the benchmark's rooms: one spelling of a room."""
    spec = importlib.util.spec_from_file_location("bench_seed", ROOT / "bench" / "seed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def come_back(client: RoomClient, port: int, *, attempts: int = 60) -> int:
    """Reconnect and resume as room.js does after a close: retry whatever is not final, a
    little later each time (capped, jittered). Returns the failed attempts."""
    for attempt in range(attempts):
        try:
            # A browser does not give up on a handshake of its own: neither does she. (One
            # she abandons may still enter the room and hold one of her SOCKETS_PER_MEMBER.)
            await client.connect(port, timeout=60)
            await client.settled(timeout=60)
            return attempt
        except Refused as refused:
            if refused.code in FINAL:
                raise
        except Exception:  # nothing listening yet, a handshake answered with an HTTP error
            pass
        await asyncio.sleep(random.uniform(0.1, min(2.0, 0.2 * 2**attempt)))
    raise AssertionError(f"{client.name} did not come back after {attempts} attempts")


def test_after_a_restart_with_200_members_connected_every_acked_message_reaches_each_once(
    daphne,
):
    seed = bench_seed()
    tag = uuid.uuid4().hex[:6]
    rooms = [seed.seed_group(tag, g, MEMBERS) for g in range(GROUPS)]
    (a,) = daphne("A")
    port = a.port
    sessions = [
        [
            RoomClient(f"g{g}m{m}", token, room["session_id"])
            for m, token in enumerate(room["tokens"])
        ]
        for g, room in enumerate(rooms)
    ]
    everyone = [client for clients in sessions for client in clients]
    report: dict[str, object] = {}
    started: list[Process] = []

    async def scenario() -> list[dict]:
        gate = asyncio.Semaphore(16)

        async def enter(client: RoomClient) -> int:
            async with gate:
                return await come_back(client, port)

        await asyncio.gather(*(enter(c) for c in everyone))
        report["connected before"] = sum(c.connected for c in everyone)
        assert report["connected before"] == GROUPS * MEMBERS
        answers = []
        for clients in sessions:  # the host and two members of each room speak
            for client in clients[:3]:
                answers.append(await client.post(f"{client.name} before", ports=[port]))
        # One message per room is on its way when the process is told to stop.
        in_flight = [(clients[3], await clients[3].say("at the restart")) for clients in sessions]
        report["stopped by SIGTERM alone"] = await asyncio.to_thread(a.stop, within=10)
        # Everyone starts coming back at once, while the new process is still starting.
        storm = [asyncio.create_task(come_back(c, port)) for c in everyone]
        await asyncio.sleep(0.5)
        (restarted,) = await asyncio.to_thread(daphne, "A-again", port=port)
        started.append(restarted)
        failures = await asyncio.gather(*storm)
        report["failed attempts in the storm"] = sum(failures)
        report["connected after"] = sum(c.connected for c in everyone)
        assert report["connected after"] == GROUPS * MEMBERS
        for client, client_id in in_flight:  # answered or not, the same client_id settles it
            answers.append(await client.post("at the restart", ports=[port], client_id=client_id))
        for clients in sessions:
            for client in clients[4:6]:
                answers.append(await client.post(f"{client.name} after", ports=[port]))
        for clients in sessions:
            await all_caught_up(clients, timeout=30)
        await close_all(everyone)
        return answers

    answers = run(scenario(), timeout=240)

    print(report)
    assert [answer["type"] for answer in answers] == ["ack"] * (GROUPS * 6)
    # Every broadcast went out live: none was dropped and left to the heartbeat's resume. (At
    # this size fewer than 100 publish at once; tests/project/test_layers.py goes past the
    # pool's limit, where redis-py once refused them.)
    for process in (a, *started):
        assert "broadcast to a group failed" not in process.log.read_text(errors="replace")
    for g, clients in enumerate(sessions):
        session_id = rooms[g]["session_id"]
        assert_everyone_has_the_log(clients, session_id)
        acked = {a["message_id"] for a in answers[g * 3 : g * 3 + 3]}
        acked |= {answers[GROUPS * 3 + g]["message_id"]}
        acked |= {a["message_id"] for a in answers[GROUPS * 4 + g * 2 : GROUPS * 4 + g * 2 + 2]}
        assert len(acked) == 6
        stored = db_messages(session_id)
        assert len(stored) == len({client_id for _, _, client_id in stored}) == 6
        for client in clients:
            ids = client.message_ids()
            assert all(ids.count(message_id) == 1 for message_id in acked), client.name


CLOSING_MEMBERS = 20
HER_TABS = 2
RESTARTS = 3


def open_attendance(session_id: int) -> int:
    """Open attendance rows of the session (from sync code)."""
    from facilitation.models import Attendance

    return Attendance.objects.filter(session_id=session_id, left_at__isnull=True).count()


def test_a_process_stopped_with_sigterm_closes_the_attendance_of_everyone_it_held(daphne):
    """Daphne cancels its connections on SIGTERM without their `disconnect`: the process closes
    their attendance rows itself on the way out. Otherwise each stays open (counted present,
    and toward her 5 connections) for the presence window, and a member with two tabs is
    refused with 4429 at the third restart within a minute and a half."""
    seed = bench_seed()
    room = seed.seed_group(uuid.uuid4().hex[:6], 0, CLOSING_MEMBERS)
    session_id = room["session_id"]
    (a,) = daphne("A")
    port = a.port
    everyone = [RoomClient(f"m{m}", token, session_id) for m, token in enumerate(room["tokens"])]
    her = room["tokens"][1]
    tabs: list[RoomClient] = []
    refused: list[int | None] = []
    report: dict[str, object] = {}

    async def scenario() -> None:
        for client in everyone:
            await client.connect(port, timeout=30)
        report["open while connected"] = await adb(open_attendance, session_id)
        report["stopped by SIGTERM alone"] = await asyncio.to_thread(a.stop, within=15)
        report["open after the stop"] = await adb(open_attendance, session_id)
        # Her two tabs come back after each restart; each process is stopped with them in it.
        for restart in range(RESTARTS):
            (b,) = await asyncio.to_thread(daphne, f"A{restart}", port=port)
            for t in range(HER_TABS):
                tab = RoomClient(f"her-tab{t}-{restart}", her, session_id)
                tabs.append(tab)
                try:
                    await tab.connect(port, timeout=30)
                except Refused as refusal:
                    refused.append(refusal.code)
            report[f"open with her tabs in, restart {restart}"] = await adb(
                open_attendance, session_id
            )
            report[f"restart {restart} stopped by SIGTERM alone"] = await asyncio.to_thread(
                b.stop, within=15
            )
        report["open at the end"] = await adb(open_attendance, session_id)
        await close_all(everyone + tabs)

    run(scenario(), timeout=240)

    print(report)
    assert report["open while connected"] == CLOSING_MEMBERS
    assert report["stopped by SIGTERM alone"] is True
    assert report["open after the stop"] == 0
    assert refused == []
    assert len(tabs) == RESTARTS * HER_TABS and all(tab.states for tab in tabs)
    for restart in range(RESTARTS):
        assert report[f"open with her tabs in, restart {restart}"] == HER_TABS
        assert report[f"restart {restart} stopped by SIGTERM alone"] is True
    assert report["open at the end"] == 0
