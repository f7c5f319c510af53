"""A member cannot tell which concerns are about her, or exist at all, from a "not found"
(issue 13: `GET /api/v1/concerns/{id}/` answered about 0.3 ms sooner for a concern about the
caller than for a missing one).

Three ids a member may not see: a concern about her, someone else's concern, and an id no
concern has. For each route of one concern (read it, reply to it, move its status) they must
run the same SQL, statement for statement (only the id differs), and take the same time: many
interleaved samples per case in a shuffled order, a warm-up thrown away, the distributions
compared pairwise with the Mann-Whitney U test (`tests.security.stats`). No wall-clock
threshold: only "no measurable difference" at `ALPHA`.
"""

from __future__ import annotations

import contextlib
import gc
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import combinations
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from safeguarding.models import Concern
from tests.conftest import World
from tests.safeguarding import CONCERNS, raise_concern
from tests.security.stats import mann_whitney_u

pytestmark = pytest.mark.django_db

SAMPLES = 300  # measured per case and route
WARM_UP = 30  # per case, thrown away (first requests fill caches and connections)
# Significance: 0.001 for the whole run, shared by its nine comparisons (three pairs of cases on
# three routes, Bonferroni), so a correct server fails at most one run in a thousand. Before the
# fix the leak gave p below 1e-15 on every route.
COMPARISONS = 9
ALPHA = 0.001 / COMPARISONS
SEED = 13

VIEWER = "member2"
CASES = ("about_her", "not_hers", "missing")

Call = Callable[[APIClient, int], Any]
ROUTES: dict[str, Call] = {
    "read": lambda client, pk: client.get(f"{CONCERNS}{pk}/"),
    "reply": lambda client, pk: client.post(
        f"{CONCERNS}{pk}/replies/", {"body": "Is anyone there?"}, format="json"
    ),
    "status": lambda client, pk: client.post(
        f"{CONCERNS}{pk}/status/", {"status": "acknowledged"}, format="json"
    ),
}
# The concern page reads through the same `concern_for` (signed in by session, not token).
PAGES: dict[str, Call] = {
    "page": lambda client, pk: client.get(f"/concerns/{pk}/"),
    "page_reply": lambda client, pk: client.post(
        f"/concerns/{pk}/", {"action": "reply", "body": "Is anyone there?"}
    ),
}
assert len(ROUTES) * len(CASES) == COMPARISONS


def _unused_id_like(pk: int) -> int:
    """An id no concern has, with as many digits as `pk` (the URL is the same length)."""
    used = set(Concern.objects.values_list("pk", flat=True))
    digits = len(str(pk))
    above = range(pk + 1, 10**digits)
    below = range(10 ** (digits - 1), pk)
    return next(n for n in [*above, *reversed(below)] if n not in used)


def not_visible_ids(world: World) -> dict[str, int]:
    """One id of each case the viewer (member2) may not see, all as long as each other."""
    about = world.members[VIEWER].pk
    about_her = raise_concern(world, about_member_id=about)
    not_hers = raise_concern(world, category="my_wellbeing", about_member_id=None)
    while len(str(about_her)) != len(str(not_hers)):  # the ids crossed into more digits
        about_her = raise_concern(world, about_member_id=about)
    ids = {"about_her": about_her, "not_hers": not_hers, "missing": _unused_id_like(not_hers)}
    assert len({len(str(pk)) for pk in ids.values()}) == 1
    return ids


def is_time(value: Any) -> bool:
    """A point in time as a statement parameter (SQLite's driver is given it as text)."""
    if isinstance(value, datetime):
        return True
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


@contextlib.contextmanager
def recorded_sql() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every statement run inside the block, as (SQL with placeholders, parameters)."""
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # Savepoint names count up from call to call; they are not part of the work.
        seen.append((re.sub(r'"s\d+_x\d+"', '"sp"', sql), tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


@pytest.mark.parametrize("route", [*ROUTES, *PAGES])
def test_every_not_found_runs_the_same_statements_whatever_the_id_is(world, route):
    ids = not_visible_ids(world)
    if route in PAGES:
        client = APIClient()
        client.force_login(world.users[VIEWER])
        call = PAGES[route]
    else:
        client = world.client(VIEWER)
        call = ROUTES[route]
    call(client, ids["missing"])
    runs: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
    bodies = set()
    for case, pk in ids.items():
        with recorded_sql() as seen:
            response = call(client, pk)
        assert response.status_code == 404, (case, response.content)
        # A page's CSRF token is masked afresh on every answer, and the language form's way back
        # is the path she asked for (the id she typed); nothing else may differ.
        body = re.sub(rb'(csrfmiddlewaretoken" value=)"[^"]*"', rb"\1", response.content)
        bodies.add(re.sub(rb'(name="next" value=)"[^"]*"', rb"\1", body))
        runs[case] = seen
    assert len(bodies) == 1
    counts = {case: len(statements) for case, statements in runs.items()}
    assert len(set(counts.values())) == 1, counts
    for one, other in combinations(CASES, 2):
        for (sql, params), (other_sql, other_params) in zip(runs[one], runs[other], strict=True):
            assert sql == other_sql, (one, other)
            # The parameters differ only where each carries its own concern id.
            # The parameters differ only where each carries its own concern id, or the time
            # of the request (a token's idle expiry is counted from now).
            differ = [
                i for i, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b
            ]
            assert all(
                (params[i] == ids[one] and other_params[i] == ids[other])
                or (is_time(params[i]) and is_time(other_params[i]))
                for i in differ
            ), (one, other, sql)


def _timings(client: APIClient, call: Call, ids: dict[str, int]) -> dict[str, list[int]]:
    """Nanoseconds per request, by case: a shuffled warm-up (thrown away), then `SAMPLES`
    of each case in one shuffled order, so drift and noise fall on every case alike."""
    shuffle = random.Random(SEED).shuffle
    warm_up = [case for case in CASES for _ in range(WARM_UP)]
    measured = [case for case in CASES for _ in range(SAMPLES)]
    shuffle(warm_up)
    shuffle(measured)
    times: dict[str, list[int]] = {case: [] for case in CASES}
    gc.collect()
    gc.disable()
    try:
        for phase, order in (("warm_up", warm_up), ("measured", measured)):
            for case in order:
                start = time.perf_counter_ns()
                response = call(client, ids[case])
                elapsed = time.perf_counter_ns() - start
                assert response.status_code == 404, (case, response.content)
                if phase == "measured":
                    times[case].append(elapsed)
    finally:
        gc.enable()
    return times


@pytest.mark.parametrize("route", ROUTES)
def test_a_member_cannot_time_which_concerns_are_about_her(world, route):
    ids = not_visible_ids(world)
    times = _timings(world.client(VIEWER), ROUTES[route], ids)
    outcomes = {
        f"{one} vs {other}": mann_whitney_u(times[one], times[other])
        for one, other in combinations(CASES, 2)
    }
    report = "; ".join(f"{pair}: {outcome}" for pair, outcome in outcomes.items())
    print(f"\n{route}: {report}")
    assert all(outcome.p >= ALPHA for outcome in outcomes.values()), report


# --- the test of the test ---------------------------------------------------------------------


def test_the_rank_test_agrees_with_the_textbook() -> None:
    # scipy.stats.mannwhitneyu([1..5], [6..10], method="asymptotic") gives p = 0.01219.
    outcome = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert outcome.u == 0
    assert outcome.p == pytest.approx(0.01219, abs=1e-5)
    # Ties share their rank and shrink the variance: U = 2.5, z = 1.488, p = 0.1366.
    tied = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5])
    assert tied.u == 2.5
    assert tied.p == pytest.approx(0.1366, abs=1e-3)
    assert mann_whitney_u([4, 4, 4], [4, 4, 4]).p == 1.0


def test_the_rank_test_sees_a_shift_as_small_as_the_leak_and_not_one_that_is_not_there() -> None:
    noise = random.Random(SEED)
    # Requests of about 2 ms with a long right tail, as the test client's are.
    base = [2_000_000 + noise.expovariate(1 / 300_000) for _ in range(SAMPLES)]
    same = [2_000_000 + noise.expovariate(1 / 300_000) for _ in range(SAMPLES)]
    shifted = [2_000_000 + 300_000 + noise.expovariate(1 / 300_000) for _ in range(SAMPLES)]
    assert mann_whitney_u(base, shifted).p < 1e-10
    assert mann_whitney_u(base, same).p >= ALPHA
