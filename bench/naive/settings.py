"""Settings of the naive reference server: Channels on Redis with default layer settings.

No database, no sessions, no authentication, no persistence. `REDIS_URL` and
`NAIVE_CHANNEL_PREFIX` come from the environment (the benchmark gives each run its own prefix).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-naive-not-secret"  # a loopback-only reference server
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["daphne", "channels"]
ASGI_APPLICATION = "naive.asgi.application"
DATABASES: dict = {}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
            "prefix": os.environ.get("NAIVE_CHANNEL_PREFIX", "asgi"),
        },
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
