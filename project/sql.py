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

from django.db import connection
from django.db.models import Model

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


def db_time(value: datetime) -> Any:
    """A datetime as the database backend takes it in a plain-SQL parameter."""
    return connection.ops.adapt_datetimefield_value(value)


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
    names, converters = _loader(model, connection.vendor)
    end = start + len(names)
    values = list(row[start:end])
    if values[names.index(model._meta.pk.attname)] is None:
        return None, end
    for i, column, found in converters:
        for convert in found:
            values[i] = convert(values[i], column, connection)
    return model.from_db(connection.alias, names, values), end
