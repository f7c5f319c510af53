"""SQL statements and wall time per live-room operation, on the seeded benchmark database.

A companion to the load benchmark: ARCHITECTURE.md rule 9 wants one transaction per message,
and this shows what each hot-path service costs in statements. Run after a seed:

    python bench/querycount.py    # var/bench/seed.json, the checkout's bench database
    python bench/querycount.py --entry    # what one connection costs to get in, step by step

`--entry` counts, for a host and a member, the statements of each step of getting into the
room as a reconnecting phone does (issue 20): room entry's token check, reads and writes,
the channel groups joined, the `session.state` reads, `resume` (nothing missed, and 50
events missed), and leaving (BEGIN and COMMIT, where a step has them, are not counted).
Statement counts do not depend on load; the timings printed beside them do, and mean
something only on a quiet machine.
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
    result, statements = count(fn)
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    ms = 1000 * (time.perf_counter() - started) / max(1, repeat)
    print(f"{label:<22} {len(statements):>3} statements  {ms:7.2f} ms wall (mean of {repeat})")
    if show_sql:
        for sql in statements:
            print(f"    {sql[:140]}")
    return result


def count(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """`fn`'s result and the statements it ran (the room's prepared ones too, whose text
    Django's query log leaves out; BEGIN and COMMIT are not statements here)."""
    from django.db import connection

    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = fn()
    return result, statements


def entry_breakdown(group: dict[str, Any], *, show_sql: bool) -> None:
    """Statements per step of one connection getting in (see the module docstring)."""
    from datetime import timedelta

    from django.utils import timezone

    from facilitation import services, sql
    from groups.models import ApiToken
    from groups.services import token_hash
    from groups.sql import token_statements

    templates = {name: text[:40] for name, text in sql.room().items()}
    labels = {
        "enter_with_token": "entry: her token and the one read that decides",
        "enter_at_once": "entry: her token, the read that decides and her arrival, in one",
        "participant": "entry: participant row (first entry only)",
        "first_seq": "entry: participant first seq (first entry only)",
        "attendance": "entry: attendance row",
        "present": "session.state: who is here",
        "arrive": "entry: her arrival (attendance row, who is here)",
    }
    touch = token_statements()[1]

    def label(statement: str) -> str:
        if statement == touch:
            return "entry: her token's idle clock (first use in a minute)"
        for name, start in templates.items():
            if statement.startswith(start) and name in labels:
                return labels[name]
            if statement.startswith(start) and name.startswith("arrive"):
                return labels["arrive"]
        return "session.state: host lists (member: her request)"

    for who, token in (("host", group["tokens"][0]), ("member", group["tokens"][1])):
        print(f"\n{who}:")
        rows: list[tuple[str, list[str]]] = []
        # A token last used over a minute ago is touched (one more write) on its first use.
        ApiToken.objects.filter(key_hash=token_hash(token)).update(
            last_used_at=timezone.now() - timedelta(minutes=5)
        )

        def enter(token: str = token) -> Any:
            return services.room_enter_with_token(key=token, session_id=group["session_id"])

        entered, stmts = count(enter)
        services.room_leave(context=entered.context)
        rows.append(("entry, token idle over a minute (all steps)", stmts))
        entered, stmts = count(enter)
        context, state = entered.context, entered.state
        by: dict[str, list[str]] = {}
        for statement in stmts:
            by.setdefault(label(statement), []).append(statement)
        rows += list(by.items())
        names = services.room_channel_groups(context, token_id=entered.token_id, session_key=None)
        last = state["last_seq"]

        def resume(after: int, context: Any = context) -> None:
            services.resume_read(
                context=context,
                after_seq=after,
                history_after=context.history_after,
            )

        _none, stmts = count(lambda last=last: resume(last))
        rows.append(("resume: nothing missed (1 database call)", stmts))
        _none, stmts = count(lambda last=last: resume(max(0, last - 50)))
        rows.append(("resume: 50 events missed (1 database call)", stmts))
        _none, stmts = count(lambda context=context: services.room_leave(context=context))
        rows.append(("leave", stmts))
        for step, statements in rows:
            print(f"  {step:<52} {len(statements):>3} statements")
            if show_sql:
                for statement in statements:
                    print(f"      {statement[:150]}")
        again = ("entry:", "session", "resume: n")  # a reconnect: no first-entry rows
        total = sum(len(st) for step, st in rows if step.startswith(again) and "first " not in step)
        print(
            f"  {'channel groups joined (pub/sub SUBSCRIBE when new here)':<52} "
            f"{len(names):>3} groups + 1 own channel"
        )
        print(
            f"  {'total: a reconnect, nothing missed':<52} {total:>3} statements, "
            "2 database calls (token with entry, resume)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-file", type=Path, default=seed.DEFAULT_VAR_DIR / "seed.json")
    parser.add_argument("--database-url", default=seed.DEFAULT_DATABASE_URL)
    parser.add_argument("--group", type=int, default=0)
    parser.add_argument("--sql", action="store_true", help="print the statements")
    parser.add_argument("--entry", action="store_true", help="getting in, step by step")
    args = parser.parse_args()
    os.environ.update(seed.haven_env(args.database_url, seed.DEFAULT_VAR_DIR))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from facilitation import services
    from groups.authentication import user_for_token

    group = json.loads(args.seed_file.read_text())["groups"][args.group]
    if args.entry:
        entry_breakdown(group, show_sql=args.sql)
        return
    token = group["tokens"][1]
    found = user_for_token(token)
    assert found is not None, "seeded token not found: run bench/seed.py first"
    user = found[0]
    session_id = group["session_id"]
    show = args.sql
    measure("token lookup", lambda: user_for_token(token), repeat=20, show_sql=show)

    def enter_and_leave() -> Any:
        # Leaving too, or the repeats would pass her SOCKETS_PER_MEMBER open connections.
        context, state = services.room_enter(actor=user, session_id=session_id)
        services.room_leave(context=context)
        return context, state

    measure("room_enter + room_leave", enter_and_leave, repeat=5, show_sql=show)
    context, _state = services.room_enter(actor=user, session_id=session_id)
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
    measure("room_leave", lambda: services.room_leave(context=context), repeat=0, show_sql=show)


if __name__ == "__main__":
    main()
