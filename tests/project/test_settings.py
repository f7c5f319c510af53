"""Settings from the environment: the pure functions of project.config, and real processes."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

from project import config

ROOT = Path(__file__).resolve().parents[2]
HAS_DATABASE_URL = bool(os.environ.get("DATABASE_URL", "").strip())
HAS_REDIS_URL = bool(os.environ.get("REDIS_URL", "").strip())


# --- env_bool and env_list -------------------------------------------------------------------


@pytest.mark.parametrize("word", ["1", "true", "True", "YES", " on "])
def test_env_bool_reads_words_for_yes(word):
    assert config.env_bool({"X": word}, "X", default=False) is True


@pytest.mark.parametrize("word", ["0", "false", "No", "OFF", ""])
def test_env_bool_reads_words_for_no(word):
    assert config.env_bool({"X": word}, "X", default=True) is False


def test_env_bool_falls_back_to_the_default_when_unset():
    assert config.env_bool({}, "X", default=True) is True
    assert config.env_bool({}, "X", default=False) is False


@pytest.mark.parametrize("junk", ["maybe", "2", "y", "enabled", "tru"])
def test_env_bool_refuses_junk(junk):
    with pytest.raises(config.ConfigurationError, match="X"):
        config.env_bool({"X": junk}, "X", default=True)


def test_env_list_splits_on_commas_and_drops_blanks():
    assert config.env_list({"X": " a.org, b.org,,c.org ,"}, "X", default=[]) == [
        "a.org",
        "b.org",
        "c.org",
    ]


def test_env_list_default_is_a_copy():
    default = ["one"]
    result = config.env_list({}, "X", default=default)
    result.append("two")

    assert default == ["one"]


# --- secret_key ------------------------------------------------------------------------------


def test_secret_key_refuses_debug_off_without_a_key(tmp_path):
    with pytest.raises(config.ConfigurationError, match="DJANGO_SECRET_KEY"):
        config.secret_key({}, debug=False, var_dir=tmp_path)
    with pytest.raises(config.ConfigurationError, match="DJANGO_SECRET_KEY"):
        config.secret_key({"DJANGO_SECRET_KEY": "   "}, debug=False, var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_uses_the_environment_when_given(tmp_path):
    key = secrets.token_urlsafe(50)

    assert config.secret_key({"DJANGO_SECRET_KEY": key}, debug=False, var_dir=tmp_path) == key
    assert config.secret_key({"DJANGO_SECRET_KEY": key}, debug=True, var_dir=tmp_path) == key


def test_secret_key_in_debug_is_generated_once_into_a_private_file(tmp_path):
    first = config.secret_key({}, debug=True, var_dir=tmp_path / "var")
    second = config.secret_key({}, debug=True, var_dir=tmp_path / "var")

    assert first == second
    assert len(first) >= 50
    path = tmp_path / "var" / "secret_key"
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- database_config -------------------------------------------------------------------------


def test_without_database_url_the_database_is_sqlite_under_the_var_dir(tmp_path):
    db = config.database_config({}, var_dir=tmp_path)

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(db["NAME"]).parent == tmp_path
    assert Path(db["TEST"]["NAME"]).parent == tmp_path
    assert db["NAME"] != db["TEST"]["NAME"]


def test_a_blank_database_url_also_means_sqlite(tmp_path):
    assert config.database_config({"DATABASE_URL": "  "}, var_dir=tmp_path)["ENGINE"] == (
        "django.db.backends.sqlite3"
    )


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_selects_postgresql(tmp_path, scheme):
    db = config.database_config(
        {"DATABASE_URL": f"{scheme}://haven:s3cret@db.internal:5433/haven"}, var_dir=tmp_path
    )

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("haven", "haven", "s3cret")
    assert (db["HOST"], int(db["PORT"])) == ("db.internal", 5433)


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/db", "sqlite:////tmp/x.sqlite3", "oracle://u:p@h/db"]
)
def test_a_database_url_that_is_not_postgresql_is_refused(tmp_path, url):
    with pytest.raises(config.ConfigurationError, match="PostgreSQL"):
        config.database_config({"DATABASE_URL": url}, var_dir=tmp_path)


# --- channel_layers_config -------------------------------------------------------------------


def test_without_redis_url_the_layer_is_in_memory():
    layers = config.channel_layers_config({})

    assert layers["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_redis_url_selects_the_pubsub_layer_by_default_with_encryption():
    url = "redis://cache.internal:6379/2"

    layer = config.channel_layers_config(
        {"REDIS_URL": url}, prefix="haven-x", encryption_key="k" * 44
    )["default"]

    assert layer["BACKEND"] == "project.layers.HavenPubSubChannelLayer"
    assert layer["CONFIG"]["hosts"] == [url]
    assert layer["CONFIG"]["prefix"] == "haven-x"
    assert layer["CONFIG"]["symmetric_encryption_keys"] == ["k" * 44]


def test_the_core_redis_layer_gets_a_large_pool_and_raised_capacity():
    url = "redis://cache.internal:6379/2"

    layer = config.channel_layers_config(
        {"REDIS_URL": url, "HAVEN_CHANNEL_LAYER": "core"}, prefix="haven-x"
    )["default"]

    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    host = layer["CONFIG"]["hosts"][0]
    assert host["address"] == url
    assert host["max_connections"] >= 1000
    # channels_redis defaults to 100 messages per channel; a busy room needs more.
    assert layer["CONFIG"]["capacity"] > 100
    assert layer["CONFIG"]["prefix"] == "haven-x"


# --- the running configuration ---------------------------------------------------------------


@pytest.mark.skipif(HAS_DATABASE_URL, reason="DATABASE_URL is set")
@pytest.mark.django_db
def test_without_database_url_the_tests_run_on_sqlite():
    assert connection.vendor == "sqlite"


@pytest.mark.skipif(not HAS_DATABASE_URL, reason="needs DATABASE_URL")
@pytest.mark.django_db
def test_with_database_url_the_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.skipif(HAS_REDIS_URL, reason="REDIS_URL is set")
def test_without_redis_url_the_channel_layer_is_in_memory():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)


@pytest.mark.skipif(not HAS_REDIS_URL, reason="needs REDIS_URL")
def test_with_redis_url_the_channel_layer_is_redis():
    from channels_redis.pubsub import RedisPubSubChannelLayer

    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    assert backend == "project.layers.HavenPubSubChannelLayer"
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


async def test_a_group_message_makes_a_round_trip_through_the_configured_layer():
    layer = get_channel_layer()
    group = f"test-round-trip-{uuid.uuid4().hex}"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        await layer.group_send(group, {"type": "haven.forward", "text": "hello"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(group, channel)

    assert message == {"type": "haven.forward", "text": "hello"}


# --- real processes --------------------------------------------------------------------------


def run_manage(tmp_path: Path, *args: str, **env_overrides: str | None):
    env = dict(os.environ)
    env["HAVEN_VAR_DIR"] = str(tmp_path / "var")
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = run_manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50)[:50],
        DJANGO_ALLOWED_HOSTS="haven.example.org",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode("ascii"),
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    result = run_manage(tmp_path, "check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY=None)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    schema = tmp_path / "schema.yaml"

    result = run_manage(
        tmp_path, "spectacular", "--validate", "--fail-on-warn", "--file", str(schema)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    text = schema.read_text()
    assert "/api/v1/groups/{group_id}/members/" in text
    assert "/api/v1/invites/{code}/redeem/" in text
