"""`/metrics` (issue 19): off by default, loopback or a bearer token when on; the counters rise
where things happen (a message posted through the real consumer); no label ever carries an id
or text; several processes add up through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from project import metrics
from project.serve import stall_reporter
from tests.facilitation.room import amake_room, join
from tests.safeguarding import live_room, post_message, raise_concern

ROOT = Path(__file__).resolve().parent.parent.parent


def scrape(**headers: str) -> tuple[int, str]:
    response = Client(**headers).get("/metrics")
    return response.status_code, response.content.decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics_on(settings):
    settings.HAVEN_METRICS = True
    settings.HAVEN_METRICS_TOKEN = ""


@pytest.mark.django_db
def test_metrics_are_off_by_default():
    assert scrape()[0] == 404


@pytest.mark.django_db
def test_when_on_loopback_may_scrape_and_another_address_may_not(metrics_on):
    status, text = scrape()
    assert status == 200
    assert "haven_messages_posted_total" in text

    assert scrape(REMOTE_ADDR="203.0.113.7")[0] == 404


@pytest.mark.django_db
def test_with_a_token_only_a_scraper_that_sends_it_may_read(metrics_on, settings):
    settings.HAVEN_METRICS_TOKEN = "s3cret-scrape-token"

    assert scrape()[0] == 404
    assert scrape(HTTP_AUTHORIZATION="Bearer wrong")[0] == 404
    assert scrape(HTTP_AUTHORIZATION="Token s3cret-scrape-token")[0] == 404
    status, _text = scrape(
        HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", REMOTE_ADDR="203.0.113.7"
    )
    assert status == 200


@pytest.mark.django_db(transaction=True)
async def test_posting_through_the_real_consumer_raises_the_counters(metrics_on):
    room = await amake_room()
    before = (await database_sync_to_async(scrape)())[1]
    fac, _ = await join(room, "facilitator")
    rose, _ = await join(room, "member")
    during = (await database_sync_to_async(scrape)())[1]

    await rose.say("hello from the room")
    await rose.until("ack")
    await fac.until("message")
    after = (await database_sync_to_async(scrape)())[1]
    await fac.close()
    await rose.close()

    posted = "haven_messages_posted_total"
    assert value(after, posted) == value(before, posted) + 1
    assert value(after, "haven_deliveries_total") >= value(before, "haven_deliveries_total") + 2
    open_now = "haven_websocket_connections"
    assert value(during, open_now) == value(before, open_now) + 2
    assert "hello from the room" not in after


@pytest.mark.django_db
def test_no_label_names_a_group_a_session_a_member_or_any_text(metrics_on, settings, world):
    raise_concern(world, body="a private worry")
    post_message(live_room(world), "member", "words that must stay private")

    text = scrape()[1]

    assert value(text, "haven_concerns", status="received") >= 1
    if connection.vendor == "postgresql":
        pool = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
        assert value(text, "haven_db_pool", pool="threads", stat="pool_max") == pool
    for (name, labels), _value in samples(text).items():
        assert name.startswith("haven_"), name
        for label, label_value in labels:
            assert label in metrics.LABEL_VALUES, (name, label)
            assert label_value in metrics.LABEL_VALUES[label], (name, label, label_value)
    for secret in ("Group A", "Evening circle", "Rose", "rose", "private", "worry"):
        assert secret not in text


def test_a_long_stall_is_counted_at_the_next_sample_and_a_short_one_is_not():
    report = stall_reporter(log_ms=0, count_ms=metrics.STALL_MS)
    loop = metrics.STALLS.labels("event_loop")
    gc = metrics.STALLS.labels("gc")
    loop_before, gc_before = loop._value.get(), gc._value.get()

    report("event loop late", 150.0)
    report("gc generation 2", 120.0)
    report("event loop late", 20.0)
    # Taken inside the garbage collector's callback: no lock, the counter moves at `sample`.
    assert loop._value.get() == loop_before
    metrics.sample()

    assert loop._value.get() == loop_before + 1
    assert gc._value.get() == gc_before + 1


def _in_process(code: str, folder: Path) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "HAVEN_METRICS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    setup = "import django; django.setup(); from project import metrics; "
    done = subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_several_processes_add_up_and_a_dead_ones_connections_stop_counting(tmp_path):
    count = "metrics.MESSAGES_POSTED.inc(); metrics.WEBSOCKETS.inc()"
    _in_process(count, tmp_path)
    _in_process(count, tmp_path)
    read = (
        "from prometheus_client import CollectorRegistry, generate_latest; "
        "r = CollectorRegistry(); metrics.multiprocess.MultiProcessCollector(r); "
        "print(generate_latest(r).decode())"
    )

    text = _in_process(read, tmp_path)
    assert value(text, "haven_messages_posted_total") == 2
    assert value(text, "haven_websocket_connections") == 2

    text = _in_process("metrics.forget_dead_processes(); " + read, tmp_path)
    assert value(text, "haven_messages_posted_total") == 2
    assert value(text, "haven_websocket_connections") == 0
