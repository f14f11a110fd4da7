"""Telegram webhook: ``POST /webhooks/telegram/`` with one Bot API ``Update`` per request.

Registered with ``setWebhook(url=…, secret_token=SAMPARK_TELEGRAM_WEBHOOK_SECRET)``; Telegram then
sends that secret in ``X-Telegram-Bot-Api-Secret-Token`` and a request without it is not from
Telegram (403, nothing handed on). Only text messages in private chats matter: they are people
writing to the bot, and the bot commands ``/start``, ``/stop`` and ``/help`` become the keywords
START, STOP and HELP that every channel shares. Everything else (edits, group chatter, photos,
member updates) is acknowledged and ignored, so Telegram does not redeliver it.

Bad input: a body that is not JSON, is nested too deeply, or is not an object gets 400 with the reason.
An Update object whose message we cannot read (an id that is not an integer, a ``date`` no calendar
holds such as 10^20) is logged and acknowledged with 200, not refused: Telegram redelivers refused
updates and holds the bot's later ones back meanwhile, and this one would never read better — one
malformed update must not delay somebody else's STOP.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sampark.transports import events

from .transport import TelegramTransport, mask

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)

# Bot commands -> the keywords the messaging app acts on for every channel.
COMMANDS = {"/start": "START", "/stop": "STOP", "/help": "HELP"}


def keyword_text(text: str) -> str:
    """``text`` with a leading bot command replaced by its keyword.

    ``/start``, ``/start@SamparkBot`` and a deep link's ``/start <payload>`` all become "START";
    other text (and unknown commands) pass through unchanged.
    """
    first, _, _rest = text.strip().partition(" ")
    command = first.split("@", 1)[0].lower()
    return COMMANDS.get(command, text)


def parse_update(update: dict[str, Any]) -> events.InboundEvent | None:
    """The inbound message an Update carries, or None when it is nothing we act on."""
    message = update.get("message")  # "edited_message" is deliberately not read: an edit is not new
    if not isinstance(message, dict):
        return None
    chat = message.get("chat")
    text = message.get("text")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(text, str):
        return None
    chat_id = chat.get("id")
    message_id = message.get("message_id")
    at = events.from_unix(message.get("date"))
    if not _is_int(chat_id) or not _is_int(message_id) or at is None:
        logger.warning("telegram update %s has a malformed message; ignored", _update_id(update))
        return None
    sender = message.get("from")
    if not isinstance(sender, dict):
        sender = {}
    name = " ".join(_str(sender.get(part)) for part in ("first_name", "last_name")).strip()
    return events.InboundEvent(
        channel="telegram",
        address=str(chat_id),
        text=keyword_text(text),
        at=at,
        provider_message_id=f"{chat_id}:{message_id}",
        name=name,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _update_id(update: dict[str, Any]) -> str:
    """The update's id for a log line: digits only, bounded (the body is the sender's, not ours)."""
    value = update.get("update_id")
    return str(value)[:20] if _is_int(value) else "?"


@csrf_exempt
@require_POST
def telegram(request: HttpRequest) -> HttpResponse:
    transport = TelegramTransport.from_settings(settings)
    if transport is None:
        return JsonResponse({"error": "telegram is not configured"}, status=404)
    if not transport.verify_secret(request.headers.get(SECRET_HEADER, "")):
        return JsonResponse({"error": "bad secret token"}, status=403)
    try:
        update = events.decode_json(request.body)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if not isinstance(update, dict):
        return JsonResponse({"error": "body is not an Update object"}, status=400)
    event = parse_update(update)
    if event is not None:
        logger.debug(
            "telegram message %s from chat %s", event.provider_message_id.split(":")[-1], mask(event.address)
        )
        events.receiver().inbound(event)
    # Telegram only needs a 2xx; an empty object keeps it from reading the reply as a method call.
    return HttpResponse(events.EMPTY_JSON, content_type="application/json")
