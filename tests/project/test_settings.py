"""Settings from the environment: the pure functions of project.config, and real processes."""

from __future__ import annotations

import asyncio
import json
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


def test_configuration_errors_are_djangos_improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(config.ConfigurationError, ImproperlyConfigured)


# --- env_int and env_float -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("4", 4), (" 12 ", 12), ("+3", 3), ("-2", -2), ("0", 0), ("007", 7)]
)
def test_env_int_reads_whole_numbers(raw, expected):
    assert config.env_int({"X": raw}, "X", default=99) == expected


@pytest.mark.parametrize("unset", [{}, {"X": ""}, {"X": "   "}])
def test_env_int_falls_back_to_the_default_when_unset_or_blank(unset):
    assert config.env_int(unset, "X", default=20) == 20


@pytest.mark.parametrize(
    "junk", ["four", "4.0", "4 threads", "1_000", "0x10", "1e3", "\u0664", "--4", "4-"]
)
def test_env_int_refuses_junk_naming_the_variable(junk):
    with pytest.raises(config.ConfigurationError, match="HAVEN_DB_THREADS must be a whole number"):
        config.env_int({"HAVEN_DB_THREADS": junk}, "HAVEN_DB_THREADS", default=4)


def test_env_int_keeps_to_its_bounds():
    env = {"X": "3"}

    assert config.env_int(env, "X", default=1, minimum=3, maximum=3) == 3
    with pytest.raises(config.ConfigurationError, match="X must be a whole number of at least 4"):
        config.env_int(env, "X", default=1, minimum=4)
    with pytest.raises(config.ConfigurationError, match="X must be a whole number of at most 2"):
        config.env_int(env, "X", default=1, maximum=2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("20", 20.0), (" 0.5 ", 0.5), (".25", 0.25), ("2.", 2.0), ("1e1", 10.0), ("-1.5", -1.5)],
)
def test_env_float_reads_decimal_numbers(raw, expected):
    assert config.env_float({"X": raw}, "X", default=99.0) == expected


@pytest.mark.parametrize("unset", [{}, {"X": ""}, {"X": "  "}])
def test_env_float_falls_back_to_the_default_when_unset_or_blank(unset):
    assert config.env_float(unset, "X", default=20.0) == 20.0


@pytest.mark.parametrize("junk", ["twenty", "nan", "inf", "-Infinity", "1_0", "1,5", "2s", "."])
def test_env_float_refuses_junk_naming_the_variable(junk):
    with pytest.raises(config.ConfigurationError, match="HAVEN_HEARTBEAT_SECONDS must be a number"):
        config.env_float({"HAVEN_HEARTBEAT_SECONDS": junk}, "HAVEN_HEARTBEAT_SECONDS", default=1.0)


def test_env_float_refuses_a_number_too_large_to_be_finite():
    with pytest.raises(config.ConfigurationError, match="X must be a finite number"):
        config.env_float({"X": "1e999"}, "X", default=1.0)


def test_env_float_keeps_to_its_bounds():
    with pytest.raises(config.ConfigurationError, match=r"X must be a number of at least 0\.1"):
        config.env_float({"X": "0.05"}, "X", default=1.0, minimum=0.1)
    with pytest.raises(config.ConfigurationError, match="X must be a number of at most 60"):
        config.env_float({"X": "61"}, "X", default=1.0, maximum=60)


def test_a_short_bad_number_is_quoted_but_a_long_value_is_not():
    with pytest.raises(config.ConfigurationError, match="'twenty'"):
        config.env_int({"X": "twenty"}, "X", default=1)
    # A secret pasted into the wrong variable must not end up in a log.
    secret = Fernet.generate_key().decode("ascii")
    with pytest.raises(config.ConfigurationError) as refused:
        config.env_int({"X": secret}, "X", default=1)
    assert secret not in str(refused.value)
    assert secret[:10] not in str(refused.value)
    assert "a value of 44 characters" in str(refused.value)


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


def test_the_database_pool_size_comes_from_haven_db_pool_max(tmp_path):
    url = "postgres://haven@db.internal/haven"

    pool = config.database_config(
        {"DATABASE_URL": url, "HAVEN_DB_POOL_MAX": "7"}, var_dir=tmp_path
    )["OPTIONS"]["pool"]
    small = config.database_config(
        {"DATABASE_URL": url, "HAVEN_DB_POOL_MAX": "1"}, var_dir=tmp_path
    )["OPTIONS"]["pool"]

    assert pool["max_size"] == 7
    # psycopg-pool refuses a min_size above max_size.
    assert small["min_size"] <= small["max_size"] == 1


@pytest.mark.parametrize("junk", ["twenty", "0", "-5", "20.5"])
def test_a_bad_haven_db_pool_max_is_refused(tmp_path, junk):
    with pytest.raises(config.ConfigurationError, match="HAVEN_DB_POOL_MAX"):
        config.database_config(
            {"DATABASE_URL": "postgres://h/db", "HAVEN_DB_POOL_MAX": junk}, var_dir=tmp_path
        )


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
        {"REDIS_URL": url}, prefix="haven-x", encryption_keys=["k" * 44]
    )["default"]

    assert layer["BACKEND"] == "project.layers.HavenPubSubChannelLayer"
    assert layer["CONFIG"]["hosts"] == [{"address": url}]
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


def settings_of(tmp_path: Path, *names: str, **env_overrides: str | None):
    """Import project.settings in a fresh process under an environment; the named values (or
    the CompletedProcess, when the import failed)."""
    env = dict(os.environ)
    env["HAVEN_VAR_DIR"] = str(tmp_path / "var")
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = (
        "import json, project.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        return result
    return json.loads(result.stdout)


@pytest.mark.parametrize("word", ["0", "false", "False", "off", "no", "NO"])
def test_haven_fast_post_is_turned_off_by_every_word_for_no(tmp_path, word):
    assert settings_of(tmp_path, "HAVEN_FAST_POST", HAVEN_FAST_POST=word) == {
        "HAVEN_FAST_POST": False
    }


@pytest.mark.parametrize("word", [None, "1", "true", "on", "yes"])
def test_haven_fast_post_is_on_by_default_and_by_every_word_for_yes(tmp_path, word):
    assert settings_of(tmp_path, "HAVEN_FAST_POST", HAVEN_FAST_POST=word) == {
        "HAVEN_FAST_POST": True
    }


def test_the_number_settings_are_read_from_the_environment(tmp_path):
    values = settings_of(
        tmp_path,
        "HAVEN_HEARTBEAT_SECONDS",
        "HAVEN_DB_THREADS",
        "HAVEN_FAST_POST_PREPARE",
        "HAVEN_CONCERN_ACK_HOURS",
        "AXES_FAILURE_LIMIT",
        HAVEN_HEARTBEAT_SECONDS="2.5",
        HAVEN_DB_THREADS="0",
        HAVEN_FAST_POST_PREPARE="0",
        HAVEN_CONCERN_ACK_URGENT_HOURS="2",
        HAVEN_CONCERN_ACK_NORMAL_HOURS="12",
        HAVEN_CONCERN_ACK_LOW_HOURS="48",
        HAVEN_LOGIN_FAILURE_LIMIT="8",
    )

    assert values == {
        "HAVEN_HEARTBEAT_SECONDS": 2.5,
        "HAVEN_DB_THREADS": 0,
        "HAVEN_FAST_POST_PREPARE": 0,
        "HAVEN_CONCERN_ACK_HOURS": {"urgent": 2, "normal": 12, "low": 48},
        "AXES_FAILURE_LIMIT": 8,
    }


@pytest.mark.parametrize(
    ("name", "junk"),
    [
        ("HAVEN_FAST_POST", "maybe"),
        ("HAVEN_HEARTBEAT_SECONDS", "20s"),
        ("HAVEN_HEARTBEAT_SECONDS", "0"),
        ("HAVEN_DB_THREADS", "four"),
        ("HAVEN_DB_THREADS", "-1"),
        ("HAVEN_FAST_POST_PREPARE", "2.5"),
        ("HAVEN_CONCERN_ACK_URGENT_HOURS", "1h"),
        ("HAVEN_CONCERN_ACK_NORMAL_HOURS", "0"),
        ("HAVEN_CONCERN_ACK_LOW_HOURS", "three days"),
        ("HAVEN_LOGIN_FAILURE_LIMIT", "0"),
    ],
)
def test_settings_refuse_a_junk_variable_by_name(tmp_path, name, junk):
    result = settings_of(tmp_path, "DEBUG", **{name: junk})

    assert isinstance(result, subprocess.CompletedProcess), f"{name}={junk!r} was accepted"
    # project.config.ConfigurationError, Django's ImproperlyConfigured (tested above).
    assert f"ConfigurationError: {name} must be" in result.stderr


def test_a_junk_number_stops_manage_py_with_a_clear_error(tmp_path):
    result = run_manage(
        tmp_path,
        "check",
        DATABASE_URL="postgres://haven@db.internal/haven",
        HAVEN_DB_POOL_MAX="lots",
    )

    assert result.returncode != 0
    assert "HAVEN_DB_POOL_MAX must be a whole number (got 'lots')" in result.stderr


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
