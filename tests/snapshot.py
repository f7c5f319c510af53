"""The persona world, built once per test process and then restored into each test's database.

Building it through the services (`conftest.build_world`) takes about 200 queries and most of
a seventh of a second; hundreds of tests ask for it. The first test of a process builds it for
real and takes a snapshot of every row it made; each later test gets the same rows back in one
insert per table, with their dates moved to now, and fresh model instances. The rows keep their
primary keys: on PostgreSQL sequences never go back, and SQLite's follow the largest id
inserted, so nothing a test makes afterwards can collide with them.

A snapshot is only taken when it is safe to replay: the build changed no row that was there
before it and every foreign key in it points inside it. Otherwise (and whenever a restore
collides with a row the test made first) the world is built through the services as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

if TYPE_CHECKING:
    from tests.conftest import World

Key = tuple[str, Any]  # (model label, primary key)


def _models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def _rows(model: type[models.Model]) -> dict[Any, dict[str, Any]]:
    names = [field.attname for field in model._meta.concrete_fields]
    return {row[model._meta.pk.attname]: row for row in model._base_manager.values(*names)}


@dataclass
class Snapshot:
    taken_at: datetime
    tables: list[tuple[type[models.Model], list[dict[str, Any]]]]
    groups: dict[str, Key]
    users: dict[str, Key | None]
    members: dict[str, Key]
    tokens: dict[str, str]

    def restore(self) -> World:
        from tests.conftest import World

        shift = timezone.now() - self.taken_at
        made: dict[Key, models.Model] = {}
        with transaction.atomic():
            for model, rows in self.tables:
                stamps = [
                    field.attname
                    for field in model._meta.concrete_fields
                    if isinstance(field, models.DateTimeField)
                ]
                instances = []
                for row in rows:
                    values = dict(row)
                    for name in stamps:
                        if values[name] is not None:
                            values[name] += shift
                    instances.append(model(**values))
                model._base_manager.bulk_create(instances)
                for instance in instances:
                    made[(model._meta.label, instance.pk)] = instance
        world = World(group_a=made[self.groups["a"]], group_b=made[self.groups["b"]])  # type: ignore[arg-type]
        world.members = {persona: made[key] for persona, key in self.members.items()}  # type: ignore[misc]
        world.users = {
            persona: None if key is None else made[key]  # type: ignore[misc]
            for persona, key in self.users.items()
        }
        world.tokens = dict(self.tokens)
        return world


def _take(
    before: dict[type[models.Model], dict[Any, dict[str, Any]]], world: World
) -> Snapshot | None:
    tables: list[tuple[type[models.Model], list[dict[str, Any]]]] = []
    inside: set[Key] = set()
    for model, old in before.items():
        now = _rows(model)
        if any(now.get(pk) != row for pk, row in old.items()):
            return None  # the build changed (or removed) a row it did not make
        new = [row for pk, row in now.items() if pk not in old]
        if new:
            tables.append((model, new))
            inside.update((model._meta.label, row[model._meta.pk.attname]) for row in new)
    for model, rows in tables:
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.related_model is None:
                continue
            target = field.related_model._meta.label  # type: ignore[union-attr]
            for row in rows:
                value = row[field.attname]
                if value is not None and (target, value) not in inside:
                    return None  # points outside the world: not safe after a flush

    def key(instance: models.Model | None) -> Key | None:
        return None if instance is None else (instance._meta.label, instance.pk)

    return Snapshot(
        taken_at=timezone.now(),
        tables=tables,
        groups={"a": key(world.group_a), "b": key(world.group_b)},  # type: ignore[dict-item]
        users={persona: key(user) for persona, user in world.users.items()},
        members={persona: key(member) for persona, member in world.members.items()},  # type: ignore[misc]
        tokens=dict(world.tokens),
    )


_snapshots: dict[tuple[str, str], Snapshot | None] = {}


def world_from_snapshot(build: Callable[[], World]) -> World:
    """The world for this test: restored from this process's snapshot, or built (and, the first
    time on this database, snapshotted)."""
    where = (connection.vendor, str(connection.settings_dict["NAME"]))
    if where not in _snapshots:
        before = {model: _rows(model) for model in _models()}
        world = build()
        _snapshots[where] = _take(before, world)
        return world
    snapshot = _snapshots[where]
    if snapshot is None:
        return build()
    try:
        return snapshot.restore()  # its own atomic block: a collision undoes the whole restore
    except IntegrityError:
        return build()  # the test made a row first that the snapshot's would collide with
