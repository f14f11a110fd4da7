"""WhatsApp end to end: a broadcast sent through the fake Cloud API, its statuses coming back through the
signed webhook into the real receiver (forward only, replays harmless, forged ones refused), and a
STOP typed on WhatsApp in the middle of a broadcast — after its confirmation, nothing more reaches
that person."""

from __future__ import annotations

import itertools
import time

import pytest
from django.urls import reverse

from sampark.messaging import dispatch, services, statuses
from sampark.messaging.models import Delivery, EarlyStatus, InboundMessage, Message
from sampark.people import services as people
from sampark.people.models import Channel, ContactPoint, Role
from sampark.people.scope import EVERYTHING
from sampark.transports import registry
from sampark.transports.fakes.server import LocalServer
from sampark.transports.fakes.whatsapp import FakeWhatsApp, message_payload, sign, status_payload
from sampark.transports.whatsapp.transport import WhatsApp
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db
SECRET = "end-to-end-secret"
NUMBER = "1122334455667"
Status = Delivery.Status


@pytest.fixture
def fake(settings):
    """The fake Cloud API, and WhatsApp configured to send to it."""
    whatsapp = FakeWhatsApp(token="e2e-token", phone_number_id=NUMBER)
    with LocalServer(whatsapp.app) as server:
        settings.SAMPARK_WHATSAPP_TOKEN = "e2e-token"
        settings.SAMPARK_WHATSAPP_PHONE_NUMBER_ID = NUMBER
        settings.SAMPARK_WHATSAPP_APP_SECRET = SECRET
        settings.SAMPARK_WHATSAPP_VERIFY_TOKEN = "e2e-verify"
        settings.SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED = "test"
        settings.SAMPARK_WHATSAPP_API_BASE = f"{server.url}/v23.0"
        settings.SAMPARK_NIGHT_SILENCE = False
        registry.reset()
        yield whatsapp
    registry.reset()


def register(n: int, booth: object) -> object:
    person = people.person_register(
        name=f"Saathi {n}", phone=f"98765{n:05d}", age=22, home_booth=booth, channels=[Channel.WHATSAPP]
    )
    people.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booth)
    return person


def post(client, body: bytes, signature: str | None = None):
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature if signature is not None else sign(body, SECRET)}
    return client.post(reverse("webhooks:whatsapp"), data=body, content_type="application/json", **headers)


def test_statuses_come_back_through_the_webhook_forward_only_and_replays_change_nothing(client, fake):
    tree = build_bihar()
    person = register(1, tree.booth)
    services.broadcast_create(
        by=EVERYTHING, message=Message(text_hi="बूथ चलो"), units=["state"], channels=["whatsapp"]
    )
    assert dispatch.dispatch_channel("whatsapp").sent == 1
    row = Delivery.objects.get(person=person)
    assert fake.accepted[0].payload["text"]["body"] == "बूथ चलो"
    assert row.provider_message_id == fake.accepted[0].wamid
    t = int(time.time())

    read = status_payload(row.provider_message_id, "read", t + 20)
    assert post(client, read).status_code == 200
    assert post(client, read).status_code == 200  # Meta retries: a replay
    # The webhook only queued them: the row moves when the worker's loop drains the queue.
    assert Delivery.objects.get(pk=row.pk).status == Status.SENT
    assert statuses.drain() == 2
    row.refresh_from_db()
    assert row.status == Status.READ
    assert int(row.read_at.timestamp()) == t + 20
    assert int(row.delivered_at.timestamp()) == t + 20  # read before delivered: delivered by then

    late = status_payload(row.provider_message_id, "delivered", t + 10)
    assert post(client, late).status_code == 200
    forged = status_payload(row.provider_message_id, "failed", t + 30, error_code=131026)
    assert post(client, forged, "sha256=" + "0" * 64).status_code == 403
    unknown = status_payload("wamid.never-ours", "delivered", t)
    assert post(client, unknown).status_code == 200
    assert post(client, unknown).status_code == 200
    assert statuses.drain() == 3
    assert statuses.drain() == 0

    row.refresh_from_db()
    assert row.status == Status.READ
    assert int(row.read_at.timestamp()) == int(row.delivered_at.timestamp()) == t + 20
    assert row.failed_at is None
    # The stranger's id waits once for a send that may still be recorded, however often it is replayed.
    assert list(EarlyStatus.objects.values_list("provider_message_id", "status")) == [
        ("wamid.never-ours", Status.DELIVERED)
    ]


def test_stop_on_whatsapp_mid_broadcast_confirms_last_and_nothing_follows(client, fake, monkeypatch):
    # The pair rate limit (one message per ~6 s to a user) shortened, so the test waits a moment only.
    monkeypatch.setattr(WhatsApp, "per_recipient_seconds", 0.3)
    tree = build_bihar()
    person = register(1, tree.booth)
    others = [register(n, tree.booth) for n in (2, 3)]
    first = services.broadcast_create(
        by=EVERYTHING, message=Message(text_hi="पहला"), units=["state"], channels=["whatsapp"]
    )
    second = services.broadcast_create(
        by=EVERYTHING, message=Message(text_hi="दूसरा"), units=["state"], channels=["whatsapp"]
    )
    assert first.recipients == second.recipients == 3
    digits = str(person.phone).lstrip("+")

    # Mid-broadcast: one batch of the first broadcast goes out, then the person writes "रोकें".
    dispatch.dispatch_channel("whatsapp", batch=2, budget_s=0)
    response = post(
        client, message_payload(digits, "रोकें", int(time.time()), wamid="wamid.in.stop", user_id="IN.bsuid.1")
    )
    assert response.status_code == 200
    assert (
        post(client, message_payload(digits, "रोकें", int(time.time()), wamid="wamid.in.stop")).status_code
        == 200
    )

    point = ContactPoint.objects.get(person=person)
    assert not point.consent_live and point.wa_user_id == "IN.bsuid.1"
    assert (
        InboundMessage.objects.filter(action=InboundMessage.Action.STOP).count() == 1
    )  # the replay stored once

    deadline = time.monotonic() + 30
    while Delivery.objects.filter(status=Status.QUEUED).exists() and time.monotonic() < deadline:
        if not dispatch.dispatch_channel("whatsapp").claimed:
            time.sleep(0.1)  # a recipient's turn has not come yet
    to_person = [r.payload for r in fake.accepted if r.payload["to"] == digits]
    arrivals = [r.at for r in fake.accepted if r.payload["to"] == digits]
    # Messages to one person never closer than the pair-rate spacing.
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(arrivals)), arrivals
    # The confirmation is the last thing the person got, and it was in Hindi.
    assert to_person[-1]["text"]["body"].startswith("अब आपको")
    assert all("दूसरा" not in p["text"]["body"] for p in to_person)
    assert Delivery.objects.get(broadcast=second, person=person).status == Status.CANCELLED
    for other in others:
        bodies = [
            r.payload["text"]["body"]
            for r in fake.accepted
            if r.payload["to"] == str(other.phone).lstrip("+")
        ]
        assert sorted(bodies) == sorted(["पहला", "दूसरा"])  # both broadcasts, once each
