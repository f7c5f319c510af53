"""Turns the process environment into settings values.

Pure functions of a mapping, so the two ways to run (embedded default and production) can be
tested without restarting Django. `project.settings` (and `project.serve`, for its own
start-up diagnostics) call them at run time.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogues (makemessages looks for this name) without touching
    Django's translation machinery, which needs settings: this module is read before they exist
    (settings.py, `python -m project.serve`)."""
    return message


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

# redis-py caps a connection pool at 100 connections by default; with thousands of live
# sockets on one process the layer then waits for connections and deliveries are dropped.
REDIS_POOL_MAX_CONNECTIONS = 1000
# Messages queued per channel before channels_redis raises ChannelFull (default 100).
CHANNEL_CAPACITY = 1500


# Plain decimal notation only: Python's int() and float() would also take "1_000", "nan",
# "inf" and non-ASCII digits, none of which an operator means in a setting.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A value longer than this is not quoted in an error: it is no number, and may be a secret
# pasted into the wrong variable.
_QUOTE_MAX = 24


class ConfigurationError(ImproperlyConfigured):
    """The environment describes a configuration Haven refuses to run with."""


def env_bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0, true/false, yes/no, on/off.")


def env_choice(env: Mapping[str, str], name: str, *, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` from `env[name]` (any case); unset or blank gives `default`."""
    word = env.get(name, "").strip().lower()
    if not word:
        return default
    if word not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}.")
    return word


def _shown(raw: str) -> str:
    text = raw.strip()
    return repr(text) if len(text) <= _QUOTE_MAX else f"a value of {len(text)} characters"


def _bounded(
    name: str, value: float, *, minimum: float | None, maximum: float | None, kind: str
) -> None:
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be {kind} of at least {minimum} (got {value}).")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be {kind} of at most {maximum} (got {value}).")


def env_int(
    env: Mapping[str, str],
    name: str,
    *,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A whole number from `env[name]`; unset or blank gives `default` (a blank line in an
    env file means "not set", as for DJANGO_SECRET_KEY). Anything else is refused by name."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not _INT.fullmatch(raw):
        raise ConfigurationError(f"{name} must be a whole number (got {_shown(raw)}).")
    value = int(raw)
    _bounded(name, value, minimum=minimum, maximum=maximum, kind="a whole number")
    return value


def env_float(
    env: Mapping[str, str],
    name: str,
    *,
    default: float,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """A finite decimal number from `env[name]`; unset or blank gives `default`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not _FLOAT.fullmatch(raw):
        raise ConfigurationError(f"{name} must be a number (got {_shown(raw)}).")
    value = float(raw)
    if not math.isfinite(value):  # "1e999" matches the pattern and overflows to inf
        raise ConfigurationError(f"{name} must be a finite number (got {_shown(raw)}).")
    _bounded(name, value, minimum=minimum, maximum=maximum, kind="a number")
    return value


def env_list(env: Mapping[str, str], name: str, *, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


# Where "I'm not safe right now" sends her at once, until the organisation configures its own.
URGENT_HELP_DEFAULT: list[dict[str, str]] = [
    # Marked for the catalogues; project.organisation.urgent_help translates it when shown.
    {"label": gettext_noop("Emergency services"), "contact": "999", "href": "tel:999"}
]
URGENT_HELP_TEXT_MAX = 120
# Links a phone opens as they are: a call, a text, an e-mail, a web page.
URGENT_HELP_SCHEMES = ("tel:", "sms:", "mailto:", "https://", "http://")


def env_urgent_help(env: Mapping[str, str], name: str) -> list[dict[str, str]]:
    """The organisation's urgent help from `env[name]`: a JSON list of `{"label", "contact",
    "href"?}` (unset or blank: URGENT_HELP_DEFAULT). Anything else is refused by name; the
    value is never quoted (it may be long)."""
    raw = env.get(name, "").strip()
    if not raw:
        return [dict(entry) for entry in URGENT_HELP_DEFAULT]
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be JSON: a list of objects.") from None
    if not isinstance(value, list) or not value:
        raise ConfigurationError(f"{name} must be a JSON list with at least one entry.")
    entries = []
    for number, item in enumerate(value, start=1):
        where = f"{name} entry {number}"
        if not isinstance(item, dict) or set(item) - {"label", "contact", "href"}:
            raise ConfigurationError(f'{where} must be an object with "label", "contact", "href".')
        entry = {}
        for key in ("label", "contact", "href"):
            text = item.get(key)
            if text is None and key == "href":
                continue
            if not isinstance(text, str) or not text.strip():
                raise ConfigurationError(f'{where} needs "{key}" as text.')
            if len(text.strip()) > URGENT_HELP_TEXT_MAX:
                raise ConfigurationError(
                    f'{where}: "{key}" is longer than {URGENT_HELP_TEXT_MAX} characters.'
                )
            entry[key] = text.strip()
        if "href" in entry and not entry["href"].lower().startswith(URGENT_HELP_SCHEMES):
            raise ConfigurationError(
                f'{where}: "href" must start with one of {", ".join(URGENT_HELP_SCHEMES)}'
            )
        entries.append(entry)
    return entries


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def env_networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    """Addresses or networks (`10.0.0.2`, `10.0.0.0/8`, `::1`), comma-separated; unset or
    blank gives none. An item that is neither stops the start, naming the variable."""
    found: list[IPNetwork] = []
    for item in env_list(env, name, default=[]):
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"{name} must list IP addresses or networks such as 10.0.0.0/8 "
                f"(got {_shown(item)})."
            ) from None
    return tuple(found)


def read_or_create_secret(path: Path, *, nbytes: int = 50) -> str:
    """Return the secret kept in `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def secret_key(env: Mapping[str, str], *, debug: bool, var_dir: Path) -> str:
    key = env.get("DJANGO_SECRET_KEY", "").strip()
    if key:
        return key
    if not debug:
        raise ConfigurationError(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off; Haven refuses to start "
            "with a generated or empty key in production."
        )
    return read_or_create_secret(var_dir / "secret_key")


def field_encryption_keys(env: Mapping[str, str], *, debug: bool, var_dir: Path) -> list[str]:
    """Fernet keys, newest first. Production must set them; the embedded default makes one."""
    raw = env.get("FIELD_ENCRYPTION_KEYS", "").strip()
    if raw:
        return [key.strip() for key in raw.split(",") if key.strip()]
    if not debug:
        raise ConfigurationError(
            "FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off (comma-separated "
            "Fernet keys, newest first)."
        )
    path = var_dir / "field_keys"
    if path.exists():
        return [key.strip() for key in path.read_text().split(",") if key.strip()]
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return [key]


def database_config(env: Mapping[str, str], *, var_dir: Path) -> dict[str, Any]:
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(var_dir / "haven.sqlite3"),
            "OPTIONS": {
                # WAL lets the live room read while another request writes.
                "init_command": "PRAGMA journal_mode=WAL;",
                # A transaction takes the write lock at BEGIN: under DEFERRED, one that read
                # and then wrote while another connection committed (a management command
                # beside the server) failed at once with "database is locked" instead of
                # waiting; now the second writer waits its turn, up to `timeout` seconds.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # One test database per process, so parallel test runs never share one.
            "TEST": {"NAME": str(var_dir / f"test-haven-{os.getpid()}.sqlite3")},
        }
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ConfigurationError("DATABASE_URL must point at PostgreSQL (postgres://...).")
    config["TEST"] = {"NAME": f"test_haven_{os.getpid()}"}
    # A pool per process: the live room opens and closes a connection around every database
    # call, which without a pool costs a new PostgreSQL backend each time.
    pool_max = env_int(env, "HAVEN_DB_POOL_MAX", default=20, minimum=1)
    # A short wait: while PostgreSQL is down, a caller hears "unavailable" within seconds (and a
    # WebSocket handshake finishes before Daphne's 5 s connect timeout).
    config.setdefault("OPTIONS", {})["pool"] = {
        # psycopg-pool refuses a min_size above max_size.
        "min_size": min(2, pool_max),
        "max_size": pool_max,
        "timeout": 3,
    }
    return config


def redis_sentinels(env: Mapping[str, str]) -> tuple[list[tuple[str, int]], str] | None:
    """Redis Sentinel, when HAVEN_REDIS_SENTINELS (host:port, comma-separated) and
    HAVEN_REDIS_SENTINEL_MASTER (the name the sentinels monitor) are set: the sentinels tell
    every process where the master is now. REDIS_URL stays required and gives the database
    number and password; its host and port are not used. None without Sentinel."""
    listed = env_list(env, "HAVEN_REDIS_SENTINELS", default=[])
    master = env.get("HAVEN_REDIS_SENTINEL_MASTER", "").strip()
    if not listed and not master:
        return None
    if not listed or not master:
        raise ConfigurationError(
            "HAVEN_REDIS_SENTINELS and HAVEN_REDIS_SENTINEL_MASTER go together: set both or "
            "neither."
        )
    if not env.get("REDIS_URL", "").strip():
        raise ConfigurationError(
            "HAVEN_REDIS_SENTINELS needs REDIS_URL as well (its database number and password "
            "are used; its host and port are not)."
        )
    sentinels = []
    for item in listed:
        host, colon, port = item.rpartition(":")
        host = host.strip("[]")
        if not colon or not host or not _INT.fullmatch(port) or not 0 < int(port) < 65536:
            raise ConfigurationError(
                "HAVEN_REDIS_SENTINELS must list host:port pairs such as 10.0.0.5:26379 "
                f"(got {_shown(item)})."
            )
        sentinels.append((host, int(port)))
    return sentinels, master


def redis_credentials(url: str) -> dict[str, Any]:
    """What a Sentinel-managed connection takes from REDIS_URL: database, user, password, TLS."""
    from redis.connection import parse_url

    parsed = parse_url(url)
    found: dict[str, Any] = {
        key: parsed[key] for key in ("db", "username", "password") if parsed.get(key) is not None
    }
    if url.startswith("rediss://"):
        found["ssl"] = True
    return found


def _layer_host(env: Mapping[str, str], url: str, **options: Any) -> dict[str, Any]:
    """One channels_redis host: REDIS_URL, or the master the sentinels name."""
    sentinel = redis_sentinels(env)
    if sentinel is None:
        return {"address": url, **options}
    sentinels, master = sentinel
    return {"master_name": master, "sentinels": sentinels, **redis_credentials(url), **options}


def cache_config(env: Mapping[str, str], *, prefix: str = "haven") -> dict[str, Any]:
    """Django's cache: the sign-in slow-down and the REST throttles count in it, so with
    several processes it must be shared. With REDIS_URL, Django's own RedisCache under a key
    prefix of its own (the channel layer's keys never collide with it); otherwise one
    process's memory, which is all the embedded default has. With Sentinel, the master the
    sentinels name (project/sentinel.py)."""
    sentinel = redis_sentinels(env)
    url = env.get("REDIS_URL", "").strip()
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache: dict[str, Any] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": f"{prefix}-cache",
    }
    if sentinel is not None:
        sentinels, master = sentinel
        cache["OPTIONS"] = {
            "pool_class": "project.sentinel.SentinelCachePool",
            "sentinels": sentinels,
            "master_name": master,
        }
    return {"default": cache}


def channel_layers_config(
    env: Mapping[str, str], *, prefix: str = "haven", encryption_keys: Sequence[str] = ()
) -> dict[str, Any]:
    """The channel layer. `encryption_keys` is the whole FIELD_ENCRYPTION_KEYS list, newest
    first: channels_redis encrypts with the first and decrypts with any (MultiFernet), so
    processes restarted one by one during a key rotation still read each other's broadcasts
    (README "Rotating the field key")."""
    if isinstance(encryption_keys, str | bytes):
        # A lone key string would be taken as a list of one-character keys.
        raise TypeError("encryption_keys must be a list of keys, not one key")
    redis_sentinels(env)  # a half or unreadable Sentinel setting stops the start either way
    url = env.get("REDIS_URL", "").strip()
    if not url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    keys = [key for key in encryption_keys if key]
    encryption = {"symmetric_encryption_keys": keys} if keys else {}
    if env.get("HAVEN_CHANNEL_LAYER", "pubsub").strip() == "pubsub":
        # Redis pub/sub: one subscription per process and group, fanned out in the process,
        # each broadcast decoded once per process (project/layers.py).
        # It drops messages while its connection is down; Haven's durable log and the
        # consumers' heartbeat recover them (ARCHITECTURE.md rule 4). docs/performance.md
        # has the numbers behind this choice.
        return {
            "default": {
                "BACKEND": "project.layers.HavenPubSubChannelLayer",
                "CONFIG": {"hosts": [_layer_host(env, url)], "prefix": prefix, **encryption},
            }
        }
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_layer_host(env, url, max_connections=REDIS_POOL_MAX_CONNECTIONS)],
                "prefix": prefix,
                "capacity": CHANNEL_CAPACITY,
                "expiry": 60,
                # At or above Daphne's websocket timeout (24h by default).
                "group_expiry": 86400,
                # Messages rest encrypted in Redis: no message text there in plain form.
                **encryption,
            },
        }
    }


# Issue 17: the organisation named on the front door and About, and its contact line. Both one
# line of plain text; blank means the page's own (translated) neutral wording.
ORGANISATION_TEXT_MAX = {"HAVEN_ORGANISATION_NAME": 80, "HAVEN_ORGANISATION_CONTACT": 200}
# The operator's own "Who sees what" (a text file): at most this many characters.
WHO_SEES_WHAT_MAX = 4000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> bool:
    """One line of plain text: no line break, no control character. The one rule for the
    organisation's words, from the environment (`env_line`) or the admin (`Organisation`)."""
    return not _CONTROL.search(text)


def env_line(env: Mapping[str, str], name: str, *, maximum: int) -> str:
    """One line of plain text from `env[name]` (unset or blank: ""). A line break, a control
    character or more than `maximum` characters is refused by name, never quoted."""
    text = env.get(name, "").strip()
    if not one_line(text):
        raise ConfigurationError(f"{name} must be one line of plain text.")
    if len(text) > maximum:
        raise ConfigurationError(f"{name} is longer than {maximum} characters.")
    return text


def env_text_file(env: Mapping[str, str], name: str, *, maximum: int) -> list[list[str]]:
    """The blocks of the UTF-8 text file named by `env[name]` (unset or blank: [], the
    default text). Blocks are separated by a blank line; a block is a list of lines, and the
    page shows a block whose lines all start with "- " as a bulleted list, any other as a
    paragraph. A file that is missing, unreadable, not UTF-8, empty or longer than `maximum`
    characters is refused by name."""
    raw = env.get(name, "").strip()
    if not raw:
        return []
    try:
        text = Path(raw).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError(f"{name} must name a readable UTF-8 text file.") from None
    if len(text) > maximum:
        raise ConfigurationError(f"{name}: the file is longer than {maximum} characters.")
    blocks = [
        [line.strip() for line in block.splitlines() if line.strip()]
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    ]
    blocks = [block for block in blocks if block]
    if not blocks:
        raise ConfigurationError(f"{name}: the file is empty.")
    return blocks
