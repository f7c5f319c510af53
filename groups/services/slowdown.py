"""The per-username sign-in slow-down: what holds when the address cannot be trusted.

django-axes locks a username at one address (username + IP), so nobody can lock a member out
from elsewhere; an attacker who changes address for every try is not stopped by it. This counts
failed sign-ins per username, wherever they come from. After `HAVEN_USERNAME_FAILURE_LIMIT`
failures within `WINDOW`, each further attempt at that username must wait: one checked attempt
per delay, the delay doubling with every further failure (1 s, 2 s, 4 s ... at most
`MAX_DELAY`); an attempt inside the delay is answered 429 `rate_limited` without its password
being tried. It never locks her out: the right password after the delay signs her in and clears
the count. The count lives in Django's cache (Redis with several processes), keyed by a keyed
hash of the username, never the username itself.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from project.exceptions import ApplicationError

WINDOW = timedelta(minutes=15)
MAX_DELAY = 60


class SlowedDown(ApplicationError):
    status = 429
    code = "rate_limited"


def _key(kind: str, username: str) -> str:
    digest = salted_hmac("haven.signin.slowdown", username).hexdigest()[:32]
    return f"signin:{kind}:{digest}"


def delay_after(failures: int) -> int:
    """Seconds one checked attempt holds the username after `failures` failures."""
    over = failures - settings.HAVEN_USERNAME_FAILURE_LIMIT
    if over < 0:
        return 0
    return min(2**over, MAX_DELAY)


def slowdown_check(username: str) -> None:
    """Before a password is tried: raise `SlowedDown` while the username must wait.

    Past the limit, the attempt takes the username's one slot for its delay (an atomic add in
    the cache), so parallel attempts get one password check between them, not one each.
    """
    failures = cache.get(_key("failures", username), 0)
    delay = delay_after(failures)
    if not delay:
        return
    if cache.add(_key("slot", username), 1, timeout=delay):
        return
    raise SlowedDown(
        ngettext(
            "Too many attempts for this account. Please wait %(n)d second and try again.",
            "Too many attempts for this account. Please wait %(n)d seconds and try again.",
            delay,
        )
        % {"n": delay},
        extra={"retry_after": delay},
    )


def slowdown_failed(username: str) -> None:
    """Count one failed password for `username` (the window starts at the first)."""
    key = _key("failures", username)
    cache.add(key, 0, timeout=math.ceil(WINDOW.total_seconds()))
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout=math.ceil(WINDOW.total_seconds()))


def slowdown_clear(username: str) -> None:
    """She signed in: the count starts again."""
    cache.delete_many([_key("failures", username), _key("slot", username)])
