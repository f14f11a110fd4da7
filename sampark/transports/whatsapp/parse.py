"""WhatsApp webhook bodies → :class:`StatusEvent` and :class:`InboundEvent`.

We parse the JSON ourselves, defensively, rather than through pywa's update types: those are built for
a running pywa client (they want a ``WhatsApp`` instance, warn on unknown enum members and raise on
shapes they do not know), while a webhook must answer 200 to anything Meta sends — new fields, new
message types, placeholders — or Meta retries it for days. We need only a handful of fields, and every
lookup here tolerates a missing or mistyped value by skipping that item, never the whole body.

Only ``field == "messages"`` changes are read. Statuses other than sent/delivered/read/failed
("played", "deleted", call statuses) are ignored; so are system notices, revokes and edits, which are
not new messages from a person.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from sampark.transports.events import InboundEvent, StatusEvent

CHANNEL = "whatsapp"
STATUSES = frozenset({"sent", "delivered", "read", "failed"})
# Not new words from a person: a changed number or identity, a deleted or an edited earlier message.
_NOT_INBOUND = frozenset({"system", "revoke", "edit"})
_REASON_MAX = 300


@dataclass(slots=True)
class Events:
    statuses: list[StatusEvent] = field(default_factory=list)
    inbound: list[InboundEvent] = field(default_factory=list)


def parse(body: Any) -> Events:
    """Every status and inbound message in a decoded webhook body; unknown shapes yield nothing."""
    events = Events()
    for entry in _dicts(body.get("entry") if isinstance(body, dict) else None):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            for status in _dicts(value.get("statuses")):
                event = _status(status)
                if event is not None:
                    events.statuses.append(event)
            contacts = _contacts(value.get("contacts"))
            for message in _dicts(value.get("messages")):
                inbound = _inbound(message, contacts)
                if inbound is not None:
                    events.inbound.append(inbound)
    return events


def _status(status: dict[str, Any]) -> StatusEvent | None:
    wamid, state = status.get("id"), status.get("status")
    if not isinstance(wamid, str) or not wamid or not isinstance(state, str) or state.lower() not in STATUSES:
        return None
    state = state.lower()
    code = reason = ""
    if state == "failed":
        error = next(iter(_dicts(status.get("errors"))), {})
        code = _scalar(error.get("code"))
        reason = _error_reason(error)
    return StatusEvent(
        channel=CHANNEL,
        provider_message_id=wamid,
        status=state,
        at=_when(status.get("timestamp")),
        error_code=code,
        error_reason=reason,
    )


def _error_reason(error: dict[str, Any]) -> str:
    """ "Title: details" (details only when they add something), bounded."""
    title = _text(error.get("title")) or _text(error.get("message"))
    data = error.get("error_data")
    details = _text(data.get("details")) if isinstance(data, dict) else ""
    reason = f"{title}: {details}" if title and details and details != title else title or details
    return reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…"


def _contacts(contacts: Any) -> dict[str, tuple[str, str]]:
    """wa_id -> (profile name, business-scoped user id); "" holds the only contact when there is one."""
    found: dict[str, tuple[str, str]] = {}
    for contact in _dicts(contacts):
        profile = contact.get("profile")
        name = _text(profile.get("name")) if isinstance(profile, dict) else ""
        found[_text(contact.get("wa_id"))] = (name, _text(contact.get("user_id")))
    if len(found) == 1:
        found[""] = next(iter(found.values()))
    return found


def _inbound(message: dict[str, Any], contacts: dict[str, tuple[str, str]]) -> InboundEvent | None:
    kind = _text(message.get("type"))
    if kind in _NOT_INBOUND:
        return None
    sender = _text(message.get("from"))
    name, user_id = contacts.get(sender) or contacts.get("", ("", ""))
    # Since 2026 a message may name its sender by business-scoped id; it outranks the contact's.
    user_id = _text(message.get("from_user_id")) or user_id
    phone = sender.isascii() and sender.isdigit()
    if not phone and not user_id:
        return None  # nobody we could ever match (e.g. a documentation placeholder)
    return InboundEvent(
        channel=CHANNEL,
        address=f"+{sender}" if phone else "",
        text=_message_text(kind, message),
        at=_when(message.get("timestamp")),
        provider_message_id=_text(message.get("id")),
        wa_user_id=user_id,
        name=name,
    )


def _message_text(kind: str, message: dict[str, Any]) -> str:
    """What the person said: the text, a reply's title, else "[type]" (with a media caption if any)."""
    body = message.get(kind)
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return _text(body.get("body"))
    if kind == "button":  # a template's quick-reply button
        return _text(body.get("text")) or _text(body.get("payload"))
    if kind == "interactive":
        reply = body.get(_text(body.get("type")))
        if isinstance(reply, dict) and (title := _text(reply.get("title")) or _text(reply.get("id"))):
            return title
    caption = _text(body.get("caption"))
    label = f"[{kind or 'unknown'}]"
    return f"{label} {caption}" if caption else label


def _when(timestamp: Any) -> datetime.datetime:
    """A Unix-seconds timestamp (string or number) as an aware UTC datetime; now when it is unreadable."""
    try:
        return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _scalar(value: Any) -> str:
    """A code given as a number or a string, as text; "" for anything else (never ``str()`` of a
    structure, which for a deeply nested one raises instead of returning)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)
