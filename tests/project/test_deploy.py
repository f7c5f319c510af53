"""What deploy/ ships: systemd units that systemd itself accepts, and an example environment file
that names every variable Haven reads. (nginx's site: tests/e2e/test_nginx.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
# `os.environ.get("NAME"`, `env_int(os.environ, "NAME"`, `env.get("NAME"`, `os.environ["NAME"]`.
ENV_READ = re.compile(r'\b(?:os\.environ|env)\s*(?:\.get\(\s*|\[\s*|,\s*)"([A-Z][A-Z0-9_]+)"')
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "project").rglob("*.py"):
        names.update(ENV_READ.findall(path.read_text()))
    return names - NOT_SETTINGS


def test_the_example_environment_file_names_every_variable_haven_reads():
    example = (DEPLOY / "haven.env.example").read_text()
    listed = set(re.findall(r"(?m)^#?([A-Z][A-Z0-9_]+)=", example))
    read = variables_read()

    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "HAVEN_STALL_LOG_MS"} <= read
    assert sorted(read - listed) == []
    assert sorted(listed - read) == [], "the example names a variable nothing reads"


def test_the_units_run_haven_from_the_checkout_with_the_environment_file():
    service = (DEPLOY / "systemd" / "haven@.service").read_text()
    purge = (DEPLOY / "systemd" / "haven-purge.service").read_text()
    timer = (DEPLOY / "systemd" / "haven-purge.timer").read_text()

    assert "-m project.serve -b 127.0.0.1 -p %i" in service
    assert "--proxy-headers" not in service.split("ExecStart=", 1)[1]
    for unit in (service, purge):
        assert "EnvironmentFile=/etc/haven/haven.env" in unit
        assert "ProtectSystem=strict" in unit
        assert "ReadWritePaths=/var/lib/haven" in unit
    assert "manage.py purge_expired" in purge
    assert "Persistent=true" in timer
    assert "OnCalendar=daily" in timer


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_accepts_every_shipped_unit_without_a_warning(tmp_path):
    # The interpreter of a real install does not exist here: point at this machine's python3.
    python = shutil.which("python3")
    assert python
    paths = []
    for unit in UNITS:
        name = unit.name.replace("@.service", "@8001.service")
        text = unit.read_text().replace("/srv/haven/.venv/bin/python", python)
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))

    checked = subprocess.run(
        ["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == ""


# --- what a release carries -----------------------------------------------------------------


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file or lock, names normalised (PEP 503)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


@pytest.mark.parametrize(
    ("wanted", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_each_lock_holds_every_pin_of_its_requirements_at_the_same_version(wanted, lock):
    locked = pins(ROOT / lock)
    text = (ROOT / lock).read_text()

    assert {name: locked.get(name) for name in pins(ROOT / wanted)} == pins(ROOT / wanted), (
        f"{wanted} changed: run `make lock`"
    )
    # Every package, transitive ones too, is pinned with its hashes (a package may have two
    # entries, each under its own environment marker).
    entries = re.findall(r"(?m)^[A-Za-z0-9].*", text)
    hashed = re.findall(r"(?m)^[A-Za-z0-9][^\n]*\\\n\s+--hash=sha256:[0-9a-f]{64}", text)
    assert len(entries) == len(hashed) >= len(locked)


def test_the_runtime_lock_is_the_dev_lock_without_the_test_tools():
    runtime, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")

    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" in dev
    assert "pytest" not in runtime


def test_the_release_has_one_version_a_licence_and_the_python_versions_it_runs_on():
    import tomllib

    import project

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    changelog = (ROOT / "CHANGELOG.md").read_text()

    assert meta["version"] == project.__version__
    assert re.search(r"(?m)^## \[?([0-9][^\] ]*)", changelog).group(1) == project.__version__
    assert meta["requires-python"] == ">=3.11,<3.14"
    assert meta["license"] == "AGPL-3.0-or-later"
    licence = (ROOT / "LICENSE").read_text()
    assert licence.split()[:4] == ["GNU", "AFFERO", "GENERAL", "PUBLIC"]
    assert "Version 3, 19 November 2007" in licence
    assert (ROOT / "SECURITY.md").exists()
