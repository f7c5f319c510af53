"""Logging filters that keep secrets out of every log line Haven writes."""

from __future__ import annotations

import logging
import re

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
