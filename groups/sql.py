"""The plain SQL of the groups app: the bearer-token check every reconnecting phone asks for.

Built once per process from the models' own (quoted) table names; every value is a
parameter. The rule the statement gathers its inputs for is decided elsewhere, once:
expiry by `groups.models.token_live_after`, the rest by `groups.services.token_authenticate`.
"""

from __future__ import annotations

import functools

from django.db import connection

from groups.models import ApiToken, User
from project.sql import model_columns

# Which token a key names, while it lives (parameters: key hash, issued after, used after).
_LIVE = "t.key_hash = %s AND t.created_at > %s AND t.last_used_at > %s"


@functools.cache
def token_statements() -> tuple[str, str]:
    """The token check's two statements: the token with its account (all columns of each,
    for `project.sql.model_load`; parameters: key hash, issued after, used after), and moving
    its idle clock on (parameters: now, token id)."""
    tokens = connection.ops.quote_name(ApiToken._meta.db_table)
    touch = f"UPDATE {tokens} SET last_used_at = %s WHERE id = %s"  # noqa: S608
    return token_read(), touch


def token_read(columns: str = "", join: str = "") -> str:
    """The token check's read, with more `columns` read through a `join` in the same
    statement (room entry, `facilitation.sql.room()["enter_with_token"]`): the join's
    parameters first, then the token's three."""
    quote = connection.ops.quote_name
    tokens, users = quote(ApiToken._meta.db_table), quote(User._meta.db_table)
    more = f", {columns}" if columns else ""
    return (
        f"SELECT {model_columns(ApiToken, 't')}, {model_columns(User, 'u')}{more} "  # noqa: S608
        f"FROM {tokens} t JOIN {users} u ON u.id = t.user_id {join} "
        f"WHERE {_LIVE}"
    )


def token_user() -> str:
    """The user id of the live token a key names, as a scalar subquery (its parameters are the
    token's three), for statements that read her rows beside the token's."""
    tokens = connection.ops.quote_name(ApiToken._meta.db_table)
    return f"SELECT t.user_id FROM {tokens} t WHERE {_LIVE}"  # noqa: S608
