"""Seed the benchmark database: G groups x M members, agreement accepted, one live session each.

Everything is made through Haven's services (the facilitator of each group is member 0 and
hosts its session). Writes a JSON file with, per group, the session id and the members' tokens.
Re-seeds only when G x M changes or the file and the database disagree: its sessions must be
live and a sample of its own tokens must still sign in (issue 20). Each checkout has its own
database by default (`checkout_database_name`).

    python bench/seed.py --groups 200 --members 10 --out var/bench/seed.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def checkout_database_name(root: Path = ROOT) -> str:
    """The bench database of one checkout: `haven_bench_` and a digest of the checkout's path.

    Two checkouts on one PostgreSQL never share (and re-seed) each other's database, which
    left one checkout's seed file with session ids that still matched and tokens that did not
    (issue 20).
    """
    return "haven_bench_" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]


DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{checkout_database_name()}"
DEFAULT_VAR_DIR = ROOT / "var" / "bench"
PASSWORD = "correct horse battery staple"


def _admin_url(database_url: str) -> tuple[str, str]:
    """(URL of the maintenance database, name of the bench database)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    return admin.replace("postgres://", "postgresql://", 1), name


def database_recreate(database_url: str, *, drop: bool) -> None:
    import psycopg
    from psycopg import sql

    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_vacuum(database_url: str) -> None:
    """Clear dead rows and refresh the planner's statistics (`VACUUM ANALYZE`), as autovacuum
    does on its own in production.

    This machine's PostgreSQL runs with `autovacuum = off`: without this, every fleet leaves
    its 2,000 closed attendance rows (and the heartbeat's updates) behind as dead rows in the
    table and in the open-attendance index that room entry reads, run after run on the same
    seed (50,475 dead against 45,250 live attendance rows after one morning's twenty fleets).
    A fresh seed otherwise plans the first windows against the statistics of empty tables.
    """
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def attendance_close_all(database_url: str) -> int:
    """Close every open attendance row of the bench database (a fresh process's S4 starts
    from an empty room); returns how many were open."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        done = conn.execute(
            "UPDATE facilitation_attendance SET left_at = now() WHERE left_at IS NULL"
        )
        return done.rowcount


def haven_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": database_url,
            "HAVEN_VAR_DIR": str(var_dir),
            "HAVEN_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("REDIS_URL", None)
    return env


def production_env(var_dir: Path) -> dict[str, str]:
    """Settings for serving the seeded database as production does (DEBUG off).

    The keys are the ones the seed (run in debug mode) generated into `var_dir`, so what it
    encrypted stays readable. Plain HTTP is fine here: every socket is on loopback.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from project import config

    config.read_or_create_secret(var_dir / "secret_key")
    config.field_encryption_keys({}, debug=True, var_dir=var_dir)
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": (var_dir / "secret_key").read_text().strip(),
        "FIELD_ENCRYPTION_KEYS": (var_dir / "field_keys").read_text().strip(),
        "HAVEN_HTTPS": "0",
    }


def _seed_is_current(out: Path, groups: int, members: int, database_url: str) -> bool:
    return seed_stale(out, groups, members, database_url) is None


def seed_stale(out: Path, groups: int, members: int, database_url: str) -> str | None:
    """Why the seed file cannot be used with this database, or None when it can."""
    if not out.exists():
        return "no seed file"
    try:
        data = json.loads(out.read_text())
    except ValueError:
        return "the seed file is not JSON"
    if data.get("groups_n") != groups or data.get("members_n") != members:
        return "another G x M"
    if data.get("database_url") != database_url:
        return "another database"
    import psycopg

    ids = [g["session_id"] for g in data["groups"]]
    try:
        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM facilitation_session WHERE id = ANY(%s) AND status = 'live'",
                [ids],
            ).fetchone()
    except psycopg.Error as error:
        return f"database unreadable ({type(error).__name__})"
    if row is None or row[0] != len(ids):
        return f"{len(ids) - (row[0] if row else 0)} of its sessions not live"
    try:
        refused = tokens_refused(database_url, sample_tokens(data))
    except RuntimeError as error:
        return str(error)
    return f"{len(refused)} of its sampled tokens refused" if refused else None


def sample_tokens(data: dict[str, Any]) -> list[str]:
    """A few of the seed's own tokens: the first and last member of the first and last group."""
    groups = data.get("groups") or []
    picked = [t for g in groups[:1] + groups[-1:] for t in g["tokens"][:1] + g["tokens"][-1:]]
    return list(dict.fromkeys(picked))


def tokens_refused(
    database_url: str, tokens: list[str], var_dir: Path = DEFAULT_VAR_DIR
) -> list[int]:
    """The positions in `tokens` of those that do not sign in to the database (Haven's own
    `token_authenticate`, in a child process pointed at it): another checkout re-seeded it,
    or they expired. RuntimeError when the check itself fails."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--check-tokens"],
        cwd=ROOT,
        env=haven_env(database_url, var_dir),
        input=json.dumps(tokens),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the token check failed: {last[:200]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _refused_in_process(tokens: list[str]) -> list[int]:
    """Runs inside a process whose environment points Django at the bench database."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from groups.services import token_authenticate

    return [i for i, key in enumerate(tokens) if token_authenticate(key=key) is None]


def _seed_in_process(groups: int, members: int) -> list[dict[str, Any]]:
    """Runs inside a process whose environment points Django at the bench database."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import transaction

    # Argon2 would take minutes for thousands of accounts; nobody signs in with these.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    out: list[dict[str, Any]] = []
    run = f"{int(time.time()) % 100000:05d}"
    for g in range(groups):
        # One commit per group: the services' own transactions become savepoints.
        with transaction.atomic():
            out.append(seed_group(run, g, members))
    return out


def seed_group(run: str, g: int, members: int) -> dict[str, Any]:
    """Group `g` of `members` (the facilitator first, as host), agreement accepted by all, one
    live session; its session id, group id and every member's token. Also the restart-storm
    test's room (tests/e2e/test_restart_storm.py)."""
    from django.utils import timezone

    from facilitation import services as session_services
    from groups import services as group_services
    from groups.models import GroupRole, OrgRole

    facilitator = group_services.staff_create(
        actor=None, username=f"bf{run}-{g}", password=PASSWORD, org_role=OrgRole.FACILITATOR
    ).user
    group = group_services.group_create(
        actor=facilitator, name=f"Bench group {g}", description="", display_name="Host"
    )
    tokens = [group_services.token_issue(user=facilitator)]
    agreement = group_services.agreement_publish(actor=facilitator, group=group, points=["Be kind"])
    if members > 1:
        _invite, code = group_services.invite_create(
            actor=facilitator, group=group, role=GroupRole.MEMBER, max_uses=members - 1
        )
    for m in range(1, members):
        membership, token = group_services.invite_redeem(
            actor=None,
            code=code,
            display_name=f"Member {m}",
            username=f"bm{run}-{g}-{m}",
            password=PASSWORD,
        )
        group_services.agreement_accept(
            actor=membership.user, group=group, version=agreement.version
        )
        tokens.append(token)
    now = timezone.now()
    session = session_services.session_create(
        actor=facilitator,
        group=group,
        title=f"Bench session {g}",
        starts_at=now,
        ends_at=now + timedelta(hours=12),
        kind="drop_in",
    )
    for status in ("open", "live"):
        session = session_services.session_set_status(
            actor=facilitator, session=session, status=status
        )
    return {"session_id": session.pk, "group_id": group.pk, "tokens": tokens}


def ensure_seed(
    *,
    groups: int,
    members: int,
    out: Path,
    database_url: str = DEFAULT_DATABASE_URL,
    var_dir: Path = DEFAULT_VAR_DIR,
    log: Any = print,
) -> dict[str, Any]:
    """Return the seed data, creating database and data when G x M (or the database) changed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    var_dir.mkdir(parents=True, exist_ok=True)
    stale = seed_stale(out, groups, members, database_url)
    if stale is None:
        # The app moves on: bring the kept database up to its migrations (a no-op when current).
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=haven_env(database_url, var_dir),
            check=True,
        )
        database_vacuum(database_url)
        return json.loads(out.read_text())
    started = time.monotonic()
    log(f"seed: (re)creating {groups} groups x {members} members in {database_url} ({stale})")
    database_recreate(database_url, drop=True)
    env = haven_env(database_url, var_dir)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--in-process",
            "--groups",
            str(groups),
            "--members",
            str(members),
            "--out",
            str(out),
            "--database-url",
            database_url,
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    database_vacuum(database_url)
    log(f"seed: done in {time.monotonic() - started:.1f} s")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--out", type=Path, default=DEFAULT_VAR_DIR / "seed.json")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--var-dir", type=Path, default=DEFAULT_VAR_DIR)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check-tokens", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_tokens:
        print(json.dumps(_refused_in_process(json.loads(sys.stdin.read()))))
        return
    if args.in_process:
        data = _seed_in_process(args.groups, args.members)
        args.out.write_text(
            json.dumps(
                {
                    "groups_n": args.groups,
                    "members_n": args.members,
                    "database_url": args.database_url,
                    "groups": data,
                }
            )
        )
        return
    ensure_seed(
        groups=args.groups,
        members=args.members,
        out=args.out,
        database_url=args.database_url,
        var_dir=args.var_dir,
    )


if __name__ == "__main__":
    main()
