"""The CPU of room entry on its own: this process's and PostgreSQL's, per entry.

A companion to the load benchmark (issue 20): the fleet opening mixes Daphne's handshake,
the event loop, the database threads, PostgreSQL and the generator on two cores; this runs
one of them alone. Every seeded member enters her group's room with her token, as a phone
reconnecting does (`services.room_enter_with_token`, what the consumer's database call runs),
and leaves again (or her open connections would reach SOCKETS_PER_MEMBER), on one thread, one
after another, with what each call broadcasts collected as `realtime.run_in_db` collects it
(never published). Run after a seed, on a quiet machine:

    python bench/entrycpu.py              # 3 rounds of every seeded member (2,000)
    python bench/entrycpu.py --read-only  # only entry's one read, and 32 of them pipelined
    python bench/entrycpu.py --idle       # every token's idle clock due, as after a restart

Prints, per entry: this process's CPU (`time.process_time`) for entering and for leaving,
and the CPU of the PostgreSQL backend serving it (`/proc/<pid>/stat`) for both. The first
200 entries warm up (statements prepared, caches filled) and are not counted; the database is
`VACUUM ANALYZE`d first, as before every benchmark run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402
from loadgen import CLK_TCK, proc_ticks  # noqa: E402

WARM_UP = 200
PIPELINE = 32


def backend_cpu(pid: int) -> float:
    """Seconds of CPU the PostgreSQL backend has used (user + system)."""
    ticks = proc_ticks(pid)
    if ticks is None:
        raise SystemExit("the PostgreSQL backend serving this process is gone")
    return ticks / CLK_TCK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-file", type=Path, default=seed.DEFAULT_VAR_DIR / "seed.json")
    parser.add_argument("--database-url", default=seed.DEFAULT_DATABASE_URL)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-only", action="store_true", help="entry's read alone")
    parser.add_argument(
        "--idle",
        action="store_true",
        help="before each round, every token last used two minutes ago: its idle clock is due "
        "a write on entry, as for everyone reconnecting after a restart",
    )
    args = parser.parse_args()
    # As before every benchmark run: fresh statistics, as autovacuum would keep them.
    seed.database_vacuum(args.database_url)
    os.environ.update(seed.haven_env(args.database_url, seed.DEFAULT_VAR_DIR))
    # As the benchmark serves Haven: production settings (no query log kept by DEBUG).
    os.environ.update(seed.production_env(seed.DEFAULT_VAR_DIR))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.models import F

    from facilitation import services
    from project import realtime

    data = json.loads(args.seed_file.read_text())
    pairs = [(token, group["session_id"]) for group in data["groups"] for token in group["tokens"]]
    realtime._outbox.set([])  # broadcasts are collected, as `run_in_db` does, and dropped
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def enter_and_leave(chosen: list[tuple[str, int]]) -> tuple[float, float]:
        entering = leaving = 0.0
        for key, session_id in chosen:
            started = time.process_time()
            entered = services.room_enter_with_token(key=key, session_id=session_id)
            entering += time.process_time() - started
            started = time.process_time()
            services.room_leave(context=entered.context)
            leaving += time.process_time() - started
            realtime._outbox.get().clear()
        return entering, leaving

    if args.read_only:
        read_only(pairs, backend, rounds=args.rounds)
        return

    def idle() -> None:
        if args.idle:
            from groups.models import ApiToken

            ApiToken.objects.update(last_used_at=F("last_used_at") - timedelta(minutes=2))

    idle()
    enter_and_leave(pairs[:WARM_UP])
    for _round in range(args.rounds):
        idle()
        before = backend_cpu(backend)
        entering, leaving = enter_and_leave(pairs)
        database = backend_cpu(backend) - before
        n = len(pairs)
        print(
            f"per entry: enter {1000 * entering / n:.3f} ms, leave {1000 * leaving / n:.3f} ms "
            f"of this process's CPU; PostgreSQL {1000 * database / n:.3f} ms (both); n={n}"
        )


def read_only(pairs: list[tuple[str, int]], backend: int, *, rounds: int) -> None:
    """Entry's one read (`sql.room()["enter_with_token"]`), one statement at a time through
    the room's cursor, then PIPELINE at a time in one psycopg pipeline."""
    from django.db import connections

    from facilitation import sql
    from facilitation.services.entry import _entry_params
    from groups.services import TokenCheck
    from project.sql import _PreparedCursor, prepared_cursor

    statement = sql.room()["enter_with_token"]

    def params(key: str, session_id: int) -> list[Any]:
        check = TokenCheck(key)
        return [*_entry_params(session_id, check.now, check.params), *check.params]

    def one_by_one() -> None:
        for key, session_id in pairs:
            with prepared_cursor() as cursor:
                cursor.execute(statement, params(key, session_id))
                cursor.fetchone()

    def pipelined() -> None:
        for start in range(0, len(pairs), PIPELINE):
            with prepared_cursor():
                raw = connections["default"].connection
                cursors = []
                with raw.pipeline():
                    for key, session_id in pairs[start : start + PIPELINE]:
                        cursor = _PreparedCursor(raw)
                        cursor.execute(statement, params(key, session_id))
                        cursors.append(cursor)
                for cursor in cursors:
                    cursor.fetchone()

    for label, run in (("one by one", one_by_one), (f"{PIPELINE} per pipeline", pipelined)):
        run()  # warm up
        for _round in range(rounds):
            before, started = backend_cpu(backend), time.process_time()
            run()
            spent, database = time.process_time() - started, backend_cpu(backend) - before
            print(
                f"read, {label}: this process {1000 * spent / len(pairs):.3f} ms, "
                f"PostgreSQL {1000 * database / len(pairs):.3f} ms per read"
            )


if __name__ == "__main__":
    main()
