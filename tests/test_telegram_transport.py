"""Telegram: configuration, the Bot API calls, error classification against a fake API, and the webhook."""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from sampark.core.http import async_session
from sampark.transports import events, registry
from sampark.transports.base import Limit, Outgoing, TransportError
from sampark.transports.fakes.telegram import FakeTelegram, signed_update, update
from sampark.transports.telegram.transport import TelegramTransport

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "whsec_Telegram-0123"
CHAT = "987654321"


class RecordingReceiver:
    def __init__(self) -> None:
        self.status_events: list[events.StatusEvent] = []
        self.inbound_events: list[events.InboundEvent] = []

    def statuses(self, events: list[events.StatusEvent]) -> None:
        self.status_events.extend(events)

    def inbound(self, event: events.InboundEvent) -> None:
        self.inbound_events.append(event)


@pytest.fixture
def receiver():
    previous = events.receiver()
    recording = RecordingReceiver()
    events.set_receiver(recording)
    yield recording
    events.set_receiver(previous)


@pytest.fixture
def telegram_settings(settings):
    registry.reset()
    settings.SAMPARK_TELEGRAM_BOT_TOKEN = TOKEN
    settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.SAMPARK_TELEGRAM_API_BASE = "https://api.telegram.org"
    settings.SAMPARK_TELEGRAM_RATE = 30
    yield settings
    registry.reset()


def transport_for(url: str, token: str = TOKEN) -> TelegramTransport:
    return TelegramTransport(token=token, webhook_secret=SECRET, api_base=url, rate=30)


def send(transport: TelegramTransport, message: Outgoing, *, timeout_s: float = 5.0) -> str:
    async def go() -> str:
        async with async_session(total_timeout_s=timeout_s) as session:
            return await transport.send(session, message)

    return asyncio.run(go())


def failure(transport: TelegramTransport, message: Outgoing, *, timeout_s: float = 5.0) -> TransportError:
    with pytest.raises(TransportError) as caught:
        send(transport, message, timeout_s=timeout_s)
    return caught.value


def message(**fields) -> Outgoing:
    return Outgoing(**{"delivery_id": 1, "address": CHAT, "text": "नमस्ते! Rally at 5 pm.", **fields})


# --- configuration -------------------------------------------------------------------------------


def test_it_is_off_when_no_telegram_setting_is_given(settings):
    settings.SAMPARK_TELEGRAM_BOT_TOKEN = ""
    settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = ""
    assert TelegramTransport.from_settings(settings) is None


@pytest.mark.parametrize(("token", "secret"), [(TOKEN, ""), ("", SECRET)])
def test_it_refuses_to_start_half_configured(settings, token, secret):
    settings.SAMPARK_TELEGRAM_BOT_TOKEN = token
    settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = secret
    with pytest.raises(ImproperlyConfigured, match="both"):
        TelegramTransport.from_settings(settings)


@pytest.mark.parametrize(
    ("token", "secret"), [("not-a-token", SECRET), (TOKEN, "has spaces in it"), (TOKEN, "x" * 257)]
)
def test_it_refuses_a_malformed_token_or_secret(settings, token, secret):
    settings.SAMPARK_TELEGRAM_BOT_TOKEN = token
    settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = secret
    with pytest.raises(ImproperlyConfigured):
        TelegramTransport.from_settings(settings)


def test_it_names_the_sender_after_the_bot_and_takes_its_rate_from_settings(telegram_settings):
    telegram_settings.SAMPARK_TELEGRAM_RATE = 25
    transport = TelegramTransport.from_settings(telegram_settings)
    assert transport is not None
    assert (transport.kind, transport.channel) == ("telegram", "telegram")
    assert transport.sender == "tg:123456789"
    assert transport.limit == Limit(25)
    assert transport.max_length() == 4096
    assert TOKEN not in repr(transport)


# --- sending -------------------------------------------------------------------------------------


def test_it_posts_send_message_with_the_link_on_its_own_line():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        provider_id = send(transport_for(server.url), message(link="https://example.org/r/42"))
    [sent] = fake.sent
    assert sent.method == "sendMessage"
    assert sent.payload == {
        "chat_id": CHAT,
        "text": "नमस्ते! Rally at 5 pm.\nhttps://example.org/r/42",
        "link_preview_options": {"is_disabled": False},
    }
    assert provider_id == f"{CHAT}:1"


def test_it_disables_link_previews_when_there_is_no_link():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        send(transport_for(server.url), message())
    assert fake.sent[0].payload == {
        "chat_id": CHAT,
        "text": "नमस्ते! Rally at 5 pm.",
        "link_preview_options": {"is_disabled": True},
    }


def test_it_sends_a_photo_with_the_text_as_its_caption():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        provider_id = send(
            transport_for(server.url),
            message(
                media_url="https://example.org/poster.jpg", text="x" * 2000, link="https://example.org/r/1"
            ),
        )
    [sent] = fake.sent
    assert sent.method == "sendPhoto"
    assert set(sent.payload) == {"chat_id", "photo", "caption"}
    assert sent.payload["photo"] == "https://example.org/poster.jpg"
    caption = sent.payload["caption"]
    assert len(caption) == 1024
    assert caption.endswith("…\nhttps://example.org/r/1")
    assert provider_id == f"{CHAT}:1"


def test_it_cuts_long_text_to_4096_but_never_cuts_the_link():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        send(transport_for(server.url), message(text="क" * 5000, link="https://example.org/r/7"))
    text = fake.sent[0].payload["text"]
    assert len(text) == 4096
    assert text.endswith("क…\nhttps://example.org/r/7")


def test_it_counts_emoji_as_telegram_does_when_cutting():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        send(transport_for(server.url), message(text="🗳" * 3000))  # 6,000 UTF-16 units
    text = fake.sent[0].payload["text"]
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert text.endswith("…")


def test_it_returns_ids_that_are_unique_across_chats():
    fake = FakeTelegram(TOKEN)
    transport_ids = []
    with fake.serve() as server:
        transport = transport_for(server.url)
        for chat in ("111", "222", "111"):
            transport_ids.append(send(transport, message(address=chat)))
    # Telegram numbers messages per chat; the chat id keeps two chats' "message 1" apart.
    assert transport_ids == ["111:1", "222:1", "111:2"]


def test_it_obeys_telegrams_retry_after_on_flood():
    fake = FakeTelegram(TOKEN, faults=["flood"], retry_after=7)
    with fake.serve() as server:
        error = failure(transport_for(server.url), message())
    assert (error.permanent, error.code, error.retry_after, error.pause_sender) == (False, "429", 7, False)
    assert fake.sent == []


@pytest.mark.parametrize(("fault", "code"), [("server_error", "500"), ("bad_gateway", "502")])
def test_it_retries_server_errors(fault, code):
    fake = FakeTelegram(TOKEN, faults=[fault])
    with fake.serve() as server:
        error = failure(transport_for(server.url), message())
    assert (error.permanent, error.code, error.retry_after) == (False, code, None)


def test_it_retries_when_telegram_does_not_answer_in_time():
    fake = FakeTelegram(TOKEN, faults=["timeout"], hang_s=10)
    with fake.serve() as server:
        error = failure(transport_for(server.url), message(), timeout_s=0.3)
    assert (error.permanent, error.code) == (False, "timeout")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("blocked", "Forbidden: bot was blocked by the user"),
        ("deactivated", "Forbidden: user is deactivated"),
        ("chat_not_found", "Bad Request: chat not found"),
    ],
)
def test_it_gives_up_on_chats_that_cannot_receive(fault, reason):
    fake = FakeTelegram(TOKEN, faults=[fault])
    with fake.serve() as server:
        error = failure(transport_for(server.url), message())
    assert (error.permanent, error.reason, error.pause_sender) == (True, reason, False)


def test_it_pauses_the_sender_when_the_token_is_wrong():
    fake = FakeTelegram(TOKEN)
    with fake.serve() as server:
        error = failure(transport_for(server.url, token="123456789:revoked"), message())
    assert (error.code, error.pause_sender, error.permanent) == ("401", True, False)
    assert fake.requests == 1
    assert fake.sent == []


def test_it_retries_when_telegram_is_unreachable_and_keeps_the_token_out_of_errors_and_logs(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with caplog.at_level(logging.DEBUG):
        error = failure(transport_for(f"http://127.0.0.1:{port}"), message())
    assert (error.permanent, error.code) == (False, "network")
    assert TOKEN.split(":")[1] not in error.reason
    assert TOKEN.split(":")[1] not in caplog.text


def test_it_never_logs_the_token_or_the_whole_chat_id(caplog):
    fake = FakeTelegram(TOKEN, faults=["blocked"])
    with fake.serve() as server, caplog.at_level(logging.DEBUG):
        failure(transport_for(server.url), message())
    assert "blocked" in caplog.text
    assert CHAT not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


def test_it_follows_a_seeded_fault_plan_the_same_way_every_time():
    def outcomes() -> list[str]:
        fake = FakeTelegram(TOKEN, faults={"flood": 0.3, "blocked": 0.2}, seed=42)
        results = []
        with fake.serve() as server:
            transport = transport_for(server.url)
            for _ in range(12):
                try:
                    results.append(send(transport, message()))
                except TransportError as exc:
                    results.append(exc.code)
        return results

    first = outcomes()
    assert first == outcomes()
    assert {"429", "403"} <= set(first)


# --- webhook -------------------------------------------------------------------------------------


def post_update(client, body: dict, *, secret: str | None = SECRET):
    raw, headers = signed_update(secret or "", body)
    if secret is None:
        del headers["X-Telegram-Bot-Api-Secret-Token"]
    return client.post(
        reverse("webhooks:telegram"), data=raw, content_type="application/json", headers=headers
    )


def test_it_serves_the_webhook_under_webhooks_telegram():
    assert reverse("webhooks:telegram") == "/webhooks/telegram/"


def test_it_hands_a_private_message_to_the_receiver(client, telegram_settings, receiver):
    body = update(
        chat_id=555001,
        text="मुझे जानकारी चाहिए",
        message_id=17,
        date=1_767_225_600,
        first_name="Asha",
        last_name="Devi",
    )
    response = post_update(client, body)
    assert response.status_code == 200
    assert response.json() == {}
    assert receiver.inbound_events == [
        events.InboundEvent(
            channel="telegram",
            address="555001",
            text="मुझे जानकारी चाहिए",
            at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
            provider_message_id="555001:17",
            name="Asha Devi",
        )
    ]
    assert receiver.status_events == []


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("/start", "START"),
        ("/start@SamparkBot", "START"),
        ("/start ref-42", "START"),  # a deep link's payload
        ("/stop", "STOP"),
        ("/STOP", "STOP"),
        ("/help", "HELP"),
        ("/vote", "/vote"),  # not ours: passed on as written
    ],
)
def test_it_turns_bot_commands_into_keywords(client, telegram_settings, receiver, text, keyword):
    assert post_update(client, update(chat_id=555001, text=text)).status_code == 200
    assert [event.text for event in receiver.inbound_events] == [keyword]


@pytest.mark.parametrize("secret", ["wrong-secret", "", None])
def test_it_refuses_updates_without_our_secret(client, telegram_settings, receiver, secret):
    response = post_update(client, update(chat_id=555001, text="/stop"), secret=secret)
    assert response.status_code == 403
    assert receiver.inbound_events == []


def test_it_is_not_found_when_telegram_is_off(client, settings, receiver):
    settings.SAMPARK_TELEGRAM_BOT_TOKEN = ""
    settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = ""
    response = post_update(client, update(chat_id=555001, text="/stop"))
    assert response.status_code == 404
    assert receiver.inbound_events == []


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]"])
def test_it_rejects_a_body_that_is_not_an_update(client, telegram_settings, receiver, raw):
    response = client.post(
        reverse("webhooks:telegram"),
        data=raw,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 400
    assert receiver.inbound_events == []


@pytest.mark.parametrize(
    "body",
    [
        update(chat_id=555001, text="/stop", kind="edited_message"),
        update(chat_id=-100200300, text="/stop", chat_type="supergroup"),
        update(chat_id=-100200300, text="news", kind="channel_post", chat_type="channel"),
        {"update_id": 9, "my_chat_member": {"chat": {"id": 555001, "type": "private"}}},
        {"update_id": 10, "message": {"message_id": 3, "chat": {"id": 555001, "type": "private"}, "date": 1}},
    ],
    ids=["edit", "group", "channel-post", "member-update", "photo-without-text"],
)
def test_it_acknowledges_and_ignores_everything_but_private_text(client, telegram_settings, receiver, body):
    response = post_update(client, body)
    assert response.status_code == 200
    assert response.json() == {}
    assert receiver.inbound_events == []


def test_it_only_accepts_posts_on_the_webhook(client, telegram_settings, receiver):
    assert client.get(reverse("webhooks:telegram")).status_code == 405


def test_it_carries_the_telegram_channel_once_registered(telegram_settings, monkeypatch):
    monkeypatch.setitem(
        registry.TRANSPORTS, "telegram", "sampark.transports.telegram.transport.TelegramTransport"
    )
    registry.reset()
    assert isinstance(registry.for_channel("telegram"), TelegramTransport)
    telegram_settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = ""
    registry.reset()
    with pytest.raises(ImproperlyConfigured):
        registry.configured()
