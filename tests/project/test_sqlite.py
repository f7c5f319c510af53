"""Embedded mode: two writers on one SQLite file wait for each other instead of failing.

A transaction that reads and then writes (an invite redeem) while another connection writes (a
management command such as `staff_create` beside the server) used to fail at once with "database
is locked": under SQLite's default DEFERRED transactions the reader's snapshot goes stale when the
other writer commits, and SQLite refuses the upgrade to a write without waiting. `IMMEDIATE`
transactions take the write lock at BEGIN, so the second writer waits its turn (the busy timeout
of `project.config.database_config`).

Real SQLite files and Django's own sqlite3 backend on two threads, each with its own connection.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction

from project import config

# How long the reading transaction pauses between its read and its write, giving the other
# writer every chance to commit in between (which is what used to break it).
PAUSE_SECONDS = 1.0


@pytest.fixture
def sqlite_alias(tmp_path: Path, django_db_blocker: Any) -> Iterator[Callable[..., str]]:
    """Registers a Django database alias on a fresh SQLite file configured like Haven's."""
    aliases: list[str] = []

    def register(**option_overrides: Any) -> str:
        settings_dict = config.database_config({}, var_dir=tmp_path)
        settings_dict["OPTIONS"].update(option_overrides)
        alias = f"sqlite_{uuid.uuid4().hex[:8]}"
        # Django fills in the defaults of every key it reads (ATOMIC_REQUESTS, TIME_ZONE ...).
        configured = connections.configure_settings({"default": settings_dict})["default"]
        connections.settings[alias] = configured
        aliases.append(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute("CREATE TABLE counter (n integer NOT NULL)")
            cursor.execute("INSERT INTO counter (n) VALUES (0)")
        return alias

    with django_db_blocker.unblock():
        yield register
        for alias in aliases:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


def _race(alias: str) -> tuple[list[BaseException], float, int]:
    """A read-then-write transaction and a second writer, the second writing between the
    first's read and its write. Returns the errors raised, how long the second writer took,
    and the counter at the end."""
    read_done = threading.Event()
    other_done = threading.Event()
    errors: list[BaseException] = []
    took: list[float] = []

    def read_then_write() -> None:
        try:
            with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                (seen,) = cursor.fetchone()
                read_done.set()
                other_done.wait(PAUSE_SECONDS)
                cursor.execute("UPDATE counter SET n = %s", [seen + 1])
        except BaseException as error:
            errors.append(error)
        finally:
            read_done.set()
            connections[alias].close()

    def other_writer() -> None:
        read_done.wait(10)
        started = time.monotonic()
        try:
            with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                cursor.execute("UPDATE counter SET n = n + 10")
        except BaseException as error:
            errors.append(error)
        finally:
            took.append(time.monotonic() - started)
            other_done.set()
            connections[alias].close()

    threads = [threading.Thread(target=read_then_write), threading.Thread(target=other_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        (final,) = cursor.fetchone()
    return errors, took[0], final


def test_embedded_database_transactions_start_immediate(tmp_path):
    db = config.database_config({}, var_dir=tmp_path)

    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    # The busy timeout is what the second writer waits under: long enough for any request.
    assert db["OPTIONS"]["timeout"] >= 5


def test_the_transaction_mode_reaches_the_connection(sqlite_alias):
    alias = sqlite_alias()

    connections[alias].ensure_connection()

    assert connections[alias].transaction_mode == "IMMEDIATE"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded database is SQLite")
@pytest.mark.django_db
def test_the_test_database_runs_with_immediate_transactions_too():
    connection.ensure_connection()

    assert connection.transaction_mode == "IMMEDIATE"


def test_a_read_then_write_transaction_racing_another_writer_waits_instead_of_failing(
    sqlite_alias,
):
    alias = sqlite_alias()

    errors, other_took, final = _race(alias)

    assert errors == []
    # The other writer waited for the first transaction's commit, then wrote after it.
    assert other_took >= PAUSE_SECONDS * 0.8
    assert final == 11


def test_under_deferred_transactions_the_same_race_fails_with_database_is_locked(sqlite_alias):
    """The control: the race above is real, and this is what IMMEDIATE fixed."""
    alias = sqlite_alias(transaction_mode=None)

    errors, _other_took, final = _race(alias)

    assert len(errors) == 1
    assert isinstance(errors[0], OperationalError)
    assert "database is locked" in str(errors[0])
    assert final == 10
