"""The one interface every provider implements, and its error taxonomy.

A transport turns an :class:`Outgoing` into one provider call and returns the provider's message id,
or raises :class:`TransportError` saying whether trying again can help (``permanent``), when
(``retry_after``), and whether the whole sender must stop (``pause_sender``, e.g. WhatsApp 131048).
Transports never touch the database: the dispatcher claims rows, calls :meth:`Transport.send` under
the sender's rate limit, and records the outcome.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp

from sampark.core.errors import TransportError

__all__ = ["Limit", "Outgoing", "Transport", "TransportError"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one address on one channel, already rendered for that channel."""

    delivery_id: int
    address: str  # E.164 phone (SMS, WhatsApp), Telegram chat id, or email address
    text: str
    language: str = "hi"
    link: str = ""
    media_url: str = ""
    subject: str = ""  # email
    # WhatsApp outside the 24-hour window: an approved template (name, language code, body parameters).
    template_name: str = ""
    template_language: str = ""
    template_params: tuple[str, ...] = ()
    # SMS in India (TRAI DLT): the registered template and principal entity ids, sent with every SMS.
    dlt_template_id: str = ""
    dlt_entity_id: str = ""
    promotional: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limit:
    """A sender's rate: ``count`` messages per ``per_seconds``."""

    count: int
    per_seconds: float = 1.0

    @property
    def per_second(self) -> float:
        return self.count / self.per_seconds


class Transport(ABC):
    """One provider. Subclasses live in ``sampark/transports/<kind>/transport.py`` and are listed in
    :data:`sampark.transports.registry.TRANSPORTS`."""

    kind: ClassVar[str]  # registry key, e.g. "whatsapp"
    channel: ClassVar[str]  # the contact-point channel it carries: sms, whatsapp, telegram, email

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Any) -> Transport | None:
        """The configured transport, or None when none of its settings are given.

        A half-configured provider (a token without its phone number id, say) raises
        ``ImproperlyConfigured``: it is a startup error, never a silent no-op.
        """

    @property
    @abstractmethod
    def sender(self) -> str:
        """The rate-limit bucket key of this sender, e.g. ``wa:<phone_number_id>``; never per recipient."""

    @property
    @abstractmethod
    def limit(self) -> Limit:
        """How fast this sender may send."""

    @abstractmethod
    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        """Send one message; return the provider's message id or raise :class:`TransportError`."""

    #: Seconds between two messages to the same recipient (Telegram: 1 per chat per second; WhatsApp:
    #: about one per 6 s per user, error 131056). The dispatcher holds a recipient's next message back.
    per_recipient_seconds: ClassVar[float] = 0.0

    def closed_until(self, now: datetime.datetime) -> datetime.datetime | None:
        """If campaign messages may not go out on this transport at ``now`` (TRAI's promotional SMS
        window, say), when they may again; None when open. The dispatcher claims nothing meanwhile."""
        return None

    def max_length(self) -> int | None:
        """The longest text the channel carries in one message (None: no practical limit)."""
        return None
