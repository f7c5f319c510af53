"""Plain SQL outside the live room: reading and rewriting raw ciphertexts for key rotation.

`rotate_field_keys` must rewrite each stored ciphertext without the encrypted field decoding
it into plain text first (the field would decrypt on read and encrypt again on save), so it
reads the raw column. Only quoted names from the models' `_meta` are formatted in; every value
is a parameter.
"""

from __future__ import annotations


def ciphertext_page(table: str, pk: str, column: str) -> str:
    """A page of non-empty ciphertexts after a primary key. Parameters: last pk, page size."""
    return (
        f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column} <> '' "  # noqa: S608
        f"ORDER BY {pk} LIMIT %s"
    )


def ciphertext_update(table: str, pk: str, column: str) -> str:
    """Rewrite one ciphertext. Parameters: new ciphertext, pk."""
    return f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608
