"""A pytest plugin (`-p tests.workers` in pyproject.toml), loaded before Django's settings: under
pytest-xdist every worker gets a channel-layer and cache prefix of its own.

The workers share one Redis, and each has its own test database whose ids all start at 1, so
without this one worker's `session.1` room (or its sign-in counters) would be another's. Daphne
processes a test starts choose a prefix of their own (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["HAVEN_CHANNEL_PREFIX"] = os.environ.get("HAVEN_CHANNEL_PREFIX", "haven") + _WORKER
