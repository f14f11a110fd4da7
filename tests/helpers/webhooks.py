"""Posting to the three provider webhooks as the providers do: configured, signed or with the secret."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from sampark.transports.fakes.whatsapp import sign as whatsapp_signature
from sampark.transports.sms.webhook import signature as sms_signature

WHATSAPP_SECRET = "wa-app-secret"
TELEGRAM_SECRET = "tg_webhook-secret"
SMS_SECRET = "sms-dlr-secret"

SETTINGS = {
    "SAMPARK_WHATSAPP_TOKEN": "wa-token",
    "SAMPARK_WHATSAPP_PHONE_NUMBER_ID": "1122334455667",
    "SAMPARK_WHATSAPP_APP_SECRET": WHATSAPP_SECRET,
    "SAMPARK_WHATSAPP_VERIFY_TOKEN": "wa-verify",
    "SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED": "test",
    "SAMPARK_TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "SAMPARK_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
    "SAMPARK_SMS_GATEWAY_URL": "https://sms.example.in/v1/send",
    "SAMPARK_SMS_API_KEY": "sk_test_0123456789",
    "SAMPARK_SMS_SENDER_ID": "SMPRKB",
    "SAMPARK_SMS_DLT_ENTITY_ID": "1101234567890123456",
    "SAMPARK_SMS_WEBHOOK_SECRET": SMS_SECRET,
}


def configure(settings: Any) -> None:
    """WhatsApp, Telegram and SMS all configured (pytest-django's ``settings`` fixture)."""
    for name, value in SETTINGS.items():
        setattr(settings, name, value)


def encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


def post_whatsapp(client: Client, body: Any) -> Any:
    raw = encode(body)
    return client.post(
        "/webhooks/whatsapp/",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": whatsapp_signature(raw, WHATSAPP_SECRET)},
    )


def post_telegram(client: Client, body: Any) -> Any:
    return client.post(
        "/webhooks/telegram/",
        data=encode(body),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )


def post_sms(client: Client, body: Any) -> Any:
    raw = encode(body)
    return client.post(
        "/webhooks/sms/",
        data=raw,
        content_type="application/json",
        headers={"X-Signature": sms_signature(SMS_SECRET, raw)},
    )
