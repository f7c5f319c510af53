"""Logs never carry invite codes or tokens."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from rest_framework.test import APIClient

from groups import services
from project.logfilters import RedactSecretsFilter, redact

CODE = "ABCD-EFGH-JKLM"


@pytest.mark.parametrize(
    "text",
    [
        f"/api/v1/invites/{CODE}/redeem/",
        f"Not Found: /api/v1/invites/{CODE}/redeem/",
        f'"POST /api/v1/invites/{CODE}/redeem/?next=x HTTP/1.1" 404',
        f"/api/v1/invites/{CODE.lower()}/redeem/",
        f"/api/v1/invites/{CODE.replace('-', '')}/redeem/",
    ],
)
def test_redact_removes_invite_codes_from_paths(text):
    cleaned = redact(text)

    assert "ABCD" not in cleaned.upper()
    assert "/invites/[redacted]/" in cleaned


@pytest.mark.parametrize(
    "text", ["Authorization: Token abc123", "token was Token abc-123_XYZ", "Token   abc123"]
)
def test_redact_removes_tokens(text):
    cleaned = redact(text)

    assert "abc" not in cleaned.lower()
    assert "Token" in cleaned and "[redacted]" in cleaned


def test_redact_leaves_ordinary_text_alone():
    text = "Not Found: /api/v1/groups/12/members/"

    assert redact(text) == text


def test_the_filter_rewrites_the_message_arguments_and_drops_the_request():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/api/v1/invites/{CODE}/redeem/",),
        None,
    )
    record.request = object()

    assert RedactSecretsFilter().filter(record) is True

    assert CODE not in record.getMessage()
    assert record.getMessage() == "Not Found: /api/v1/invites/[redacted]/redeem/"
    assert record.request is None


def test_the_filter_keeps_records_without_secrets_as_they_are():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "joined %s", ("group 3",), None)

    assert RedactSecretsFilter().filter(record) is True

    assert (record.msg, record.args) == ("joined %s", ("group 3",))


def assert_not_logged(caplog, secret: str) -> None:
    forms = {secret, secret.lower(), secret.replace("-", ""), secret.replace("-", "").lower()}
    assert caplog.records, "expected the failed request to be logged"
    for record in caplog.records:
        message = record.getMessage()
        for form in forms:
            assert form not in message, record.name
            assert form not in repr(record.args), record.name
            assert form not in repr(getattr(record, "request", None)), record.name
    for form in forms:
        assert form not in caplog.text


@pytest.fixture
def all_levels(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    return caplog


def test_a_not_found_redeem_never_logs_the_code(db, all_levels):
    response = APIClient().post(
        f"/api/v1/invites/{CODE}/redeem/", {"display_name": "Newcomer"}, format="json"
    )

    assert response.status_code == 404
    assert_not_logged(all_levels, CODE)


def test_a_refused_redeem_of_a_real_code_never_logs_the_code(world, all_levels):
    _, code = services.invite_create(actor=world.user("facilitator"), group=world.group_a)

    response = world.client("member").post(
        f"/api/v1/invites/{code}/redeem/", {"display_name": "Rosie"}, format="json"
    )
    bad = APIClient().post(f"/api/v1/invites/{code}/redeem/", {}, format="json")

    assert response.status_code == 409
    assert bad.status_code == 400
    assert_not_logged(all_levels, code)


def test_a_refused_token_is_never_logged(world, all_levels):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token-value")

    assert client.get("/api/v1/groups/").status_code == 401
    assert world.client("member").get("/api/v1/groups/999999/").status_code == 404

    for record in all_levels.records:
        assert "not-a-real-token-value" not in record.getMessage()
        assert world.tokens["member"] not in record.getMessage()


def _json_line(record: logging.LogRecord) -> dict:
    """The record as the JSON handler writes it: the redaction filter, then the formatter."""
    from django.conf import settings

    from project.logfilters import JsonFormatter

    assert settings.LOGGING["handlers"]["console"]["filters"][0] == "redact"
    assert RedactSecretsFilter().filter(record) is True
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_json_log_line_is_valid_json_without_the_code_or_the_token():
    token = "tok3nVALUE_abc"
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s (Authorization: Token %s)",
        (f"/api/v1/invites/{CODE}/redeem/", token),
        None,
    )
    record.request = object()

    line = _json_line(record)

    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "WARNING" and line["logger"] == "django.request"
    text = json.dumps(line)
    assert CODE not in text and token not in text
    assert line["message"] == (
        "Not Found: /api/v1/invites/[redacted]/redeem/ (Authorization: Token [redacted])"
    )


def test_a_json_log_line_of_an_exception_carries_its_traceback_redacted():
    try:
        raise ValueError(f"bad invite /invites/{CODE}/")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    line = _json_line(record)

    assert "ValueError" in line["exception"] and CODE not in line["exception"]


def test_the_log_format_is_chosen_by_a_setting_and_a_wrong_word_is_refused():
    from project.config import ConfigurationError, env_choice

    pick = {"choices": ("plain", "json"), "default": "plain"}
    assert env_choice({}, "HAVEN_LOG_FORMAT", **pick) == "plain"
    assert env_choice({"HAVEN_LOG_FORMAT": " JSON "}, "HAVEN_LOG_FORMAT", **pick) == "json"
    with pytest.raises(ConfigurationError, match="HAVEN_LOG_FORMAT must be one of plain, json"):
        env_choice({"HAVEN_LOG_FORMAT": "xml"}, "HAVEN_LOG_FORMAT", **pick)


def test_with_haven_log_format_json_haven_writes_json_lines_redacted_first(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    code = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('django.request').warning('Not Found: /api/v1/invites/{CODE}/x/')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent.parent,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "HAVEN_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    [line] = [json.loads(text) for text in done.stderr.splitlines() if text.strip()]
    assert line["logger"] == "django.request" and CODE not in done.stderr
