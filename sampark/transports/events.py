"""What webhooks learn, in provider-neutral form, and the receiver that acts on it.

Webhook views (one per provider package) verify and parse a request into :class:`StatusEvent` and
:class:`InboundEvent` objects and hand them to :func:`receiver`; the messaging app registers the
receiver in its ``AppConfig.ready``. Transports thereby never import messaging.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

# What every webhook answers once it has taken a body in: an empty JSON object.
EMPTY_JSON = b"{}"
# How a decoded string can come to hold what neither SQLite (lone surrogates cannot be encoded) nor
# PostgreSQL (no NUL in text) stores: a JSON escape of a surrogate or of NUL, surrogate bytes in UTF-8
# (json decodes them with "surrogatepass"), or a UTF-16/32 body (zero bytes). Other bodies are not walked.
_UNSTORABLE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)|\xed[\xa0-\xbf]|\x00")


def decode_json(body: bytes) -> Any:
    """A webhook body decoded, with every string storable; ValueError (with the reason) when it is not
    JSON or is nested deeper than Python's parser goes (a deeply nested array is an attack, not a
    webhook). Lone surrogates become U+FFFD and NUL characters are dropped, so a signed body with odd
    escapes is read as well as it can be instead of failing at the database."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("body is nested too deeply") from None
    except ValueError:  # also covers bytes that are not UTF-8
        raise ValueError("body is not JSON") from None
    if _UNSTORABLE.search(body):
        data = _storable(data)
    return data


def _storable(value: Any) -> Any:
    """``value`` with lone surrogates replaced and NULs removed in every string, keys included."""
    stack: list[Any] = []
    root: list[Any] = [value]
    stack.append((root, 0))
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = storable_text(item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            fixed = {storable_text(k): v for k, v in item.items()}
            container[key] = fixed
            stack.extend((fixed, k) for k in fixed)
    return root[0]


def from_unix(value: Any) -> datetime.datetime | None:
    """Unix seconds (an int or float, not a bool) as an aware UTC datetime; None for anything else,
    including numbers no datetime holds (10^20, NaN, infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def storable_text(text: str) -> str:
    """``text`` without NUL and with lone UTF-16 surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A provider's report on one message it accepted from us."""

    channel: str
    provider_message_id: str
    status: str  # "sent" | "delivered" | "read" | "failed"
    at: datetime.datetime
    error_code: str = ""
    error_reason: str = ""


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A message someone sent us (STOP, START, HELP or anything else)."""

    channel: str
    address: str  # E.164 phone, Telegram chat id, or email
    text: str
    at: datetime.datetime
    provider_message_id: str = ""
    wa_user_id: str = ""  # WhatsApp's business-scoped user id, when the webhook carries one
    name: str = ""


class Receiver(Protocol):
    def statuses(self, events: list[StatusEvent]) -> None: ...

    def inbound(self, event: InboundEvent) -> None: ...


_receiver: Receiver | None = None


def set_receiver(receiver: Receiver) -> None:
    global _receiver
    _receiver = receiver


def current_receiver() -> Receiver | None:
    """The registered receiver, or None (tests that install their own restore this one)."""
    return _receiver


def receiver() -> Receiver:
    if _receiver is None:
        raise RuntimeError("no webhook receiver registered (is sampark.messaging installed?)")
    return _receiver
