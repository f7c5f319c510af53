"""Logging filters that keep secrets out of every log line Haven writes, and the JSON format
(HAVEN_LOG_FORMAT=json) that writes each record as one line after those filters have run."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Invite codes travel in the redeem URL (PROTOCOL.md); tokens in Authorization headers.
_INVITE_PATH = re.compile(r"(/invites/)[^/\s?\"']+")
_TOKEN = re.compile(r"(Token\s+)[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", _INVITE_PATH.sub(r"\1[redacted]", text))


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message so invite codes and tokens never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        # Django attaches the request to some records; its path may hold an invite code.
        if hasattr(record, "request"):
            record.request = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message and, for an
    exception, its traceback. Only the record's own message: never the request or any extra
    attribute a library attached. Runs after the handler's filters (`RedactSecretsFilter`)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)
