"""The WhatsApp Cloud API transport against the fake Cloud API: payloads, failures, configuration."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from sampark.core import http
from sampark.transports import registry
from sampark.transports.base import Limit, Outgoing, TransportError
from sampark.transports.fakes.server import LocalServer
from sampark.transports.fakes.whatsapp import FakeWhatsApp
from sampark.transports.whatsapp import transport as wa
from sampark.transports.whatsapp.transport import POLICY_WARNING, WhatsApp, classify

TOKEN = "test-token"
NUMBER_ID = "1122334455667"
CLASS_PATH = "sampark.transports.whatsapp.transport.WhatsApp"


def _transport(url: str, *, token: str = TOKEN, number_id: str = NUMBER_ID) -> WhatsApp:
    return WhatsApp(
        token=token,
        phone_number_id=number_id,
        app_secret="app-secret",
        verify_token="verify",
        api_base=f"{url}/v23.0",
    )


@contextmanager
def _serving(fake: FakeWhatsApp) -> Iterator[str]:
    with LocalServer(fake.app) as server:
        yield server.url


def _send(transport: WhatsApp, message: Outgoing, *, timeout_s: float = 5.0) -> str:
    async def go() -> str:
        async with http.async_session(total_timeout_s=timeout_s) as session:
            return await transport.send(session, message)

    return asyncio.run(go())


def _failure(transport: WhatsApp, message: Outgoing, *, timeout_s: float = 5.0) -> TransportError:
    with translation.override("en"), pytest.raises(TransportError) as caught:
        _send(transport, message, timeout_s=timeout_s)
    return caught.value


def _msg(**fields) -> Outgoing:
    return Outgoing(**{"delivery_id": 1, "address": "+919876543210", "text": "नमस्ते", **fields})


# --- payloads ---------------------------------------------------------------------------------------------


def test_it_sends_text_with_the_link_on_its_own_line_and_returns_the_wamid():
    fake = FakeWhatsApp(token=TOKEN, phone_number_id=NUMBER_ID)
    with _serving(fake) as url:
        wamid = _send(_transport(url), _msg(text="कल रैली है", link="https://example.org/r/1"))

    [received] = fake.accepted
    assert wamid == received.wamid and wamid.startswith("wamid.")
    assert received.payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "text",
        "text": {"body": "कल रैली है\nhttps://example.org/r/1", "preview_url": True},
    }


def test_it_sends_plain_text_without_a_link_preview():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        _send(_transport(url), _msg(text="Hello"))

    assert fake.accepted[0].payload["text"] == {"body": "Hello", "preview_url": False}


def test_it_sends_a_template_with_body_parameters():
    fake = FakeWhatsApp(token=TOKEN)
    message = _msg(template_name="rally_invite", template_language="hi", template_params=("राम", "पटना"))
    with _serving(fake) as url:
        _send(_transport(url), message)

    assert fake.accepted[0].payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "template",
        "template": {
            "name": "rally_invite",
            "language": {"code": "hi"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "राम"}, {"type": "text", "text": "पटना"}],
                }
            ],
        },
    }


def test_it_omits_template_components_without_parameters_and_falls_back_to_the_message_language():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        _send(_transport(url), _msg(template_name="hello_world", language="en"))

    assert fake.accepted[0].payload["template"] == {"name": "hello_world", "language": {"code": "en"}}


def test_it_sends_an_image_with_the_text_as_caption():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        _send(_transport(url), _msg(text="पोस्टर", media_url="https://example.org/p.jpg"))

    assert fake.accepted[0].payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "image",
        "image": {"link": "https://example.org/p.jpg", "caption": "पोस्टर"},
    }


def test_it_sends_an_image_without_caption_when_there_is_no_text():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        _send(_transport(url), _msg(text="", media_url="https://example.org/p.jpg"))

    assert fake.accepted[0].payload["image"] == {"link": "https://example.org/p.jpg"}


def test_it_cuts_long_text_at_a_word_and_keeps_the_link_whole():
    fake = FakeWhatsApp(token=TOKEN)
    link = "https://example.org/r/1"
    text = "जय हिंद " * 1000
    with _serving(fake) as url:
        _send(_transport(url), _msg(text=text, link=link))

    body = fake.accepted[0].payload["text"]["body"]
    head = body.removesuffix("…\n" + link)
    assert len(body) <= 4096 and len(body) > 4000
    assert head != body
    assert text.startswith(head + " ")  # cut between words, never inside one


def test_it_cuts_a_long_caption_to_1024_characters():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        _send(_transport(url), _msg(text="क" * 2000, media_url="https://example.org/p.jpg"))

    caption = fake.accepted[0].payload["image"]["caption"]
    assert caption == "क" * 1023 + "…"


def test_it_refuses_an_address_that_is_not_a_phone_number_without_calling_whatsapp():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        error = _failure(_transport(url), _msg(address="@someone"))

    assert (error.permanent, error.code) == (True, "address")
    assert fake.received == []


# --- failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "permanent", "pause_sender", "retry_after"),
    [
        ("throughput", "130429", False, False, 1.0),
        ("pair_rate", "131056", False, False, 6.0),
        ("spam", "131048", False, True, None),
        ("marketing_limit", "131049", False, False, 86400.0),
        ("reengagement", "131047", True, False, None),
        ("undeliverable", "131026", True, False, None),
        ("server_error", "http_500", False, False, None),
        ("graph_unavailable", "2", False, False, None),
        ("http_429", "http_429", False, False, 2.0),
    ],
)
def test_it_classifies_each_fault_of_the_cloud_api(kind, code, permanent, pause_sender, retry_after):
    fake = FakeWhatsApp(token=TOKEN, faults=lambda number, payload: kind, retry_after_s=2)
    with _serving(fake) as url:
        error = _failure(_transport(url), _msg())

    assert (error.code, error.permanent, error.pause_sender, error.retry_after) == (
        code,
        permanent,
        pause_sender,
        retry_after,
    )
    assert fake.accepted == [] and fake.fault_counts() == {kind: 1}


def test_it_says_a_template_is_needed_outside_the_24_hour_window():
    fake = FakeWhatsApp(token=TOKEN, faults=lambda number, payload: "reengagement")
    with _serving(fake) as url:
        error = _failure(_transport(url), _msg())

    assert "template" in error.reason


def test_it_pauses_the_sender_with_a_clear_reason_when_the_token_is_refused():
    fake = FakeWhatsApp(token=TOKEN)
    with _serving(fake) as url:
        error = _failure(_transport(url, token="expired"), _msg())

    assert (error.code, error.permanent, error.pause_sender) == ("190", False, True)
    assert "SAMPARK_WHATSAPP_TOKEN" in error.reason
    assert fake.received == []


def test_it_treats_a_hanging_cloud_api_as_transient():
    fake = FakeWhatsApp(token=TOKEN, faults=lambda number, payload: "timeout", hang_s=10)
    with _serving(fake) as url:
        error = _failure(_transport(url), _msg(), timeout_s=0.3)

    assert (error.code, error.permanent, error.pause_sender) == ("timeout", False, False)


def test_it_treats_a_refused_connection_as_transient():
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = _failure(_transport(f"http://127.0.0.1:{port}"), _msg())

    assert (error.code, error.permanent) == ("network", False)


def test_it_keeps_the_provider_message_of_other_refusals_without_digits_that_may_be_phone_numbers():
    fake = FakeWhatsApp(token=TOKEN, phone_number_id=NUMBER_ID)
    with _serving(fake) as url:
        error = _failure(_transport(url, number_id="9876543210"), _msg())

    assert (error.code, error.permanent, error.pause_sender) == ("100", True, False)
    assert "Unsupported post request" in error.reason
    assert "9876543210" not in error.reason


def test_it_classifies_by_pywa_family_when_our_table_has_no_rule():
    permission = b'{"error":{"message":"(#10) Permission denied","type":"OAuthException","code":10}}'
    country = b'{"error":{"message":"Restricted from messaging users in this country","code":130497}}'
    throttled = b'{"error":{"message":"Too many registrations","code":133016}}'
    unknown_transient = b'{"error":{"message":"Try later","code":987654,"is_transient":true}}'

    assert (classify(400, permission, {}).pause_sender, classify(400, permission, {}).permanent) == (
        True,
        False,
    )
    assert (classify(400, country, {}).permanent, classify(400, country, {}).pause_sender) == (True, False)
    assert classify(400, throttled, {}).permanent is False
    assert classify(400, unknown_transient, {}).permanent is False


def test_it_honours_a_longer_retry_after_header_than_its_own_wait():
    body = b'{"error":{"message":"(#130429) Rate limit hit","code":130429}}'

    assert classify(400, body, {"Retry-After": "5"}).retry_after == 5.0
    assert classify(429, b"slow down", {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}).retry_after == 0.0
    assert classify(429, b"slow down", {}).retry_after is None


def test_it_treats_an_unexplained_client_error_as_permanent():
    with translation.override("en"):
        error = classify(404, b"<html>Not Found</html>", {})

    assert (error.code, error.permanent, error.reason) == (
        "http_404",
        True,
        "WhatsApp refused this message (HTTP 404).",
    )


def test_the_fake_serves_the_same_faults_for_the_same_seed():
    def run(seed: int) -> list[int]:
        fake = FakeWhatsApp(token=TOKEN, faults={"throughput": 0.3}, seed=seed)
        with _serving(fake) as url:
            transport = _transport(url)
            for _ in range(30):
                with suppress(TransportError):
                    _send(transport, _msg())
        return [r.number for r in fake.received if r.fault]

    first = run(7)
    assert first == run(7)
    assert 0 < len(first) < 30
    assert first != run(8)


def test_the_fake_refuses_a_request_without_messaging_product():
    fake = FakeWhatsApp(token=TOKEN)

    async def go() -> tuple[int, dict]:
        with _serving(fake) as url:
            async with http.async_session() as session:
                response = await session.post(
                    f"{url}/v23.0/{NUMBER_ID}/messages",
                    json={"to": "919876543210", "type": "text", "text": {"body": "x"}},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                return response.status, await response.json()

    status, body = asyncio.run(go())
    assert status == 400 and body["error"]["code"] == 100
    assert fake.received == []


# --- configuration ----------------------------------------------------------------------------------------

COMPLETE = {
    "SAMPARK_WHATSAPP_TOKEN": "token",
    "SAMPARK_WHATSAPP_PHONE_NUMBER_ID": NUMBER_ID,
    "SAMPARK_WHATSAPP_APP_SECRET": "secret",
    "SAMPARK_WHATSAPP_VERIFY_TOKEN": "verify",
    "SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED": "Eligibility confirmed by counsel, 2026-01-05",
}


@pytest.fixture
def whatsapp_settings(settings, monkeypatch):
    """Settings with no WhatsApp configured, and the registry listing WhatsApp; tests fill in values."""
    for name in COMPLETE:
        setattr(settings, name, "")
    monkeypatch.setitem(registry.TRANSPORTS, "whatsapp", CLASS_PATH)
    registry.reset()
    yield settings
    registry.reset()


def test_it_is_off_when_no_whatsapp_setting_is_given(whatsapp_settings):
    assert WhatsApp.from_settings(whatsapp_settings) is None
    assert not isinstance(registry.for_channel("whatsapp"), WhatsApp)


def test_it_refuses_to_start_half_configured_and_names_what_is_missing(whatsapp_settings):
    whatsapp_settings.SAMPARK_WHATSAPP_TOKEN = "token"
    whatsapp_settings.SAMPARK_WHATSAPP_PHONE_NUMBER_ID = NUMBER_ID

    with pytest.raises(ImproperlyConfigured) as caught:
        WhatsApp.from_settings(whatsapp_settings)

    message = str(caught.value)
    assert "SAMPARK_WHATSAPP_APP_SECRET" in message and "SAMPARK_WHATSAPP_VERIFY_TOKEN" in message
    assert "SAMPARK_WHATSAPP_TOKEN," not in message


def test_it_refuses_to_start_without_the_eligibility_attestation(whatsapp_settings):
    for name, value in COMPLETE.items():
        setattr(whatsapp_settings, name, value)
    whatsapp_settings.SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED = "  "

    with pytest.raises(ImproperlyConfigured) as caught:
        WhatsApp.from_settings(whatsapp_settings)

    assert "Business Messaging Policy" in str(caught.value)
    assert "SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED" in str(caught.value)


def test_it_builds_the_sender_of_a_complete_configuration(whatsapp_settings):
    for name, value in COMPLETE.items():
        setattr(whatsapp_settings, name, value)
    whatsapp_settings.SAMPARK_WHATSAPP_RATE = 250
    whatsapp_settings.SAMPARK_WHATSAPP_API_BASE = "http://127.0.0.1:1/v23.0/"

    transport = registry.for_channel("whatsapp")

    assert isinstance(transport, WhatsApp)
    assert (transport.sender, transport.limit) == (f"wa:{NUMBER_ID}", Limit(250))
    assert transport.url == f"http://127.0.0.1:1/v23.0/{NUMBER_ID}/messages"
    assert (transport.app_secret, transport.verify_token) == ("secret", "verify")
    assert transport.max_length() == 4096
    assert "token" not in repr(transport) and "secret" not in repr(transport)


@pytest.mark.parametrize("rate", [0, 1001, "80"])
def test_it_refuses_a_rate_outside_one_to_a_thousand(whatsapp_settings, rate):
    for name, value in COMPLETE.items():
        setattr(whatsapp_settings, name, value)
    whatsapp_settings.SAMPARK_WHATSAPP_RATE = rate

    with pytest.raises(ImproperlyConfigured, match="SAMPARK_WHATSAPP_RATE"):
        WhatsApp.from_settings(whatsapp_settings)


def test_it_refuses_a_phone_number_in_place_of_the_phone_number_id(whatsapp_settings):
    for name, value in COMPLETE.items():
        setattr(whatsapp_settings, name, value)
    whatsapp_settings.SAMPARK_WHATSAPP_PHONE_NUMBER_ID = "+91 98765 43210"

    with pytest.raises(ImproperlyConfigured, match="PHONE_NUMBER_ID"):
        WhatsApp.from_settings(whatsapp_settings)


def test_it_offers_the_policy_warning_as_translatable_text():
    with translation.override("en"):
        assert str(POLICY_WARNING).startswith("WhatsApp's Business Messaging Policy may exclude political")


def test_it_masks_phone_like_digit_runs_in_provider_text():
    assert wa.scrub("Recipient +91 98765-43210 blocked; code 131026") == "Recipient … blocked; code 131026"
