"""Telegram Bot API: one ``sendMessage`` (or ``sendPhoto``) per message to a chat that started the bot.

Plain text only (no ``parse_mode``): campaign text is not escaped for Markdown/HTML, and a stray ``*``
must not turn a send into a 400. Telegram message ids are unique only within a chat, so the provider
message id we return is ``"<chat id>:<message id>"`` — the same form the webhook builds for inbound.

Error classification (Bot API replies ``{"ok": false, "error_code": N, "description": ...}``):
429 is transient and carries ``parameters.retry_after``, which must be obeyed; 5xx, timeouts and
connection errors are transient; 401 (and 404 on the bot path) mean the token is wrong, so the whole
sender pauses; any other 4xx ("bot was blocked by the user", "user is deactivated", "chat not found")
is permanent for that chat. The token is part of every URL and never appears in a log or an error.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any

import aiohttp
from django.core.exceptions import ImproperlyConfigured

from sampark.core import http
from sampark.transports.base import Limit, Outgoing, Transport, TransportError

logger = logging.getLogger(__name__)

MAX_TEXT = 4096  # sendMessage text, after entity parsing
MAX_CAPTION = 1024  # sendPhoto caption

# "<bot id>:<secret>", as BotFather hands it out.
_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
# setWebhook's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -; anything else Telegram refuses.
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def mask(value: str) -> str:
    """A chat id (or any identifier) fit for a log line: only its last three characters."""
    return "…" + value[-3:] if len(value) > 3 else "…"


def utf16_len(text: str) -> int:
    # Telegram measures lengths in UTF-16 code units (as its entity offsets are); astral characters
    # such as most emoji count twice.
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` UTF-16 units, ending in "…" when something was cut."""
    if utf16_len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit - 1:  # room for the ellipsis
            break
        kept.append(ch)
        used += width
    return "".join(kept).rstrip() + "…"


def compose(text: str, link: str, limit: int) -> str:
    """Text and link on its own line, within ``limit``; the text is cut, never the link (a cut URL is
    a broken one)."""
    if not link:
        return cut(text, limit)
    room = limit - utf16_len(link) - 1
    if room <= 0:
        return cut(link, limit)
    return f"{cut(text, room)}\n{link}" if text else link


class TelegramTransport(Transport):
    kind = "telegram"
    channel = "telegram"

    def __init__(self, *, token: str, webhook_secret: str, api_base: str, rate: int) -> None:
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ImproperlyConfigured("SAMPARK_TELEGRAM_BOT_TOKEN is not a bot token (<bot id>:<secret>).")
        if not _SECRET_RE.match(webhook_secret):
            raise ImproperlyConfigured(
                "SAMPARK_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -."
            )
        if rate < 1:
            raise ImproperlyConfigured("SAMPARK_TELEGRAM_RATE must be at least 1.")
        self.bot_id = match.group(1)
        self._token = token
        self._webhook_secret = webhook_secret
        self.api_base = api_base.rstrip("/")
        self._limit = Limit(rate)

    def __repr__(self) -> str:  # never the token
        return f"<TelegramTransport bot {self.bot_id}>"

    @classmethod
    def from_settings(cls, settings: Any) -> TelegramTransport | None:
        token = getattr(settings, "SAMPARK_TELEGRAM_BOT_TOKEN", "") or ""
        secret = getattr(settings, "SAMPARK_TELEGRAM_WEBHOOK_SECRET", "") or ""
        if not token and not secret:
            return None
        if not token or not secret:
            # Without the secret anyone could post forged updates (a fake STOP, say) to our webhook;
            # without the token we could receive but never send.
            raise ImproperlyConfigured(
                "Telegram needs both SAMPARK_TELEGRAM_BOT_TOKEN and SAMPARK_TELEGRAM_WEBHOOK_SECRET."
            )
        return cls(
            token=token,
            webhook_secret=secret,
            api_base=getattr(settings, "SAMPARK_TELEGRAM_API_BASE", "") or "https://api.telegram.org",
            rate=int(getattr(settings, "SAMPARK_TELEGRAM_RATE", 30)),
        )

    @property
    def sender(self) -> str:
        return f"tg:{self.bot_id}"

    @property
    def limit(self) -> Limit:
        return self._limit

    # The Bot API allows about one message per second to the same chat.
    per_recipient_seconds = 1.0

    def max_length(self) -> int:
        return MAX_TEXT

    def verify_secret(self, given: str) -> bool:
        """Whether a webhook request's ``X-Telegram-Bot-Api-Secret-Token`` is ours (constant time)."""
        return hmac.compare_digest(given.encode(), self._webhook_secret.encode())

    def request_for(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        """The Bot API method and JSON body that deliver ``message``."""
        if message.media_url:
            return "sendPhoto", {
                "chat_id": message.address,
                "photo": message.media_url,
                "caption": compose(message.text, message.link, MAX_CAPTION),
            }
        return "sendMessage", {
            "chat_id": message.address,
            "text": compose(message.text, message.link, MAX_TEXT),
            # A preview of the campaign link is the point of sending it; without one, Telegram would
            # preview whatever URL happens to be in the text.
            "link_preview_options": {"is_disabled": not message.link},
        }

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        method, payload = self.request_for(message)
        url = f"{self.api_base}/bot{self._token}/{method}"
        answer = await http.post(session, url, json=payload, service="Telegram")
        status, raw = answer.status, answer.body
        retry_header = answer.headers.get("Retry-After", "")
        body = _json_object(raw)
        if status == 200 and body.get("ok") is True:
            return _provider_id(body.get("result"), message.address)
        error = classify(status, body, retry_header=retry_header)
        logger.info(
            "telegram %s to chat %s failed: %s %s", method, mask(message.address), error.code, error.reason
        )
        raise error


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:  # an HTML error page from a proxy in front of the API, say
        return {}
    return data if isinstance(data, dict) else {}


def _provider_id(result: Any, address: str) -> str:
    if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
        # Telegram said ok but we cannot tell which message: treat as not sent rather than record an
        # id that matches no status.
        raise TransportError("Telegram's reply had no message id", permanent=False, code="bad_response")
    chat = result.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    # The numeric id from the reply, so a "@channel" address and the webhook's ids agree.
    return f"{chat_id if chat_id is not None else address}:{result['message_id']}"


def classify(status: int, body: dict[str, Any], *, retry_header: str = "") -> TransportError:
    """The :class:`TransportError` for a Bot API reply that was not ``ok``."""
    error_code = body.get("error_code")
    code = error_code if isinstance(error_code, int) else status
    description = str(body.get("description") or f"HTTP {status}")
    if code == 429:
        parameters = body.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if not isinstance(retry_after, int | float):
            retry_after = float(retry_header) if retry_header.isdigit() else None
        return TransportError(description, permanent=False, code="429", retry_after=retry_after)
    if code in (401, 404):
        # 401: the token was revoked or mistyped; 404: the bot path itself is unknown. Every message on
        # this bot fails the same way until an operator fixes the token.
        return TransportError(description, permanent=False, code=str(code), pause_sender=True)
    if 400 <= code < 500:
        return TransportError(description, permanent=True, code=str(code))
    return TransportError(description, permanent=False, code=str(code))
