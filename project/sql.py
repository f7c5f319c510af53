"""Plain SQL outside the live room: reading and rewriting raw ciphertexts for key rotation.

`rotate_field_keys` must rewrite each stored ciphertext without the encrypted field decoding
it into plain text first (the field would decrypt on read and encrypt again on save), so it
reads the raw column. Only quoted names from the models' `_meta` are formatted in; every value
is a parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

M = TypeVar("M", bound=Model)


def ciphertext_page(table: str, pk: str, column: str) -> str:
    """A page of non-empty ciphertexts after a primary key. Parameters: last pk, page size."""
    return (
        f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column} <> '' "  # noqa: S608
        f"ORDER BY {pk} LIMIT %s"
    )


def ciphertext_update(table: str, pk: str, column: str) -> str:
    """Rewrite one ciphertext. Parameters: new ciphertext, pk."""
    return f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608


# --- Whole model rows from a plain-SQL read (issue 20) --------------------------------------
#
# A read on a hot path (a token on every reconnect, a `resume`) is written once as plain SQL,
# but what it returns are still the models' own instances: every column converted as the ORM
# converts it (an encrypted field decrypted by its own `from_db_value`, SQLite's datetimes
# parsed by the backend), so the code that reads them cannot tell the difference.


def _db() -> BaseDatabaseWrapper:
    """The default database's wrapper itself. The hot paths here read it once rather than
    through Django's `connection` proxy, where every attribute read is a thread-local lookup
    (a dozen per cursor; issue 20)."""
    return connections[DEFAULT_DB_ALIAS]


def db_time(value: datetime) -> Any:
    """A datetime as the database backend takes it in a plain-SQL parameter."""
    return _db().ops.adapt_datetimefield_value(value)


def model_columns(model: type[Model], alias: str) -> str:
    """Every concrete column of `model` under `alias`, in `_meta` order, for a SELECT list
    that `model_load` reads back."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@functools.cache
def _loader(model: type[Model], vendor: str) -> tuple[list[str], list[tuple[int, Any, list[Any]]]]:
    """Its attribute names and, per column that has any, the ORM's converters (the
    backend's, then the field's own), found once per process as the compiler finds them."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]
    converters: list[tuple[int, Any, list[Any]]] = []
    for i, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((i, column, found))
    return names, converters


def model_load(model: type[M], row: Sequence[Any], start: int = 0) -> tuple[M | None, int]:
    """The instance of `model` whose `model_columns` begin at `row[start]`, as the ORM would
    have built it (None when a LEFT JOIN found none: its primary key is NULL), and where the
    next model's columns begin."""
    db = _db()
    names, converters = _loader(model, db.vendor)
    end = start + len(names)
    values = list(row[start:end])
    if values[names.index(model._meta.pk.attname)] is None:
        return None, end
    for i, column, found in converters:
        for convert in found:
            values[i] = convert(values[i], column, db)
    return model.from_db(db.alias, names, values), end


# --- Prepared statements for the room's plain SQL (issue 20) ----------------------------------
#
# Django binds parameters on the client (psycopg's ClientCursor: every value quoted into the
# statement's text in Python) and never prepares. The room's plain-SQL reads run the same few
# statements all day, so on PostgreSQL they go through a cursor that sends the values apart
# from the statement and prepares each statement once per pooled connection: PostgreSQL parses
# and plans it once, and the process does not quote anything (docs/performance.md).


# A psycopg connection prepares a statement after this many runs unless asked sooner; Django's
# connections come with None (never, whatever a cursor asks), so the room's cursor sets this
# instead: only the statements it asks for are prepared.
_ONLY_WHEN_ASKED = 2**31 - 1


class _PreparedCursor(psycopg.Cursor[Any]):
    """psycopg's server-side-binding cursor, preparing every statement it runs."""

    def execute(  # type: ignore[override]
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> _PreparedCursor:
        chosen = True if prepare is None else prepare
        return super().execute(query, params, prepare=chosen, binary=binary)


def _prepare_wanted(db: BaseDatabaseWrapper) -> bool:
    """`HAVEN_FAST_POST_PREPARE=0` (behind a transaction-mode pooler) turns preparing off, and
    a `prepare_threshold` in the database's options is the operator's own choice."""
    options = db.settings_dict.get("OPTIONS", {})
    return bool(settings.HAVEN_FAST_POST_PREPARE) and "prepare_threshold" not in options


def prepared_cursor() -> CursorWrapper:
    """A cursor for the room's hot plain-SQL statements (`%s` placeholders, as everywhere):
    on PostgreSQL the values are sent apart from the statement and each statement is prepared
    on its pooled connection the first time (unless `_prepare_wanted` says no); elsewhere
    Django's own cursor. Django's wrapper goes around it either way, so transactions, error
    translation and query counting in tests are as for any cursor."""
    db = _db()
    if db.vendor != "postgresql":
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        conn = db.connection
        if _prepare_wanted(db):
            if conn.prepare_threshold is None:
                conn.prepare_threshold = _ONLY_WHEN_ASKED
            raw: psycopg.Cursor[Any] = _PreparedCursor(conn)
        else:
            raw = psycopg.Cursor(conn)
        # As Django's `create_cursor`: datetimes in the connection's time zone.
        loader = conn.adapters.get_loader(pg_types["timestamptz"].oid, Format.TEXT)
        if db.timezone != getattr(loader, "timezone", None):
            register_tzloader(db.timezone, raw)
        return db._prepare_cursor(raw)
