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


@functools.cache
def token_statements() -> tuple[str, str]:
    """The token check's two statements: the token with its account (all columns of each,
    for `project.sql.model_load`; parameters: key hash, issued after, used after), and moving
    its idle clock on (parameters: now, token id)."""
    quote = connection.ops.quote_name
    tokens, users = quote(ApiToken._meta.db_table), quote(User._meta.db_table)
    read = (
        f"SELECT {model_columns(ApiToken, 't')}, {model_columns(User, 'u')} "  # noqa: S608
        f"FROM {tokens} t JOIN {users} u ON u.id = t.user_id "
        "WHERE t.key_hash = %s AND t.created_at > %s AND t.last_used_at > %s"
    )
    touch = f"UPDATE {tokens} SET last_used_at = %s WHERE id = %s"  # noqa: S608
    return read, touch
