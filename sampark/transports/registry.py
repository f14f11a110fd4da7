"""The explicit registry of transports, and which one carries each channel.

A channel is carried by its provider when that provider's settings are given (a half-configured
provider is a startup error); otherwise by the local outbox, unless ``SAMPARK_OUTBOX`` is off (then the
channel is off). No ``if kind == …`` anywhere else: callers ask :func:`for_channel`.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Transport
from .outbox.transport import Outbox

CHANNELS = ("sms", "whatsapp", "telegram", "email")

# kind -> class path. Each provider package lives in sampark/transports/<kind>/.
TRANSPORTS: dict[str, str] = {
    "outbox": "sampark.transports.outbox.transport.Outbox",
    "whatsapp": "sampark.transports.whatsapp.transport.WhatsApp",
    "telegram": "sampark.transports.telegram.transport.TelegramTransport",
    "sms": "sampark.transports.sms.transport.SmsTransport",
    "email": "sampark.transports.email.transport.EmailTransport",
}


def transport_class(kind: str) -> type[Transport]:
    return import_string(TRANSPORTS[kind])  # type: ignore[no-any-return]


@cache
def configured() -> dict[str, Transport]:
    """channel -> the transport that carries it (channels that are off are absent)."""
    carriers: dict[str, Transport] = {}
    for kind in TRANSPORTS:
        transport = transport_class(kind).from_settings(settings)
        if transport is not None:
            carriers[transport.channel] = transport
    if settings.SAMPARK_OUTBOX:
        for channel in CHANNELS:
            carriers.setdefault(channel, Outbox(channel))
    return carriers


def for_channel(channel: str) -> Transport | None:
    return configured().get(channel)


def reset() -> None:
    """Forget the built transports (tests that change settings)."""
    configured.cache_clear()
