"""Every string a person sees can be translated (issue 18): a template's text outside
{% translate %} / {% blocktranslate %}, or a literal that room.js (or any page script) puts on
the page without gettext, fails here."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
TEMPLATES = sorted((BASE / "frontend" / "templates").rglob("*.html"))
SCRIPTS = sorted((BASE / "frontend" / "static").rglob("*.js"))

# Text that is the same in every language: the product's name.
ALLOWED_TEXT = {"Haven"}
PUNCTUATION = " \N{EN DASH}-\N{MIDDLE DOT}|:()"
# Attributes people read (or hear); their values must be marked too.
READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "aria-description")


def unmarked_template_text(source: str) -> list[str]:
    """Words a template shows outside the translation tags: what is left once comments,
    translation blocks, other tags, variables, scripts, styles and markup are taken away."""
    text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", " ", source, flags=re.S)
    text = re.sub(r"\{%\s*blocktranslate\b.*?\{%\s*endblocktranslate\s*%\}", " ", text, flags=re.S)
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    found = [
        value.strip()
        for _name, value in re.findall(rf'\b({"|".join(READ_ATTRIBUTES)})="([^"]*)"', text)
        if re.search(r"[^\W\d_]{2}", value)
    ]
    for chunk in re.split(r"<[^>]*>", text):
        words = " ".join(chunk.split())
        bare = words.strip(PUNCTUATION)
        if re.search(r"[^\W\d_]{2}", words) and bare not in ALLOWED_TEXT:
            found.append(words)
    return found


# A string literal with a word in it, given to something that puts text on the page.
_LITERAL = r'"(?:[^"\\]|\\.)*[A-Za-z]{2}(?:[^"\\]|\\.)*"'
_SINKS = [
    rf"\.(?:textContent|innerText|innerHTML|placeholder|title|value)\s*=\s*({_LITERAL})",
    rf'setAttribute\(\s*"(?:{"|".join(READ_ATTRIBUTES)})"\s*,\s*({_LITERAL})',
    rf"createTextNode\(\s*({_LITERAL})",
    # room.js's el(tag, class, text) and button(label, ...): their text arguments.
    rf'\bel\(\s*"[a-z0-9]+"\s*,\s*(?:null|"[^"]*")\s*,\s*({_LITERAL})',
    rf"\bbutton\(\s*({_LITERAL})",
    rf"\b(?:announce|systemLine|boxError|supportSay)\(\s*({_LITERAL})",
    rf"\b(?:say|privateError)\(\s*[\w.]+\s*,\s*({_LITERAL})",
]


def unmarked_script_text(source: str) -> list[str]:
    """Literals a script puts on the page (text, readable attributes, its own text helpers)
    that do not go through gettext/ngettext/pgettext; a literal inside those calls is fine."""
    code = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    code = re.sub(r"(?m)^\s*//.*$", " ", code)
    found = []
    for pattern in _SINKS:
        for match in re.finditer(pattern, code):
            literal = match.group(1)
            before = code[: match.start(1)]
            if re.search(r"\b(?:gettext|ngettext|pgettext)\(\s*$", before):
                continue
            found.append(literal)
    return found


def test_every_template_text_is_inside_a_translation_tag():
    unmarked = {
        path.name: found
        for path in TEMPLATES
        if (found := unmarked_template_text(path.read_text(encoding="utf-8")))
    }

    assert TEMPLATES
    assert unmarked == {}


def test_the_template_check_finds_plain_text_and_plain_attributes():
    source = (
        '{% load i18n %}<p>{% translate "Marked" %}</p><p>Not marked here</p>'
        '<button aria-label="Close it">\N{MULTIPLICATION SIGN}</button>{# a comment #}'
        "{% blocktranslate %}Also marked {{ x }}{% endblocktranslate %}<title>Haven</title>"
    )

    assert unmarked_template_text(source) == ["Close it", "Not marked here"]


def test_every_script_text_goes_through_gettext():
    unmarked = {
        path.name: found
        for path in SCRIPTS
        if (found := unmarked_script_text(path.read_text(encoding="utf-8")))
    }

    assert any(path.name == "room.js" for path in SCRIPTS)
    assert unmarked == {}


def test_the_script_check_finds_literals_put_on_the_page_without_gettext():
    source = """
      node.textContent = "Left plain";
      node.textContent = gettext("Marked");
      item.appendChild(el("p", "meta", "Plain too"));
      item.appendChild(el("p", null, gettext("Marked too")));
      items.push(button("A plain button", "small"));
      node.setAttribute("aria-label", "Plain label");
      node.setAttribute("data-x", "not read");
      node.textContent = "";
    """

    assert unmarked_script_text(source) == [
        '"Left plain"',
        '"Plain label"',
        '"Plain too"',
        '"A plain button"',
    ]


def test_room_js_never_calls_gettext_through_an_alias():
    """makemessages -d djangojs finds gettext(...), not t(...) or a renamed copy."""
    source = (BASE / "frontend" / "static" / "frontend" / "room.js").read_text(encoding="utf-8")

    assert re.findall(r"var\s+(\w+)\s*=\s*[^;]*window\.(?:n|p)?gettext\b", source) == [
        "gettext",
        "ngettext",
        "pgettext",
    ]
