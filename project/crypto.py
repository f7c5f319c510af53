"""Field encryption at rest with `cryptography`'s MultiFernet (ARCHITECTURE.md rule 6).

Keys come from FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first); the embedded
default generates one into var/. Encrypting always uses the first key; decrypting tries each,
so a new key can be put in front, `manage.py rotate_field_keys` run, and the old key dropped.
A value under no known key raises `InvalidToken` loudly: it is never returned as empty.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

__all__ = [
    "EncryptedJSONField",
    "EncryptedTextField",
    "InvalidToken",
    "decrypt",
    "encrypt",
    "fernet",
    "reset_keys",
]

PREFIX = "fernet:"


@cache
def fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.FIELD_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        raise RuntimeError("FIELD_ENCRYPTION_KEYS is empty: Haven will not store text unencrypted.")
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def reset_keys() -> None:
    """Forget the cached key ring (after the settings changed, e.g. in tests)."""
    fernet.cache_clear()


def encrypt(text: str) -> str:
    return PREFIX + fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise InvalidToken("value is not a Haven ciphertext")
    return fernet().decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")


def rotate(stored: str) -> str:
    """Re-encrypt a stored value under the newest key."""
    if not stored.startswith(PREFIX):
        raise InvalidToken("value is not a Haven ciphertext")
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code only ever sees the plain text.

    Not searchable or orderable in the database, by design.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (a list of strings, say) stored as one encrypted text; Python code sees
    the value. Key rotation finds it as an `EncryptedTextField`."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        text = super().from_db_value(value, expression, connection)
        if text is None or text == "":
            return text
        return json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return super().get_prep_value(json.dumps(value, ensure_ascii=False))
