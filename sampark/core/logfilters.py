"""Logging filters: a volunteer's feed token never reaches a log line.

A feed token is the whole secret of a volunteer's feed (``/f/<token>/``), and it travels in the path.
Django's request logger writes the path of every 4xx and 5xx (``Not Found: /f/<token>/…``), the
development server and granian's access log write it for every request, and a traceback may quote it.
:class:`RedactFeedTokens` rewrites every record that passes a handler it is attached to (the settings
attach it to every handler they define and route ``django.server`` and ``granian.access`` through them):
the message, its arguments (tuple or mapping, as granian's access log passes them) and any traceback
text, before any formatter sees them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

# ``/f/`` followed by one path segment: the token (whatever it looks like: forged ones too, a probe
# with a real token in a wrong place is still a real token). Percent-encoded slashes stay inside.
FEED_TOKEN = re.compile(r"/f/[^/\s?#\"'<>]+")
REDACTED = "/f/[token]"


def redact(text: str) -> str:
    """``text`` with every feed path's token replaced."""
    if "/f/" not in text:  # the common case costs one substring test
        return text
    return FEED_TOKEN.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int | float) or value is None:
        return value  # keeps ``%d`` and ``%.3f`` working
    # A request, a URL or an exception formats its path with str(): replaced only when it holds one,
    # so the original object (and its format specifier) survives otherwise.
    text = str(value)
    return redact(text) if "/f/" in text else value


class RedactFeedTokens(logging.Filter):
    """Replace feed tokens in a record's message, arguments and traceback text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact_value(record.msg)
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: _redact_value(value) for key, value in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_redact_value(value) for value in args)
        if record.exc_info and not record.exc_text:
            # Format the traceback once here (as the formatter would) so that its text can be redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
