"""`/healthz` and `/readyz`: what a load balancer, systemd or a monitor asks, without signing in.

`/healthz` says only that the process answers. `/readyz` says whether this process can serve:
the database answers, every migration is applied, the channel layer takes a message, and
`purge_expired` finished successfully within `PURGE_FRESH` (a stopped timer would otherwise
break the retention promise unnoticed). Both answer with check names, "ok"/"failing" and the
version, never a host name, an error or a count: nothing that helps an attacker. Plain Django
views, so no REST throttle applies; `SECURE_REDIRECT_EXEMPT` lets a probe use plain HTTP on
loopback.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from project import __version__, realtime
from project.models import MaintenanceRun

PURGE_RUN = "purge_expired"
# Daily, with two hours' grace for a late or slow run.
PURGE_FRESH = timedelta(hours=26)
OK, FAILING = "ok", "failing"

# Applied migrations only grow while a process runs its code: once all are, it stays so.
_migrated = [False]


def maintenance_run_finished(name: str, *, at: datetime | None = None) -> None:
    """Record that the scheduled job `name` finished successfully (now, or `at`)."""
    MaintenanceRun.objects.update_or_create(
        name=name, defaults={"finished_at": at or timezone.now()}
    )


def _migrations_applied() -> bool:
    if not _migrated[0]:
        executor = MigrationExecutor(connection)
        _migrated[0] = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return _migrated[0]


def _purged_lately(now: datetime) -> bool:
    last = MaintenanceRun.objects.filter(name=PURGE_RUN).values_list("finished_at", flat=True)
    finished = last.first()
    return finished is not None and now - finished <= PURGE_FRESH


def _database_checks() -> dict[str, str]:
    """The database's part of readiness; a database that does not answer fails all three."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {
            "database": OK,
            "migrations": OK if _migrations_applied() else FAILING,
            "purge": OK if _purged_lately(timezone.now()) else FAILING,
        }
    except DatabaseError:
        return {"database": FAILING, "migrations": FAILING, "purge": FAILING}
    finally:
        connection.close_if_unusable_or_obsolete()


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    checks = await sync_to_async(_database_checks)()
    checks["channel_layer"] = OK if await realtime.layer_reachable() else FAILING
    ready = all(value == OK for value in checks.values())
    return JsonResponse(
        {"status": OK if ready else FAILING, "version": __version__, "checks": checks},
        status=200 if ready else 503,
    )
