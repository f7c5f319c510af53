"""The house's layout holds (ARCHITECTURE.md "Layout", issue 12): imports run one way inside
the live room, no selector imports a service, plain SQL lives only in `sql.py`, and no module
grows into a second home for rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["groups", "facilitation", "safeguarding", "frontend"]
MODULE_LINES_MAX = 600
CONSUMER_LINES_MAX = 350

# Inside facilitation/, a module imports only modules after it in this order (a lower number
# may import a higher one). The REST and WebSocket edges come first; `services` is a package
# whose modules share their lookups through `services.context`.
FACILITATION_ORDER = {
    "routing": 0,
    "urls": 0,
    "apis": 0,
    "admin": 0,
    "consumers": 0,
    "serializers": 1,
    "delivery": 1,
    "services": 2,
    "selectors": 3,
    "sql": 4,
    "log": 4,
    "agreements": 4,
    "events": 5,
    "taxonomy": 6,
    "models": 7,
}


def app_modules(app: str) -> list[Path]:
    """The app's own modules (not its migrations)."""
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and "tests" not in path.parts
    ]


def imported(path: Path) -> set[str]:
    """Every module `path` imports, as dotted names (`from x import y` gives x and x.y)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def facilitation_rank(dotted: str) -> int | None:
    parts = dotted.split(".")
    if parts[0] != "facilitation" or len(parts) < 2:
        return None
    return FACILITATION_ORDER.get(parts[1])


def facilitation_modules() -> list[tuple[Path, str]]:
    found = []
    for path in app_modules("facilitation"):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts
        if parts[1] in {"management", "__init__"}:
            continue
        found.append((path, ".".join(parts)))
    return found


@pytest.mark.parametrize(
    ("path", "name"), facilitation_modules(), ids=[n for _p, n in facilitation_modules()]
)
def test_imports_inside_facilitation_point_one_way(path, name):
    own = facilitation_rank(name)
    assert own is not None, f"{name} has no place in FACILITATION_ORDER"
    backwards = sorted(
        target
        for target in imported(path)
        if (rank := facilitation_rank(target)) is not None and rank < own and not (own == rank == 2)
    )
    assert backwards == [], f"{name} imports modules that come before it: {backwards}"


def test_the_service_modules_do_not_import_each_other_in_a_circle():
    package = ROOT / "facilitation" / "services"
    graph = {
        path.stem: {
            target.split(".")[2]
            for target in imported(path)
            if target.startswith("facilitation.services.") and len(target.split(".")) >= 3
        }
        - {path.stem}
        for path in package.glob("*.py")
        if path.stem != "__init__"
    }
    graph = {name: {t for t in targets if t in graph} for name, targets in graph.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import circle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        for target in graph[name]:
            visit(target, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert {"context", "messages", "room", "rounds", "moderation"} <= set(graph)


@pytest.mark.parametrize("app", ["groups", "facilitation", "safeguarding"])
def test_no_selector_imports_a_service(app):
    selectors = ROOT / app / "selectors.py"
    services = {name for name in imported(selectors) if name.split(".")[1:2] == ["services"]}
    assert services == set()


def test_plain_sql_lives_only_in_sql_modules():
    with_sql = sorted(
        str(path.relative_to(ROOT))
        for app in [*APPS, "project"]
        for path in app_modules(app)
        if "noqa: S608" in path.read_text()
    )
    assert with_sql == ["facilitation/sql.py", "groups/sql.py", "project/sql.py"]


@pytest.mark.parametrize("app", APPS)
def test_no_module_is_a_second_home_for_rules(app):
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in app_modules(app)
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES_MAX
    }
    assert too_long == {}


def test_the_consumer_is_the_thin_edge():
    lines = len((ROOT / "facilitation" / "consumers.py").read_text().splitlines())
    assert lines < CONSUMER_LINES_MAX
