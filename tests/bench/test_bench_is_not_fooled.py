"""The load benchmark cannot be fooled (issue 20): a stale seed is noticed by its own tokens, and
a run whose fleet did not fully connect, or whose scenario delivered nothing, fails and meets no
target."""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from groups import services as group_services
from tests.facilitation.room import make_room

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    """A bench script as a module of its own name (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


seed = load("seed")
run = load("run")


def window(**overrides: Any) -> dict[str, Any]:
    out = {"deliveries": 12_000, "deliveries_per_s": 2000.0, "p99_ms": 9.0, "lost": 0}
    out.update(duplicates=0, acked=1200)
    out.update(overrides)
    return out


def results(connected: int, *, deliveries: int = 12_000) -> dict[str, Any]:
    return {
        "connect": {
            "haven": {
                "connections": connected,
                "wanted": 2000,
                "seconds": 11.0,
                "per_s": 180.0,
                "kib_per_connection": 40,
                "failures": {} if connected == 2000 else {"refused:4401": 2000 - connected},
            }
        },
        "runs": {"S1": {"haven": [window(deliveries=deliveries)]}},
        "skipped": [],
    }


def judged(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    _table, medians = run.summarise(res)
    reasons = run.invalid_reasons(res)
    return reasons, run.targets(res, medians, invalid=bool(reasons))


def met(lines: list[str]) -> list[str]:
    return [line for line in lines if ": MET" in line]


def test_a_complete_fleet_that_delivered_is_a_valid_run_that_can_meet_targets():
    reasons, lines = judged(results(2000))

    assert reasons == []
    assert met(lines), lines


def test_a_fleet_refused_by_the_server_fails_the_run_and_meets_no_target():
    reasons, lines = judged(results(0, deliveries=0))

    assert any("fleet haven: 0 of 2000 connected" in r and "4401" in r for r in reasons)
    assert lines and met(lines) == []
    assert all("NOT MET" in line for line in lines), lines


def test_a_fleet_one_short_fails_the_run():
    reasons, lines = judged(results(1999))

    assert len(reasons) == 1 and "fleet haven: 1999 of 2000 connected" in reasons[0]
    assert met(lines) == []


def test_a_scenario_that_delivered_nothing_fails_the_run():
    reasons, lines = judged(results(2000, deliveries=0))

    assert reasons == ["S1 haven rep 1: delivered nothing"]
    assert met(lines) == []


def test_a_storm_after_which_not_everyone_came_back_fails_the_run():
    res = results(2000)
    res["runs"]["S7"] = {"haven": [window(storm={"members": 2000, "resumed": 1990})]}

    reasons, _lines = judged(res)

    assert reasons == ["S7 haven rep 1: 1990 of 2000 members back and resumed"]


def test_an_invalid_run_exits_non_zero_and_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run, "VAR", tmp_path)
    args = argparse.Namespace(heartbeat=20.0)
    cfg = run.config_from(
        argparse.Namespace(
            quick=True, groups=0, members=10, reps=0, heartbeat=20.0, s4_connections=0,
            connect_deadline=0, budget=0,
        )
    )  # fmt: skip
    res = results(0, deliveries=0)
    res.update(started="now", haven_commit="test", seconds=1.0)

    assert run.write_report(res, cfg, args) == 1

    captured = capsys.readouterr()
    assert "BENCH FAILED: fleet haven: 0 of 2000 connected" in captured.err
    assert "## BENCH FAILED" in (tmp_path / "results-quick.md").read_text()
    assert ": MET" not in captured.out


@pytest.fixture
def url(transactional_db: None) -> str:
    """The test database's URL, for the bench's own connections (PostgreSQL only)."""
    from django.db import connection

    from tests.e2e.conftest import test_database_url

    if connection.vendor != "postgresql":
        pytest.skip("the bench's database is PostgreSQL")
    return test_database_url()


@pytest.fixture
def seeded(url: str, tmp_path: Path) -> tuple[Path, str, list[str]]:
    """A seed file describing a live session of the test database and two of its tokens."""
    room = make_room()
    users = room.world.users
    tokens = [group_services.token_issue(user=users[p]) for p in ("facilitator", "member")]
    out = tmp_path / "seed.json"
    group = {"session_id": room.session.pk, "group_id": room.world.group_a.pk, "tokens": tokens}
    out.write_text(
        json.dumps({"groups_n": 1, "members_n": 2, "database_url": url, "groups": [group]})
    )
    return out, url, tokens


def test_a_seed_whose_tokens_still_sign_in_is_reused(seeded):
    out, url, _tokens = seeded

    assert seed._seed_is_current(out, 1, 2, url)


def test_a_seed_whose_sessions_match_but_tokens_do_not_is_stale(seeded):
    out, url, tokens = seeded
    data = json.loads(out.read_text())
    # Another checkout re-seeded the database: same session ids, other tokens.
    data["groups"][0]["tokens"] = [tokens[0], "not-a-token-of-this-database"]
    out.write_text(json.dumps(data))

    assert seed.tokens_refused(url, seed.sample_tokens(data)) == [1]
    assert not seed._seed_is_current(out, 1, 2, url)


def test_a_revoked_seed_token_makes_the_seed_stale(seeded):
    out, url, tokens = seeded
    from groups.models import ApiToken

    ApiToken.objects.filter(key_hash=group_services.token_hash(tokens[0])).delete()

    assert not seed._seed_is_current(out, 1, 2, url)


def test_the_bench_database_is_vacuumed_as_autovacuum_would(url):
    """This machine's PostgreSQL runs without autovacuum: the bench clears the dead rows each
    fleet leaves behind itself, or every run measures a slower room entry than the last."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_probe (id int PRIMARY KEY, left_at timestamptz)")
        conn.execute("INSERT INTO bench_probe SELECT g, NULL FROM generate_series(1, 500) g")
        conn.execute("UPDATE bench_probe SET left_at = now()")  # 500 dead row versions

        def dead() -> int:
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT pg_stat_clear_snapshot()")
            found = conn.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bench_probe'"
            ).fetchone()
            assert found is not None
            return int(found[0])

        try:
            assert dead() >= 500
            seed.database_vacuum(url)
            assert dead() == 0
        finally:
            conn.execute("DROP TABLE bench_probe")


def test_each_checkout_gets_its_own_bench_database():
    one = seed.checkout_database_name(Path("/work/main"))
    other = seed.checkout_database_name(Path("/work/wt/h20"))

    assert one != other
    assert one.startswith("haven_bench_") and other.startswith("haven_bench_")
    assert seed.checkout_database_name(Path("/work/main")) == one


storm = load("storm")


class Fixed(random.Random):
    """A random source that always draws `r` (room.js's Math.random stubbed)."""

    def __init__(self, r: float) -> None:
        super().__init__(0)
        self.r = r

    def random(self) -> float:
        return self.r


def test_the_storm_reconnects_on_the_schedule_room_js_ships():
    backoff = storm.room_backoff()
    text = storm.ROOM_JS.read_text()

    for name, ms in (
        ("FLOOR", backoff.floor_ms),
        ("BASE", backoff.base_ms),
        ("CAP", backoff.cap_ms),
    ):
        assert f"var RECONNECT_{name}_MS = {ms};" in text
    assert 0 < backoff.floor_ms < backoff.base_ms < backoff.cap_ms
    # Full jitter: the first wait is anywhere from the floor to the base, the later ones
    # anywhere up to the cap, never the same instant for everyone.
    assert backoff.delay(0, Fixed(0.0)) == backoff.floor_ms / 1000
    assert backoff.delay(0, Fixed(1.0)) == backoff.base_ms / 1000
    assert backoff.delay(10, Fixed(1.0)) == backoff.cap_ms / 1000
    rng = random.Random(1)
    for attempt in range(8):
        ceiling = min(backoff.cap_ms, backoff.base_ms * 2**attempt) / 1000
        delays = [backoff.delay(attempt, rng) for _ in range(400)]
        assert all(backoff.floor_ms / 1000 <= d <= ceiling for d in delays)
        assert len(set(delays)) == 400
        # Spread over the whole range, not bunched at one end.
        assert min(delays) < backoff.floor_ms / 1000 + 0.1 * ceiling
        assert max(delays) > 0.9 * ceiling


def test_the_storm_computes_each_wait_as_room_js_does():
    """room.js's own `backoff`, run by node with Math.random fixed, against `Backoff.delay`."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    text = storm.ROOM_JS.read_text()
    constants = "\n".join(
        line.strip() for line in text.splitlines() if line.strip().startswith("var RECONNECT_")
    )
    start = text.index("function backoff(attempt, cap)")
    function = text[start : text.index("\n  }\n", start) + 4]
    draws = [0.0, 0.25, 0.5, 0.999]
    script = (
        f"{constants}\n{function}\nvar out = [];\n"
        f"{json.dumps(draws)}.forEach(function (r) {{ Math.random = function () {{ return r; }};\n"
        "  for (var a = 0; a < 8; a++) { out.push(backoff(a, RECONNECT_CAP_MS)); } });\n"
        "console.log(JSON.stringify(out));"
    )
    shipped = json.loads(
        subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout
    )
    backoff = storm.room_backoff()
    ours = [backoff.delay(a, Fixed(r)) * 1000 for r in draws for a in range(8)]
    assert shipped == pytest.approx(ours)


def test_a_full_jitter_schedule_in_room_js_is_read_with_its_numbers():
    source = storm.ROOM_JS.read_text().replace(
        "var RECONNECT_CAP_MS = 5000;", "var RECONNECT_CAP_MS = 20000;"
    )

    backoff = storm.room_backoff(source)

    assert backoff.cap_ms == 20000
    assert backoff.delay(10, Fixed(1.0)) == 20.0


def test_a_room_js_schedule_the_storm_does_not_understand_stops_it():
    shipped = storm.ROOM_JS.read_text()
    fixed = "var delay = Math.min(15000, 1000 * Math.pow(2, state.attempts));"
    with pytest.raises(RuntimeError, match="no `var delay"):
        storm.room_backoff(
            shipped.replace("var delay = backoff(state.attempts, RECONNECT_CAP_MS);", fixed)
        )
    with pytest.raises(RuntimeError, match="not understood"):
        storm.room_backoff(shipped.replace("Math.random() * ", "0.5 * "))
    with pytest.raises(RuntimeError, match="not understood"):
        storm.room_backoff(shipped.replace("var RECONNECT_FLOOR_MS = 250;", ""))


def test_a_storm_counts_the_share_of_members_back_from_the_server_accepting_again():
    s = storm.Storm(members=4, down_at=100.0, up_at=101.0)
    s.back_at = [101.5, 102.0, 103.0, 104.0]
    s.resumed_at = [101.6, 102.1, 103.2]

    out = s.report()

    assert out["resumed_50pct_after_up_s"] == 1.1
    assert out["resumed_99pct_after_up_s"] is None  # 99 % of 4 is all 4: one is missing
    assert out["back_100pct_after_up_s"] == 3.0
    assert out["back_100pct_after_down_s"] == 4.0


def test_a_run_in_which_haven_never_ran_does_not_meet_zero_loss():
    res = results(2000)
    res["runs"] = {"S1": {"naive": [window()]}}

    _reasons, lines = judged(res)

    assert "zero loss and duplicates (Haven, every scenario): NOT MET" in lines[0]
