"""Reading Haven's translation catalogues in tests (issue 18): a small .po reader, so the
tests need nothing beyond Debian's gettext tools."""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
# The shipped languages other than English, as Django names them and as their folders are named.
SHIPPED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
DOMAINS = ("django", "djangojs")


def folder(code: str) -> str:
    """ "pt-br" → "pt_BR" (Django's to_locale)."""
    language, _sep, country = code.partition("-")
    return f"{language}_{country.upper()}" if country else language


def po_path(code: str, domain: str) -> Path:
    return LOCALE_DIR / folder(code) / "LC_MESSAGES" / f"{domain}.po"


@dataclass
class Entry:
    msgid: str
    msgstr: str
    plural: bool = False
    fuzzy: bool = False
    references: list[str] = field(default_factory=list)


def read_po(path: Path) -> list[Entry]:
    """Every entry but the header: msgid, the (first) msgstr, flags and source references."""
    entries: list[Entry] = []
    refs: list[str] = []
    fuzzy = plural = False
    parts: dict[str, str] = {}
    current = ""

    def flush() -> None:
        nonlocal refs, fuzzy, plural, parts
        if parts.get("msgid"):
            msgstr = parts.get("msgstr", parts.get("msgstr[0]", ""))
            entries.append(Entry(parts["msgid"], msgstr, plural, fuzzy, refs))
        refs, fuzzy, plural, parts = [], False, False, {}

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#~"):
            continue
        if not line.strip():
            flush()
            continue
        if line.startswith("#:"):
            refs += [ref.rsplit(":", 1)[0] for ref in line[2:].split()]
        elif line.startswith("#,"):
            fuzzy = fuzzy or "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            parts[current] += ast.literal_eval(line)
        else:
            keyword, _sep, rest = line.partition(" ")
            current = keyword
            plural = plural or keyword == "msgid_plural"
            parts[current] = ast.literal_eval(rest)
    flush()
    return entries


def statistics(path: Path) -> dict[str, int]:
    """msgfmt --statistics as numbers: translated, fuzzy, untranslated."""
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    counts = {"translated": 0, "fuzzy": 0, "untranslated": 0}
    for number, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", done.stderr):
        counts[kind] = int(number)
    return counts
