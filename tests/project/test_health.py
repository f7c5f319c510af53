"""`/healthz` and `/readyz` (issue 19): no signing in, JSON with check names and the version
only; `/readyz` fails while `purge_expired` has not run lately, and a dry run does not count."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from project import __version__
from project.health import PURGE_FRESH, PURGE_RUN, maintenance_run_finished
from project.models import MaintenanceRun

pytestmark = pytest.mark.django_db

CHECKS = {"database", "migrations", "channel_layer", "purge"}


def ready() -> tuple[int, dict]:
    response = Client().get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_says_ok_without_signing_in():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_fails_when_purge_never_ran_and_names_only_that_check():
    status, body = ready()

    assert status == 503
    assert body == {
        "status": "failing",
        "version": __version__,
        "checks": {"database": "ok", "migrations": "ok", "channel_layer": "ok", "purge": "failing"},
    }


def test_readyz_is_ready_after_a_purge_run_and_shows_the_version():
    call_command("purge_expired", stdout=io.StringIO())

    status, body = ready()

    assert status == 200
    assert body["status"] == "ok" and body["version"] == "1.0.0" == __version__
    assert set(body["checks"]) == CHECKS and set(body["checks"].values()) == {"ok"}


def test_readyz_fails_again_once_the_last_purge_is_older_than_26_hours():
    maintenance_run_finished(PURGE_RUN)

    with time_machine.travel(timezone.now() + PURGE_FRESH - timedelta(minutes=1)):
        assert ready()[0] == 200
    with time_machine.travel(timezone.now() + PURGE_FRESH + timedelta(minutes=1)):
        status, body = ready()

    assert status == 503 and body["checks"]["purge"] == "failing"


def test_a_dry_run_changes_nothing_and_does_not_count_as_a_run(world):
    out = io.StringIO()

    call_command("purge_expired", "--dry-run", stdout=out)

    assert out.getvalue().startswith("Dry run, nothing changed.")
    assert not MaintenanceRun.objects.exists()
    assert ready()[0] == 503


def test_readyz_never_carries_a_host_an_error_or_anything_but_check_names(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = Client().get("/readyz")
    finally:
        channel_layers.backends.clear()

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["channel_layer"] == "failing"
    text = json.dumps(body)
    assert "127.0.0.1" not in text and "redis" not in text.lower() and "Error" not in text
    assert set(body) == {"status", "version", "checks"} and set(body["checks"]) == CHECKS


def test_the_probes_are_not_redirected_to_https_while_pages_are(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in {200, 503}
    assert client.get("/").status_code == 301


def test_the_probes_answer_only_get_and_head():
    assert Client().post("/healthz").status_code == 405
    assert Client().head("/readyz").status_code in {200, 503}


def test_the_api_schema_carries_the_version(world):
    response = world.client("admin").get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["info"]["version"] == __version__
