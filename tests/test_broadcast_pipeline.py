"""The broadcast pipeline end to end on the local outbox and on a scripted transport: fan-out by audience
and scope, claims under a lease, retries with backoff, permanent failures, pausing a sender, statuses
that only move forward, and STOP in the middle of a broadcast."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from sampark.messaging import dispatch, inbound, services, statuses
from sampark.messaging.models import (
    Broadcast,
    Delivery,
    DeliveryAttempt,
    EarlyStatus,
    InboundMessage,
    Message,
)
from sampark.people import services as people
from sampark.people.models import Channel, ContactPoint, Person, Role
from sampark.people.scope import EVERYTHING
from sampark.territory.models import Booth
from sampark.transports.base import Limit, Outgoing, Transport, TransportError
from sampark.transports.events import InboundEvent, StatusEvent
from sampark.transports.outbox.transport import Outbox
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db
Status = Delivery.Status
DAY = datetime.date(2026, 1, 5)


@pytest.fixture(autouse=True)
def _daytime(settings):
    # The night-silence rule would hold every broadcast when the suite runs late at night.
    settings.SAMPARK_NIGHT_SILENCE = False
    settings.SAMPARK_OUTBOX = True


def register(n: int, booth: Any, *, role: str = Role.BOOTH_VOLUNTEER, unit: Any = None, **kw: Any) -> Person:
    person = people.person_register(name=f"Person {n}", phone=f"98765{n:05d}", age=25, home_booth=booth, **kw)
    people.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, name: str) -> Any:
    user = get_user_model().objects.create_user(name, password="a long enough passphrase")
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def booth(code: str) -> Booth:
    return Booth.objects.get(code=code)


def message(text: str = "नमस्ते साथियों") -> Message:
    return Message.objects.create(text_hi=text, text_en="Hello friends")


class Scripted(Transport):
    """A transport whose answer per address is scripted: a list of outcomes consumed in order."""

    kind = "scripted"
    channel = "sms"
    calls: ClassVar[list[Outgoing]] = []

    def __init__(self, script: dict[str, list[Callable[[], str]]] | None = None) -> None:
        self.script = script or {}
        Scripted.calls = []

    @classmethod
    def from_settings(cls, settings: Any) -> None:
        return None

    @property
    def sender(self) -> str:
        return "scripted:1"

    @property
    def limit(self) -> Limit:
        return Limit(100_000)

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        Scripted.calls.append(message)
        steps = self.script.get(message.address)
        if steps:
            return steps.pop(0)()
        return f"ok-{message.delivery_id}-{len(Scripted.calls)}"


def fail(**kw: Any) -> Callable[[], str]:
    def raise_() -> str:
        raise TransportError(kw.pop("reason", "scripted"), **kw)

    return raise_


def test_it_fans_out_one_row_per_consented_contact_point_in_the_audience_only():
    tree = build_bihar()
    inside = [register(i, tree.booth) for i in range(1, 4)]
    elsewhere = register(9, booth("181-1"))
    people.consent_withdraw(contact_point=inside[2].contact_points.get(channel=Channel.SMS))

    broadcast = services.broadcast_create(
        by=EVERYTHING, message=message(), units=["district:231"], channels=["sms", "whatsapp"]
    )

    rows = set(Delivery.objects.filter(broadcast=broadcast).values_list("person_id", "channel", "status"))
    assert rows == {
        (inside[0].pk, "sms", Status.QUEUED),
        (inside[0].pk, "whatsapp", Status.QUEUED),
        (inside[1].pk, "sms", Status.QUEUED),
        (inside[1].pk, "whatsapp", Status.QUEUED),
        (inside[2].pk, "whatsapp", Status.QUEUED),  # SMS consent withdrawn: no SMS row
    }
    assert elsewhere.pk not in {p for p, _c, _s in rows}
    assert broadcast.recipients == 5


def test_it_sends_to_each_person_once_on_their_first_channel_when_asked():
    tree = build_bihar()
    a = register(1, tree.booth)
    b = register(2, tree.booth, channels=[Channel.SMS])

    broadcast = services.broadcast_create(
        by=EVERYTHING,
        message=message(),
        units=["district:231"],
        channels=["whatsapp", "sms"],
        one_channel=True,
    )

    rows = set(Delivery.objects.filter(broadcast=broadcast).values_list("person_id", "channel"))
    assert rows == {(a.pk, "whatsapp"), (b.pk, "sms")}


def test_a_coordinator_reaches_only_their_own_subtree_whatever_units_they_name():
    tree = build_bihar()
    block_head = register(1, tree.booth, role=Role.BLOCK_COORDINATOR, unit=tree.bagaha)
    in_block = register(2, tree.booth)
    other_block = register(3, booth("2-1"))
    user = login(block_head, "block-head")

    broadcast = services.broadcast_create(
        by=user, message=message(), units=["district:231"], channels=["sms"]
    )

    reached = set(Delivery.objects.filter(broadcast=broadcast).values_list("person_id", flat=True))
    assert in_block.pk in reached
    assert other_block.pk not in reached


def test_a_booth_volunteer_cannot_broadcast():
    tree = build_bihar()
    user = login(register(1, tree.booth), "saathi")
    with pytest.raises(services.BroadcastError) as caught:
        services.broadcast_create(by=user, message=message(), units=["district:231"], channels=["sms"])
    assert caught.value.field == "units"
    assert not Broadcast.objects.exists()


def test_it_sends_everything_through_the_outbox_and_finishes_the_broadcast():
    tree = build_bihar()
    for i in range(1, 8):
        register(i, tree.booth)
    broadcast = services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])

    stats = dispatch.dispatch_channel("sms", batch=3, transport=Outbox("sms"))

    assert (stats.claimed, stats.sent, stats.batches) == (7, 7, 3)
    rows = Delivery.objects.filter(broadcast=broadcast)
    assert set(rows.values_list("status", flat=True)) == {Status.SENT}
    assert all(r.provider_message_id == f"outbox-{r.pk}" for r in rows)
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 7
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DONE and broadcast.finished_at is not None


def test_it_retries_transient_errors_with_backoff_and_fails_permanent_ones_with_the_reason():
    tree = build_bihar()
    flaky, bad, good = (register(i, tree.booth, channels=[Channel.SMS]) for i in (1, 2, 3))
    services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    transport = Scripted(
        {
            str(flaky.phone): [fail(permanent=False, code="500", reason="gateway busy")],
            str(bad.phone): [fail(permanent=True, code="131026", reason="not on this channel")],
        }
    )

    now = timezone.now()
    clock = [now]  # the dispatcher's wall clock, moved by hand
    first = dispatch.dispatch_channel("sms", transport=transport, clock=lambda: clock[0])
    assert (first.sent, first.retried, first.failed) == (1, 1, 1)
    retry = Delivery.objects.get(person=flaky)
    assert retry.status == Status.QUEUED and retry.error_code == "500" and retry.attempts == 1
    # Backoff for a first retry: 5 s with jitter between half and the whole.
    wait = (retry.next_attempt_at - now).total_seconds()
    assert 2.5 <= wait <= 5
    failed = Delivery.objects.get(person=bad)
    assert (failed.status, failed.error_code, failed.error_reason) == (
        Status.FAILED,
        "131026",
        "not on this channel",
    )
    assert Delivery.objects.get(person=good).status == Status.SENT

    # Not yet due (a moment before): nothing claimed. Once due, it goes.
    clock[0] = retry.next_attempt_at - datetime.timedelta(milliseconds=1)
    assert dispatch.dispatch_channel("sms", transport=transport, clock=lambda: clock[0]).claimed == 0
    clock[0] = retry.next_attempt_at
    again = dispatch.dispatch_channel("sms", transport=transport, clock=lambda: clock[0])
    assert (again.claimed, again.sent) == (1, 1)
    assert Delivery.objects.get(pk=retry.pk).attempts == 2
    assert list(
        DeliveryAttempt.objects.filter(delivery=retry).values_list("outcome", flat=True).order_by("id")
    ) == [
        "retry",
        "sent",
    ]


def test_it_obeys_retry_after_and_gives_up_after_the_last_attempt(settings):
    settings.SAMPARK_DISPATCH_MAX_ATTEMPTS = 2
    tree = build_bihar()
    person = register(1, tree.booth, channels=[Channel.SMS])
    services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    transport = Scripted(
        {
            str(person.phone): [
                fail(permanent=False, code="429", reason="slow down", retry_after=30),
                fail(permanent=False, code="500", reason="still down"),
            ]
        }
    )
    now = timezone.now()
    dispatch.dispatch_channel("sms", transport=transport, clock=lambda: now)
    row = Delivery.objects.get(person=person)
    assert row.next_attempt_at == now + datetime.timedelta(seconds=30)

    later = row.next_attempt_at
    dispatch.dispatch_channel("sms", transport=transport, clock=lambda: later)
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.error_reason == "gave up after 2 attempts: still down"


def test_a_spam_limit_pauses_the_senders_broadcasts_and_keeps_the_rows():
    tree = build_bihar()
    people_ = [register(i, tree.booth, channels=[Channel.SMS]) for i in (1, 2, 3)]
    broadcast = services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    transport = Scripted(
        {
            str(p.phone): [fail(permanent=False, pause_sender=True, code="131048", reason="spam")]
            for p in people_
        }
    )

    stats = dispatch.dispatch_channel("sms", batch=1, transport=transport)

    assert stats.paused_sender and stats.batches == 1
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.PAUSED
    assert "spam" in broadcast.pause_reason
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.QUEUED}
    # Paused: nothing more is claimed until someone resumes it.
    assert dispatch.dispatch_channel("sms", transport=transport).claimed == 0


def test_the_sweeper_requeues_rows_whose_worker_died():
    tree = build_bihar()
    register(1, tree.booth, channels=[Channel.SMS])
    services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    now = timezone.now()
    claimed = dispatch.claim(channel="sms", worker="dead-worker", limit=10, now=now)
    assert len(claimed) == 1
    # Another worker cannot take a leased row…
    assert dispatch.claim(channel="sms", worker="other", limit=10, now=now) == []
    # …until the lease expires and the sweeper puts it back.
    assert dispatch.sweep(now=now) == 0
    later = now + datetime.timedelta(seconds=600)
    assert dispatch.sweep(now=later) == 1
    again = dispatch.claim(channel="sms", worker="other", limit=10, now=later)
    assert [r.id for r in again] == [r.id for r in claimed] and again[0].attempts == 2


def test_statuses_only_move_forward_and_replays_change_nothing():
    tree = build_bihar()
    register(1, tree.booth, channels=[Channel.SMS])
    services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    dispatch.dispatch_channel("sms", transport=Outbox("sms"))
    row = Delivery.objects.get()
    t = timezone.now()

    def event(status: str, seconds: int) -> StatusEvent:
        return StatusEvent("sms", row.provider_message_id, status, t + datetime.timedelta(seconds=seconds))

    assert statuses.apply_statuses([event("read", 20)]) == 1
    assert statuses.apply_statuses([event("delivered", 10), event("read", 20), event("failed", 30)]) == 0
    row.refresh_from_db()
    assert row.status == Status.READ
    assert row.read_at == t + datetime.timedelta(seconds=20)
    # A read implies delivered: stamped with the read's time, not undone by the late "delivered".
    assert row.delivered_at == t + datetime.timedelta(seconds=20) and row.failed_at is None


def test_a_status_that_arrives_before_the_send_is_recorded_is_applied_when_it_is():
    tree = build_bihar()
    register(1, tree.booth, channels=[Channel.SMS])
    services.broadcast_create(by=EVERYTHING, message=message(), units=["state"], channels=["sms"])
    row = Delivery.objects.get()
    t = timezone.now()
    # The provider is faster than us: "delivered" for the id it is about to hand back.
    statuses.apply_statuses([StatusEvent("sms", f"outbox-{row.pk}", "delivered", t)])
    assert EarlyStatus.objects.count() == 1

    dispatch.dispatch_channel("sms", transport=Outbox("sms"))

    row.refresh_from_db()
    assert (row.status, row.delivered_at) == (Status.DELIVERED, t)
    assert not EarlyStatus.objects.exists()


def test_stop_mid_broadcast_cancels_the_rest_and_the_confirmation_is_the_last_message():
    tree = build_bihar()
    person = register(1, tree.booth, channels=[Channel.SMS])
    others = [register(i, tree.booth, channels=[Channel.SMS]) for i in (2, 3)]
    services.broadcast_create(by=EVERYTHING, message=message("पहला"), units=["state"], channels=["sms"])
    second = services.broadcast_create(
        by=EVERYTHING, message=message("दूसरा"), units=["state"], channels=["sms"]
    )
    point = ContactPoint.objects.get(person=person, channel="sms")
    # A worker holds the first broadcast's row for this person when STOP arrives.
    in_flight = dispatch.claim(channel="sms", worker="w1", limit=1, now=timezone.now())
    assert in_flight[0].address == str(person.phone)

    inbound.receive(
        InboundEvent("sms", str(person.phone), " stop ", timezone.now(), provider_message_id="in-1")
    )

    point.refresh_from_db()
    assert not point.consent_live
    assert Delivery.objects.get(broadcast=second, person=person).status == Status.CANCELLED
    reply = Delivery.objects.get(broadcast__isnull=True, person=person)
    assert reply.text.startswith("अब आपको")  # Hindi: the person's language
    # The confirmation waits while the earlier message is in flight; the others' rows go meanwhile.
    transport = Scripted()
    dispatch.dispatch_channel("sms", transport=transport)
    assert reply.pk not in {m.delivery_id for m in Scripted.calls}
    assert {m.address for m in Scripted.calls} == {str(p.phone) for p in others}
    # The in-flight row is recorded; then the confirmation goes, and nothing after it.
    dispatch.record(
        [dispatch.Outcome(in_flight[0].id, 1, timezone.now(), 5, "p-1")],
        channel="sms",
        worker="w1",
        now=timezone.now(),
    )
    dispatch.dispatch_channel("sms", transport=transport)
    assert Scripted.calls[-1].delivery_id == reply.pk
    assert Delivery.objects.get(pk=reply.pk).status == Status.SENT
    assert not Delivery.objects.filter(person=person, status=Status.QUEUED).exists()
    assert InboundMessage.objects.get().action == InboundMessage.Action.STOP


def test_start_resubscribes_help_answers_and_a_replay_does_nothing_twice():
    tree = build_bihar()
    person = register(1, tree.booth, channels=[Channel.SMS], language="en")
    point = ContactPoint.objects.get(person=person)
    now = timezone.now()
    inbound.receive(InboundEvent("sms", str(person.phone), "STOP", now, provider_message_id="a"))
    inbound.receive(InboundEvent("sms", str(person.phone), "start", now, provider_message_id="b"))
    assert (
        inbound.receive(InboundEvent("sms", str(person.phone), "start", now, provider_message_id="b")) is None
    )
    inbound.receive(InboundEvent("sms", str(person.phone), "Help", now, provider_message_id="c"))

    point.refresh_from_db()
    assert point.consent_live
    assert point.consents.count() == 2  # given, withdrawn; given again once (the replay changed nothing)
    replies = list(
        Delivery.objects.filter(broadcast__isnull=True).order_by("id").values_list("text", flat=True)
    )
    assert len(replies) == 3
    assert replies[1].startswith("Welcome back") and replies[2].startswith("Reply STOP")
    assert InboundMessage.objects.count() == 3


def test_an_audience_with_tags_reaches_only_people_carrying_one_of_them():
    tree = build_bihar()
    student, teacher, untagged = (register(i, tree.booth, channels=[Channel.SMS]) for i in (1, 2, 3))
    people.tags_set(person=student, names=["Student ", "student", "Mahila Morcha"])
    people.tags_set(person=teacher, names=["teacher"])

    broadcast = services.broadcast_create(
        by=EVERYTHING,
        message=message(),
        units=["state"],
        channels=["sms"],
        tags=["STUDENT", "mahila  morcha"],
    )

    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("person_id", flat=True)) == {
        student.pk
    }
    assert sorted(student.tags.values_list("name", flat=True)) == ["Mahila Morcha", "Student"]
    assert untagged.pk not in {student.pk, teacher.pk}


def test_a_recipients_next_message_waits_for_the_providers_per_recipient_spacing():
    tree = build_bihar()
    a, b = (register(i, tree.booth, channels=[Channel.SMS]) for i in (1, 2))
    first = services.broadcast_create(
        by=EVERYTHING, message=message("पहला"), units=["state"], channels=["sms"]
    )
    second = services.broadcast_create(
        by=EVERYTHING, message=message("दूसरा"), units=["state"], channels=["sms"]
    )
    transport = Scripted()
    transport.per_recipient_seconds = 30.0  # type: ignore[misc]
    now = timezone.now()

    stats = dispatch.dispatch_channel("sms", transport=transport, clock=lambda: now)

    # One message per person: the second broadcast's rows wait their turn, unclaimed and unattempted.
    assert sorted(m.address for m in Scripted.calls) == sorted([str(a.phone), str(b.phone)])
    assert set(Delivery.objects.filter(broadcast=first).values_list("status", flat=True)) == {Status.SENT}
    waiting = Delivery.objects.filter(broadcast=second)
    assert set(waiting.values_list("status", "attempts")) == {(Status.QUEUED, 0)}
    assert stats.held_until == now + datetime.timedelta(seconds=30)
    sent_at = Delivery.objects.filter(broadcast=first).values_list("sent_at", flat=True)
    assert set(sent_at) == {now}
    # 29 s later they still wait; 30 s later it is their turn.
    Delivery.objects.filter(broadcast=second).update(next_attempt_at=now)
    almost = now + datetime.timedelta(seconds=29)
    assert dispatch.dispatch_channel("sms", transport=transport, clock=lambda: almost).claimed == 0
    turn = now + datetime.timedelta(seconds=30, milliseconds=1)
    assert dispatch.dispatch_channel("sms", transport=transport, clock=lambda: turn).sent == 2
