"""What webhooks learn, in provider-neutral form, and the receiver that acts on it.

Webhook views (one per provider package) verify and parse a request into :class:`StatusEvent` and
:class:`InboundEvent` objects and hand them to :func:`receiver`; the messaging app registers the
receiver in its ``AppConfig.ready``. Transports thereby never import messaging.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Protocol


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
