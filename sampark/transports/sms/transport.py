"""SMS through a generic Indian HTTP gateway, under TRAI's DLT rules.

Every SMS carries the registered principal-entity id and the DLT template id of its text (operators
block one without them), so a message without a template id fails permanently before any HTTP call.
Promotional SMS may only be delivered inside TRAI's window (09:00-21:00 local time by default,
``SAMPARK_SMS_PROMO_HOURS``): outside it the send is deferred, never attempted.

The gateway contract (what an adapter for a particular Indian provider must expose)::

    POST SAMPARK_SMS_GATEWAY_URL
    Authorization: Bearer <SAMPARK_SMS_API_KEY>
    {"to": "919876543210", "sender": "SMPRK", "text": "...", "dlt_entity_id": "...",
     "dlt_template_id": "...", "type": "promotional" | "transactional", "unicode": false}

    200 {"id": "<gateway message id>", "status": "accepted"}
    4xx {"error": "<why>"}      the message cannot go (bad number, unregistered template, ...)
    429 / 5xx                   try again later; Retry-After (seconds) is honoured

Delivery reports come back on ``/webhooks/sms/`` (see :mod:`sampark.transports.sms.webhook`).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from sampark.core import http
from sampark.transports.base import Limit, Outgoing, Transport, TransportError

logger = logging.getLogger(__name__)

# --- encoding and segments -------------------------------------------------------------------------

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + char: two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def needs_unicode(text: str) -> bool:
    """Whether ``text`` must go as UCS-2 (``"unicode": true``).

    GSM-7 is used only for ASCII text that GSM-7 can carry: gateways differ in how they map the
    non-ASCII GSM letters (é, £, …), and a wrongly mapped letter is worse than a dearer message.
    Hindi is always UCS-2.
    """
    return not (text.isascii() and all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text))


def sms_segments(text: str) -> int:
    """How many SMS parts ``text`` costs: GSM-7 160 (153 per part when split), UCS-2 70 (67 per part).

    Parts are counted as a phone splits them: an escaped GSM character or a UTF-16 surrogate pair is
    never divided between two parts. An empty text is still one SMS.
    """
    if needs_unicode(text):
        widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # UTF-16 code units
        single, part = 70, 67
    else:
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]  # septets
        single, part = 160, 153
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > part:
            parts += 1
            used = 0
        used += width
    return parts


# --- TRAI's promotional window -----------------------------------------------------------------------


def _hours(hours: Sequence[int] | None) -> tuple[int, int]:
    if hours is None:
        from django.conf import settings

        hours = settings.SAMPARK_SMS_PROMO_HOURS
    start, end = (int(h) for h in hours)
    if not 0 <= start < end <= 24:
        raise ValueError(f"promotional hours must satisfy 0 <= start < end <= 24, got {start}-{end}")
    return start, end


def _at_hour(day: datetime.date, hour: int, tz: datetime.tzinfo) -> datetime.datetime:
    if hour == 24:
        return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), tzinfo=tz)
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=tz)


def _local(now: datetime.datetime) -> datetime.datetime:
    if timezone.is_naive(now):
        raise ValueError("the promotional window needs an aware datetime")
    return now.astimezone(timezone.get_default_timezone())


def promotional_window_open(now: datetime.datetime, hours: Sequence[int] | None = None) -> bool:
    """Whether a promotional SMS may be delivered at ``now`` (aware).

    ``hours`` is (start, end) in the local time zone (``TIME_ZONE``): open from start:00 inclusive to
    end:00 exclusive. None means ``SAMPARK_SMS_PROMO_HOURS`` (default 9, 21).
    """
    start, end = _hours(hours)
    local = _local(now)
    tz = local.tzinfo
    assert tz is not None
    return _at_hour(local.date(), start, tz) <= local < _at_hour(local.date(), end, tz)


def next_window_start(now: datetime.datetime, hours: Sequence[int] | None = None) -> datetime.datetime:
    """The earliest moment at or after ``now`` when a promotional SMS may go, in local time.

    ``now`` itself while the window is open; otherwise the next start:00 (today's before it opens,
    tomorrow's after it closes).
    """
    start, end = _hours(hours)
    local = _local(now)
    tz = local.tzinfo
    assert tz is not None
    today_start = _at_hour(local.date(), start, tz)
    if local < today_start:
        return today_start
    if local < _at_hour(local.date(), end, tz):
        return local
    return _at_hour(local.date() + datetime.timedelta(days=1), start, tz)


# --- the transport --------------------------------------------------------------------------------

_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")

_REQUIRED = (
    "SAMPARK_SMS_GATEWAY_URL",
    "SAMPARK_SMS_API_KEY",
    "SAMPARK_SMS_SENDER_ID",
    "SAMPARK_SMS_DLT_ENTITY_ID",
)


class SmsTransport(Transport):
    kind = "sms"
    channel = "sms"

    def __init__(
        self,
        *,
        gateway_url: str,
        api_key: str,
        sender_id: str,
        dlt_entity_id: str,
        webhook_secret: str,
        rate: int,
        promo_hours: Sequence[int] = (9, 21),
        clock: Callable[[], datetime.datetime] = timezone.now,
    ) -> None:
        if urlsplit(gateway_url).scheme not in ("http", "https"):
            raise ImproperlyConfigured("SAMPARK_SMS_GATEWAY_URL must be an http(s) URL.")
        if rate < 1:
            raise ImproperlyConfigured("SAMPARK_SMS_RATE must be at least 1.")
        try:
            self.promo_hours = _hours(promo_hours)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"SAMPARK_SMS_PROMO_HOURS: {exc}") from None
        self.gateway_url = gateway_url
        self._api_key = api_key
        self.sender_id = sender_id
        self.dlt_entity_id = dlt_entity_id
        self.webhook_secret = webhook_secret
        self._limit = Limit(rate)
        # Injected so tests (and a dispatcher with its own clock) decide what "now" is for the window.
        self._clock = clock

    def __repr__(self) -> str:  # never the key
        return f"<SmsTransport sender {self.sender_id}>"

    @classmethod
    def from_settings(cls, settings: Any) -> SmsTransport | None:
        given = {
            name: getattr(settings, name, "") or "" for name in (*_REQUIRED, "SAMPARK_SMS_WEBHOOK_SECRET")
        }
        if not any(given.values()):
            return None
        missing = [name for name, value in given.items() if not value]
        if missing:
            # Without the entity id or sender every SMS is blocked by the operators; without the
            # webhook secret delivery reports could be forged.
            raise ImproperlyConfigured(f"SMS is partly configured; also set {', '.join(missing)}.")
        return cls(
            gateway_url=given["SAMPARK_SMS_GATEWAY_URL"],
            api_key=given["SAMPARK_SMS_API_KEY"],
            sender_id=given["SAMPARK_SMS_SENDER_ID"],
            dlt_entity_id=given["SAMPARK_SMS_DLT_ENTITY_ID"],
            webhook_secret=given["SAMPARK_SMS_WEBHOOK_SECRET"],
            rate=int(getattr(settings, "SAMPARK_SMS_RATE", 100)),
            promo_hours=getattr(settings, "SAMPARK_SMS_PROMO_HOURS", (9, 21)),
        )

    @property
    def sender(self) -> str:
        return f"sms:{self.sender_id}"

    @property
    def limit(self) -> Limit:
        return self._limit

    def max_length(self) -> int | None:
        # Not cut here: the text must match its registered DLT template exactly, and a cut one is blocked.
        return None

    def request_for(self, message: Outgoing) -> dict[str, Any]:
        """The gateway JSON for ``message``; raises a permanent :class:`TransportError` for one that
        can never be delivered (no DLT template id, not an E.164 number)."""
        if not message.dlt_template_id:
            raise TransportError(
                "no DLT template id: operators block SMS without a registered template",
                permanent=True,
                code="dlt_template_missing",
            )
        if not _E164_RE.match(message.address):
            raise TransportError("not an E.164 phone number", permanent=True, code="bad_address")
        text = f"{message.text} {message.link}" if message.link else message.text
        return {
            "to": message.address[1:],
            "sender": self.sender_id,
            "text": text,
            "dlt_entity_id": message.dlt_entity_id or self.dlt_entity_id,
            "dlt_template_id": message.dlt_template_id,
            "type": "promotional" if message.promotional else "transactional",
            "unicode": needs_unicode(text),
        }

    def closed_until(self, now: datetime.datetime) -> datetime.datetime | None:
        """Outside TRAI's promotional hours the dispatcher claims only replies (transactional): a
        broadcast's rows wait in the queue instead of each taking an attempt to learn the same thing."""
        if promotional_window_open(now, self.promo_hours):
            return None
        return next_window_start(now, self.promo_hours)

    def check_window(self, message: Outgoing) -> None:
        """Raise a transient error, due when the window opens, for a promotional SMS outside it."""
        if not message.promotional:
            return
        now = self._clock()
        if promotional_window_open(now, self.promo_hours):
            return
        wait = (next_window_start(now, self.promo_hours) - now).total_seconds()
        raise TransportError(
            "outside TRAI's promotional SMS hours", permanent=False, code="promo_window", retry_after=wait
        )

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        payload = self.request_for(message)  # permanent problems first: waiting for 09:00 cannot fix them
        self.check_window(message)
        headers = {"Authorization": f"Bearer {self._api_key}"}
        answer = await http.post(
            session, self.gateway_url, json=payload, headers=headers, service="the SMS gateway"
        )
        status, raw = answer.status, answer.body
        retry_header = answer.headers.get("Retry-After", "")
        body = _json_object(raw)
        if status == 200 and body.get("status") == "accepted" and body.get("id"):
            return str(body["id"])
        error = classify(status, body, retry_header=retry_header)
        logger.info("sms to …%s failed: %s %s", message.address[-3:], error.code, error.reason)
        raise error


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after_seconds(value: str, *, now: datetime.datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: either delta-seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, math.ceil((when - (now or timezone.now())).total_seconds()))


def classify(status: int, body: dict[str, Any], *, retry_header: str = "") -> TransportError:
    """The :class:`TransportError` for a gateway reply that did not accept the message."""
    reason = str(body.get("error") or f"HTTP {status}")
    if status == 200:
        if body.get("error"):
            # A 200 that refuses the message on its merits (some gateways never use 4xx).
            return TransportError(reason, permanent=True, code=str(body.get("status") or "rejected"))
        # Unreadable (a proxy's page, a missing id): we cannot tell it was accepted, so try again.
        return TransportError(
            "the SMS gateway's reply had no message id", permanent=False, code="bad_response"
        )
    if status == 429 or status >= 500:
        return TransportError(
            reason, permanent=False, code=str(status), retry_after=retry_after_seconds(retry_header)
        )
    if status == 401:
        # A wrong or revoked API key fails every message alike: stop the sender until it is fixed.
        # Not permanent: the message itself is fine and can go once an operator fixes the key.
        return TransportError(reason, permanent=False, code="401", pause_sender=True)
    if 400 <= status < 500:
        return TransportError(reason, permanent=True, code=str(status))
    return TransportError(reason, permanent=False, code=str(status))
