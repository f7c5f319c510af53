"""`manage.py rotate_field_keys`: re-encrypt every encrypted column under the newest key.

Step 1 of README's "Rotating the field key": with FIELD_ENCRYPTION_KEYS=new,old on every
process (and, for a rolling restart, `old,new` everywhere first), run this once; then drop the
old key. Every `EncryptedTextField` of every model is rewritten under the first key, in batches,
each in its own transaction; running it twice is harmless.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from project import sql
from project.crypto import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            for field in fields:
                column = connection.ops.quote_name(field.column)
                total += self._rotate_column(table, pk, column, options["batch"])
        self.stdout.write(f"Re-encrypted {total} values under the newest key.")

    def _rotate_column(self, table: str, pk: str, column: str, batch: int) -> int:
        """Rotate raw ciphertexts; plain text is never read into Python more than needed."""
        done = 0
        last = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql.ciphertext_page(table, pk, column), [last, batch])
                rows = cursor.fetchall()
                for row_id, stored in rows:
                    cursor.execute(
                        sql.ciphertext_update(table, pk, column), [rotate(stored), row_id]
                    )
                    last = row_id
            done += len(rows)
            if len(rows) < batch:
                return done
