"""Telegram webhook: ``POST /webhooks/telegram/`` with one Bot API ``Update`` per request.

Registered with ``setWebhook(url=…, secret_token=SAMPARK_TELEGRAM_WEBHOOK_SECRET)``; Telegram then
sends that secret in ``X-Telegram-Bot-Api-Secret-Token`` and a request without it is not from
Telegram (403, nothing handed on). Only text messages in private chats matter: they are people
writing to the bot, and the bot commands ``/start``, ``/stop`` and ``/help`` become the keywords
START, STOP and HELP that every channel shares. Everything else (edits, group chatter, photos,
member updates) is acknowledged and ignored, so Telegram does not redeliver it.
"""

from __future__ import annotations

import datetime
import json
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
    date = message.get("date")
    if not isinstance(chat_id, int) or not isinstance(message_id, int) or not isinstance(date, int):
        logger.warning("telegram update %s has a malformed message; ignored", update.get("update_id"))
        return None
    sender = message.get("from")
    if not isinstance(sender, dict):
        sender = {}
    name = " ".join(str(sender.get(part) or "") for part in ("first_name", "last_name")).strip()
    return events.InboundEvent(
        channel="telegram",
        address=str(chat_id),
        text=keyword_text(text),
        at=datetime.datetime.fromtimestamp(date, tz=datetime.UTC),
        provider_message_id=f"{chat_id}:{message_id}",
        name=name,
    )


@csrf_exempt
@require_POST
def telegram(request: HttpRequest) -> HttpResponse:
    transport = TelegramTransport.from_settings(settings)
    if transport is None:
        return JsonResponse({"error": "telegram is not configured"}, status=404)
    if not transport.verify_secret(request.headers.get(SECRET_HEADER, "")):
        return JsonResponse({"error": "bad secret token"}, status=403)
    try:
        update = json.loads(request.body)
    except ValueError:  # also covers bytes that are not UTF-8
        return JsonResponse({"error": "body is not JSON"}, status=400)
    if not isinstance(update, dict):
        return JsonResponse({"error": "body is not an Update object"}, status=400)
    event = parse_update(update)
    if event is not None:
        logger.debug(
            "telegram message %s from chat %s", event.provider_message_id.split(":")[-1], mask(event.address)
        )
        events.receiver().inbound(event)
    # Telegram only needs a 2xx; an empty object keeps it from reading the reply as a method call.
    return JsonResponse({})
