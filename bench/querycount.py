"""SQL statements and wall time per live-room operation, on the seeded benchmark database.

A companion to the load benchmark: ARCHITECTURE.md rule 9 wants one transaction per message,
and this shows what each hot-path service costs in statements. Run after a seed:

    python bench/querycount.py    # var/bench/seed.json, the checkout's bench database
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402


def measure(label: str, fn: Callable[[], Any], *, repeat: int, show_sql: bool) -> Any:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    statements = [q["sql"] for q in ctx.captured_queries]
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    ms = 1000 * (time.perf_counter() - started) / max(1, repeat)
    print(f"{label:<22} {len(statements):>3} statements  {ms:7.2f} ms wall (mean of {repeat})")
    if show_sql:
        for sql in statements:
            print(f"    {sql[:140]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-file", type=Path, default=seed.DEFAULT_VAR_DIR / "seed.json")
    parser.add_argument("--database-url", default=seed.DEFAULT_DATABASE_URL)
    parser.add_argument("--group", type=int, default=0)
    parser.add_argument("--sql", action="store_true", help="print the statements")
    args = parser.parse_args()
    os.environ.update(seed.haven_env(args.database_url, seed.DEFAULT_VAR_DIR))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from facilitation import services
    from groups.authentication import user_for_token

    group = json.loads(args.seed_file.read_text())["groups"][args.group]
    token = group["tokens"][1]
    found = user_for_token(token)
    assert found is not None, "seeded token not found: run bench/seed.py first"
    user = found[0]
    session_id = group["session_id"]
    show = args.sql
    measure("token lookup", lambda: user_for_token(token), repeat=20, show_sql=show)
    context, _state = measure(
        "room_enter",
        lambda: services.room_enter(actor=user, session_id=session_id),
        repeat=5,
        show_sql=show,
    )
    measure(
        "room_touch_many (the heartbeat of every connection of a process)",
        lambda: services.room_touch_many(
            beats=[
                services.Beat(
                    attendance_id=context.attendance_id,
                    session_id=context.session_id,
                    member_id=context.member_id,
                    user_id=context.user_id,
                    token_id=None,
                )
            ]
        ),
        repeat=20,
        show_sql=show,
    )
    measure(
        "message_post",
        lambda: services.message_post(
            actor=user,
            context=context,
            body="hello",
            content_warning=None,
            client_id=str(uuid.uuid4()),
        ),
        repeat=3,
        show_sql=show,
    )
    measure(
        "events_replay (50)",
        lambda: services.events_replay(session_id=session_id, after_seq=0, limit=50),
        repeat=10,
        show_sql=show,
    )
    measure("room_leave", lambda: services.room_leave(context=context), repeat=5, show_sql=show)


if __name__ == "__main__":
    main()
