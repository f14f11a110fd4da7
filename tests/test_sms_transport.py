"""SMS: configuration, DLT fields, TRAI's promotional window, segments, error classification against a
fake gateway, and the delivery-report webhook."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from sampark.core.http import async_session
from sampark.transports import events, registry
from sampark.transports.base import Limit, Outgoing, TransportError
from sampark.transports.fakes.sms import FakeSmsGateway, inbound, report, signed_body
from sampark.transports.sms.transport import (
    SmsTransport,
    needs_unicode,
    next_window_start,
    promotional_window_open,
    retry_after_seconds,
    sms_segments,
)

IST = ZoneInfo("Asia/Kolkata")
KEY = "sk_live_0123456789"
SECRET = "dlr-secret-xyz"
NOON = datetime.datetime(2026, 11, 5, 12, 0, tzinfo=IST)

SETTINGS = {
    "SAMPARK_SMS_GATEWAY_URL": "https://sms.example.in/v1/send",
    "SAMPARK_SMS_API_KEY": KEY,
    "SAMPARK_SMS_SENDER_ID": "SMPRKB",
    "SAMPARK_SMS_DLT_ENTITY_ID": "1101234567890123456",
    "SAMPARK_SMS_WEBHOOK_SECRET": SECRET,
}


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
def sms_settings(settings):
    registry.reset()
    for name, value in SETTINGS.items():
        setattr(settings, name, value)
    yield settings
    registry.reset()


@pytest.fixture
def no_sms_settings(settings):
    registry.reset()
    for name in SETTINGS:
        setattr(settings, name, "")
    yield settings
    registry.reset()


def transport_for(url: str, *, key: str = KEY, now: datetime.datetime = NOON) -> SmsTransport:
    return SmsTransport(
        gateway_url=url,
        api_key=key,
        sender_id="SMPRKB",
        dlt_entity_id="1101234567890123456",
        webhook_secret=SECRET,
        rate=100,
        clock=lambda: now,
    )


def send(transport: SmsTransport, message: Outgoing, *, timeout_s: float = 5.0) -> str:
    async def go() -> str:
        async with async_session(total_timeout_s=timeout_s) as session:
            return await transport.send(session, message)

    return asyncio.run(go())


def failure(transport: SmsTransport, message: Outgoing, *, timeout_s: float = 5.0) -> TransportError:
    with pytest.raises(TransportError) as caught:
        send(transport, message, timeout_s=timeout_s)
    return caught.value


def message(**fields) -> Outgoing:
    return Outgoing(
        **{
            "delivery_id": 1,
            "address": "+919876543210",
            "text": "Rally at Gandhi Maidan 5 pm",
            "dlt_template_id": "1107161234567890123",
            **fields,
        }
    )


# --- configuration -------------------------------------------------------------------------------


def test_it_is_off_when_no_sms_setting_is_given(no_sms_settings):
    assert SmsTransport.from_settings(no_sms_settings) is None


@pytest.mark.parametrize("missing", list(SETTINGS))
def test_it_refuses_to_start_with_any_one_setting_missing(sms_settings, missing):
    setattr(sms_settings, missing, "")
    with pytest.raises(ImproperlyConfigured, match=missing):
        SmsTransport.from_settings(sms_settings)


@pytest.mark.parametrize("only", list(SETTINGS))
def test_it_refuses_to_start_with_only_one_setting_given(no_sms_settings, only):
    setattr(no_sms_settings, only, SETTINGS[only])
    with pytest.raises(ImproperlyConfigured):
        SmsTransport.from_settings(no_sms_settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("SAMPARK_SMS_GATEWAY_URL", "sms.example.in/send"), ("SAMPARK_SMS_PROMO_HOURS", (21, 9))],
)
def test_it_refuses_settings_it_cannot_use(sms_settings, name, value):
    setattr(sms_settings, name, value)
    with pytest.raises(ImproperlyConfigured):
        SmsTransport.from_settings(sms_settings)


def test_it_names_the_sender_after_the_dlt_header_and_takes_its_rate_from_settings(sms_settings):
    sms_settings.SAMPARK_SMS_RATE = 40
    transport = SmsTransport.from_settings(sms_settings)
    assert transport is not None
    assert (transport.kind, transport.channel) == ("sms", "sms")
    assert transport.sender == "sms:SMPRKB"
    assert transport.limit == Limit(40)
    assert transport.max_length() is None  # DLT templates fix the text; cutting it would get it blocked
    assert KEY not in repr(transport)


# --- sending -------------------------------------------------------------------------------------


def test_it_posts_the_dlt_fields_to_the_gateway():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        provider_id = send(transport_for(server.url + "/send"), message(link="https://ex.in/r/9"))
    [accepted] = gateway.sent
    assert accepted.payload == {
        "to": "919876543210",
        "sender": "SMPRKB",
        "text": "Rally at Gandhi Maidan 5 pm https://ex.in/r/9",
        "dlt_entity_id": "1101234567890123456",
        "dlt_template_id": "1107161234567890123",
        "type": "promotional",
        "unicode": False,
    }
    assert provider_id == accepted.id == "fake-sms-1"


def test_it_sends_hindi_as_unicode_and_transactional_when_asked():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        send(
            transport_for(server.url + "/send"),
            message(text="आज शाम 5 बजे सभा", promotional=False, dlt_entity_id="1109999999999999999"),
        )
    payload = gateway.sent[0].payload
    assert (payload["unicode"], payload["type"], payload["text"]) == (
        True,
        "transactional",
        "आज शाम 5 बजे सभा",
    )
    assert payload["dlt_entity_id"] == "1109999999999999999"  # the message's own entity id wins


def test_it_refuses_a_message_without_a_dlt_template_before_calling_the_gateway():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message(dlt_template_id=""))
    assert (error.permanent, error.code) == (True, "dlt_template_missing")
    assert gateway.requests == 0


def test_it_refuses_an_address_that_is_not_e164():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message(address="9876543210"))
    assert (error.permanent, error.code) == (True, "bad_address")
    assert gateway.requests == 0


@pytest.mark.parametrize(
    ("now", "wait_s"),
    [
        (datetime.datetime(2026, 11, 5, 21, 0, tzinfo=IST), 12 * 3600),
        (datetime.datetime(2026, 11, 5, 23, 30, tzinfo=IST), 9.5 * 3600),
        (datetime.datetime(2026, 11, 6, 8, 59, 30, tzinfo=IST), 30),
    ],
)
def test_it_holds_promotional_sms_until_the_window_opens(now, wait_s):
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send", now=now), message())
    assert (error.permanent, error.code, error.retry_after) == (False, "promo_window", wait_s)
    assert gateway.requests == 0


def test_it_sends_transactional_sms_outside_the_promotional_window():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        night = datetime.datetime(2026, 11, 5, 23, 30, tzinfo=IST)
        send(transport_for(server.url + "/send", now=night), message(promotional=False))
    assert len(gateway.sent) == 1


def test_it_honours_retry_after_when_the_gateway_throttles():
    gateway = FakeSmsGateway(KEY, faults=["throttle"], retry_after=4)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message())
    assert (error.permanent, error.code, error.retry_after) == (False, "429", 4)


@pytest.mark.parametrize(("fault", "code"), [("server_error", "500"), ("unavailable", "503")])
def test_it_retries_gateway_errors(fault, code):
    gateway = FakeSmsGateway(KEY, faults=[fault])
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message())
    assert (error.permanent, error.code) == (False, code)


def test_it_retries_when_the_gateway_does_not_answer_in_time():
    gateway = FakeSmsGateway(KEY, faults=["timeout"], hang_s=10)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message(), timeout_s=0.3)
    assert (error.permanent, error.code) == (False, "timeout")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("invalid_number", "invalid destination number"),
        ("dlt_rejected", "DLT template not registered for this sender"),
    ],
)
def test_it_gives_up_on_messages_the_gateway_refuses(fault, reason):
    gateway = FakeSmsGateway(KEY, faults=[fault])
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send"), message())
    assert (error.permanent, error.code, error.reason) == (True, "400", reason)


def test_it_pauses_the_sender_when_the_api_key_is_wrong():
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        error = failure(transport_for(server.url + "/send", key="sk_revoked"), message())
    assert (error.code, error.pause_sender, error.reason) == ("401", True, "invalid api key")
    assert gateway.sent == []


def test_it_reads_retry_after_as_seconds_or_an_http_date():
    now = datetime.datetime(2026, 11, 5, 6, 0, tzinfo=datetime.UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Thu, 05 Nov 2026 06:01:30 GMT", now=now) == 90
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("") is None


# --- TRAI window (local time: Asia/Kolkata) --------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        ((8, 59, 59), False),
        ((9, 0, 0), True),
        ((14, 0, 0), True),
        ((20, 59, 59), True),
        ((21, 0, 0), False),
        ((2, 0, 0), False),
    ],
)
def test_it_opens_the_promotional_window_from_nine_to_twenty_one(local, is_open):
    now = datetime.datetime.combine(datetime.date(2026, 11, 5), datetime.time(*local), tzinfo=IST)
    assert promotional_window_open(now, (9, 21)) is is_open


def test_it_judges_the_window_in_local_time_whatever_zone_now_is_in():
    assert promotional_window_open(datetime.datetime(2026, 11, 5, 3, 30, tzinfo=datetime.UTC))  # 09:00 IST
    assert not promotional_window_open(datetime.datetime(2026, 11, 5, 3, 29, tzinfo=datetime.UTC))
    assert not promotional_window_open(datetime.datetime(2026, 11, 5, 15, 30, tzinfo=datetime.UTC))  # 21:00


def test_it_takes_the_window_from_settings_unless_given(settings):
    settings.SAMPARK_SMS_PROMO_HOURS = (10, 20)
    assert not promotional_window_open(datetime.datetime(2026, 11, 5, 9, 30, tzinfo=IST))
    assert promotional_window_open(datetime.datetime(2026, 11, 5, 9, 30, tzinfo=IST), (9, 21))


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime.datetime(2026, 11, 5, 2, 0), datetime.datetime(2026, 11, 5, 9, 0)),
        (datetime.datetime(2026, 11, 5, 8, 59, 59), datetime.datetime(2026, 11, 5, 9, 0)),
        (datetime.datetime(2026, 11, 5, 12, 15), datetime.datetime(2026, 11, 5, 12, 15)),  # open: now
        (datetime.datetime(2026, 11, 5, 21, 0), datetime.datetime(2026, 11, 6, 9, 0)),
        (datetime.datetime(2026, 12, 31, 23, 0), datetime.datetime(2027, 1, 1, 9, 0)),
    ],
)
def test_it_finds_the_next_window_start(local, expected):
    start = next_window_start(local.replace(tzinfo=IST), (9, 21))
    assert start == expected.replace(tzinfo=IST)
    assert start.utcoffset() == datetime.timedelta(hours=5, minutes=30)


def test_it_refuses_a_naive_time_for_the_window():
    with pytest.raises(ValueError, match="aware"):
        promotional_window_open(datetime.datetime(2026, 11, 5, 12, 0), (9, 21))


# --- segments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extension characters take two septets
        ("{" * 81, 2),
        ("a" * 69 + "€", 1),  # "€" is not ASCII: the message goes as UCS-2, 70 to a part
        ("a" * 152 + "€", 3),
    ],
)
def test_it_counts_english_sms_parts(text, parts):
    assert sms_segments(text) == parts


@pytest.mark.parametrize(("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_it_counts_hindi_sms_parts(length, parts):
    text = ("मतदान करें " * 20)[:length]
    assert len(text) == length
    assert sms_segments(text) == parts


def test_it_sends_text_as_unicode_only_when_gsm7_cannot_carry_it():
    assert not needs_unicode("Vote on 7 Nov [booth 12] ~ 5pm")
    assert needs_unicode("मतदान करें")
    assert needs_unicode("`quoted`")  # the one ASCII character GSM-7 lacks
    assert needs_unicode("café")  # non-ASCII GSM letters are mapped differently by gateways


def test_it_never_splits_a_surrogate_pair_between_parts():
    assert sms_segments("🗳" * 35) == 1  # 70 UTF-16 units
    # 134 units would fit two parts of 67, but the emoji after 66 units cannot straddle the boundary.
    assert sms_segments("a" * 66 + "🗳" * 34) == 3


# --- webhook -------------------------------------------------------------------------------------


def post(client, raw: bytes, headers: dict[str, str]):
    return client.post(reverse("webhooks:sms"), data=raw, content_type="application/json", headers=headers)


def test_it_serves_the_webhook_under_webhooks_sms():
    assert reverse("webhooks:sms") == "/webhooks/sms/"


def test_it_turns_delivery_reports_into_statuses(client, sms_settings, receiver):
    raw, headers = signed_body(
        SECRET,
        reports=[
            report("g-1", "DELIVRD", at=1_767_225_600),
            report("g-2", "SENT", at=1_767_225_601),
            report("g-3", "UNDELIV", at=1_767_225_602, error="subscriber absent"),
            report("g-4", "EXPIRED", at=1_767_225_603),
            report("g-5", "REJECTD", at=1_767_225_604, error="DND"),
        ],
    )
    response = post(client, raw, headers)
    assert response.status_code == 200
    assert response.json() == {}
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    second = datetime.timedelta(seconds=1)
    assert receiver.status_events == [
        events.StatusEvent("sms", "g-1", "delivered", at),
        events.StatusEvent("sms", "g-2", "sent", at + second),
        events.StatusEvent("sms", "g-3", "failed", at + 2 * second, "UNDELIV", "subscriber absent"),
        events.StatusEvent("sms", "g-4", "failed", at + 3 * second, "EXPIRED", "EXPIRED"),
        events.StatusEvent("sms", "g-5", "failed", at + 4 * second, "REJECTD", "DND"),
    ]


def test_it_hands_inbound_sms_to_the_receiver(client, sms_settings, receiver):
    raw, headers = signed_body(SECRET, inbound=[inbound("919876543210", "रोकें", at=1_767_225_600, id="mo-7")])
    assert post(client, raw, headers).status_code == 200
    assert receiver.inbound_events == [
        events.InboundEvent(
            channel="sms",
            address="+919876543210",
            text="रोकें",
            at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
            provider_message_id="mo-7",
        )
    ]


def test_it_checks_the_signature_over_the_raw_bytes(client, sms_settings, receiver):
    # Hindi sent unescaped: re-encoding the JSON (\\u escapes) would change the bytes and the signature.
    raw = json.dumps({"inbound": [inbound("919876543210", "मदद")]}, ensure_ascii=False).encode()
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert post(client, raw, {"X-Signature": signature}).status_code == 200
    assert [event.text for event in receiver.inbound_events] == ["मदद"]


@pytest.mark.parametrize("signature", ["0" * 64, "not-hex", "", None, "signed-with-another-secret"])
def test_it_refuses_reports_without_a_valid_signature(client, sms_settings, receiver, signature):
    raw, headers = signed_body(SECRET, reports=[report("g-1", "DELIVRD")])
    if signature is None:
        del headers["X-Signature"]
    elif signature == "signed-with-another-secret":
        headers = signed_body("another", reports=[report("g-1", "DELIVRD")])[1]
    else:
        headers["X-Signature"] = signature
    assert post(client, raw, headers).status_code == 403
    assert receiver.status_events == []


def test_it_refuses_a_signature_of_a_different_body(client, sms_settings, receiver):
    _raw, headers = signed_body(SECRET, reports=[report("g-1", "DELIVRD")])
    forged, _ = signed_body(SECRET, reports=[report("g-1", "UNDELIV")])
    assert post(client, forged, headers).status_code == 403
    assert receiver.status_events == []


def test_it_is_not_found_when_sms_is_off(client, no_sms_settings, receiver):
    raw, headers = signed_body(SECRET, reports=[report("g-1", "DELIVRD")])
    assert post(client, raw, headers).status_code == 404
    assert receiver.status_events == []


@pytest.mark.parametrize("raw", [b"{oops", b"[]", b'{"reports": {"id": "g-1"}}'])
def test_it_rejects_a_signed_body_that_is_not_the_contract(client, sms_settings, receiver, raw):
    headers = {"X-Signature": hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()}
    assert post(client, raw, headers).status_code == 400
    assert receiver.status_events == []


def test_it_skips_malformed_entries_and_keeps_the_rest(client, sms_settings, receiver):
    raw, headers = signed_body(
        SECRET,
        reports=[
            {"status": "DELIVRD"},
            report("g-2", "DELIVRD"),
            {"id": "g-3", "status": "DELIVRD", "at": "noon"},
        ],
        inbound=[inbound("not-a-number", "STOP"), inbound("919876543210", "STOP")],
    )
    assert post(client, raw, headers).status_code == 200
    assert [event.provider_message_id for event in receiver.status_events] == ["g-2"]
    assert [event.address for event in receiver.inbound_events] == ["+919876543210"]


def test_it_matches_reports_to_the_ids_the_gateway_returned(client, sms_settings, receiver):
    gateway = FakeSmsGateway(KEY)
    with gateway.serve() as server:
        transport = transport_for(server.url + "/send")
        ids = [send(transport, message(address=f"+91987654321{n}")) for n in range(3)]
    raw, headers = signed_body(SECRET, reports=gateway.reports("DELIVRD"))
    assert post(client, raw, headers).status_code == 200
    assert [(e.provider_message_id, e.status) for e in receiver.status_events] == [
        (i, "delivered") for i in ids
    ]


def test_it_carries_the_sms_channel_once_registered(sms_settings, monkeypatch):
    monkeypatch.setitem(registry.TRANSPORTS, "sms", "sampark.transports.sms.transport.SmsTransport")
    registry.reset()
    assert isinstance(registry.for_channel("sms"), SmsTransport)
    sms_settings.SAMPARK_SMS_DLT_ENTITY_ID = ""
    registry.reset()
    with pytest.raises(ImproperlyConfigured):
        registry.configured()
