"""Statuses queued by webhooks and applied in batches by the worker's loop; replays deduplicated: inbound
messages without a provider id, waiting statuses for unknown ids; a read implies delivered."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from sampark.core import loops
from sampark.core.db import GroupedInsert
from sampark.messaging import inbound, statuses
from sampark.messaging.models import Delivery, EarlyStatus, InboundMessage, QueuedStatus
from sampark.people import services as people
from sampark.people.models import Channel, ContactPoint
from sampark.transports.events import InboundEvent, StatusEvent
from sampark.transports.fakes.whatsapp import status_payload
from tests.helpers import webhooks
from tests.helpers.territory import build_bihar

Status = Delivery.Status
T = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def configured(settings):
    webhooks.configure(settings)
    settings.SAMPARK_NIGHT_SILENCE = False
    return settings


def sent_rows(n: int) -> list[Delivery]:
    """Sent WhatsApp deliveries (address rows: no person needed to receive statuses)."""
    return Delivery.objects.bulk_create(
        Delivery(
            channel="whatsapp",
            address=f"@chan{i}",
            text="t",
            status=Status.SENT,
            provider_message_id=f"wamid.{i}",
            next_attempt_at=T,
            queued_at=T,
            sent_at=T,
        )
        for i in range(n)
    )


def event(i: int, status: str, seconds: int) -> StatusEvent:
    return StatusEvent("whatsapp", f"wamid.{i}", status, T + datetime.timedelta(seconds=seconds))


# --- a read implies delivered ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stamps_delivered_when_read_comes_first():
    [row] = sent_rows(1)

    assert statuses.apply_statuses([event(0, "read", 20)]) == 1

    row.refresh_from_db()
    assert row.status == Status.READ
    assert row.read_at == row.delivered_at == T + datetime.timedelta(seconds=20)


@pytest.mark.django_db
def test_it_keeps_the_delivered_time_when_both_arrive_in_one_batch_out_of_order():
    [row] = sent_rows(1)

    statuses.apply_statuses([event(0, "read", 20), event(0, "delivered", 10), event(0, "sent", 1)])

    row.refresh_from_db()
    assert (row.status, row.delivered_at, row.read_at, row.sent_at) == (
        Status.READ,
        T + datetime.timedelta(seconds=10),
        T + datetime.timedelta(seconds=20),
        T,  # already stamped by the send: kept
    )


@pytest.mark.django_db
def test_a_delivered_message_does_not_fail_in_the_same_batch():
    rows = sent_rows(2)

    statuses.apply_statuses(
        [event(0, "failed", 5), event(0, "delivered", 4), event(1, "failed", 5)]  # 1 really failed
    )

    assert [Delivery.objects.get(pk=r.pk).status for r in rows] == [Status.DELIVERED, Status.FAILED]


# --- the queue -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_webhook_queues_and_the_drain_applies_in_batches_oldest_first(client, configured):
    rows = sent_rows(3)
    for i in range(3):
        assert webhooks.post_whatsapp(client, status_body(i, "delivered", 10)).status_code == 200
    for i in range(3):
        assert webhooks.post_whatsapp(client, status_body(i, "read", 20)).status_code == 200
    assert QueuedStatus.objects.count() == 6
    assert not Delivery.objects.filter(status__gt=Status.SENT).exists()  # nothing applied in the request

    taken = [statuses.drain(limit=4), statuses.drain(limit=4), statuses.drain(limit=4)]

    assert taken == [4, 2, 0]
    assert statuses.backlog() == 0
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.delivered_at, row.read_at) == (
            Status.READ,
            T + datetime.timedelta(seconds=10),
            T + datetime.timedelta(seconds=20),
        )


def status_body(i: int, status: str, seconds: int) -> bytes:
    return status_payload(f"wamid.{i}", status, int((T + datetime.timedelta(seconds=seconds)).timestamp()))


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_drains_what_webhooks_queued_and_stops_when_asked(settings):
    settings.SAMPARK_STATUS_DRAIN_SECONDS = 0.05
    [row] = sent_rows(1)
    statuses.enqueue([event(0, "delivered", 10)])
    stop = threading.Event()
    loop = loops.LOOPS["messaging.statuses"]
    assert loop.fn is statuses.drain_loop
    thread = threading.Thread(target=loop.fn, args=(stop,))

    thread.start()
    deadline = time.monotonic() + 10
    while statuses.backlog() and time.monotonic() < deadline:
        time.sleep(0.02)
    statuses.enqueue([event(0, "read", 20)])  # while the loop waits: picked up on its next look
    while statuses.backlog() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    row.refresh_from_db()
    assert (row.status, row.read_at) == (Status.READ, T + datetime.timedelta(seconds=20))


@pytest.mark.django_db(transaction=True)
def test_grouped_inserts_from_many_threads_all_land_and_a_bad_row_fails_only_its_own_caller():
    table = QueuedStatus._meta.db_table
    insert = GroupedInsert(
        f"INSERT INTO {table} (channel, provider_message_id, status, at, error_code, error_reason, "
        "received_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    at = connection.ops.adapt_datetimefield_value(T)
    failures: list[str] = []

    def post(thread: int) -> None:
        try:
            for n in range(25):
                bad = thread == 3 and n == 10  # NOT NULL violated: this caller's insert must fail
                insert.insert([("whatsapp", None if bad else f"w.{thread}.{n}", 3, at, "", "", at)])
        except Exception as exc:
            failures.append(f"{thread}: {type(exc).__name__}")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == ["3: IntegrityError"]
    # Every other row is stored: thread 3 stopped at its bad row, the rest posted all 25.
    assert QueuedStatus.objects.count() == 5 * 25 + 10


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("durable", [True, False])
def test_a_non_durable_grouped_insert_skips_the_fsync_wait_for_its_own_transaction_only(durable):
    from django.test.utils import CaptureQueriesContext

    table = QueuedStatus._meta.db_table
    insert = GroupedInsert(
        f"INSERT INTO {table} (channel, provider_message_id, status, at, error_code, error_reason, "
        "received_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        durable=durable,
    )
    at = connection.ops.adapt_datetimefield_value(T)
    with CaptureQueriesContext(connection) as queries:
        insert.insert([("whatsapp", "w.1", 3, at, "", "", at)])
    said = [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]]

    assert QueuedStatus.objects.filter(provider_message_id="w.1").count() == 1
    if connection.vendor == "postgresql" and not durable:
        assert said == ["SET LOCAL synchronous_commit TO OFF"]
        with connection.cursor() as cursor:  # LOCAL: the connection's next transactions wait again
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    else:  # SQLite's WAL with synchronous=NORMAL already commits without an fsync
        assert said == []


# --- replays ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_keeps_one_waiting_row_for_a_replayed_status_of_an_unknown_id(client, configured):
    for _ in range(3):
        assert webhooks.post_whatsapp(client, status_body(99, "delivered", 10)).status_code == 200
    webhooks.post_whatsapp(client, status_body(99, "read", 20))
    statuses.drain()
    statuses.apply_statuses([event(99, "delivered", 10)])  # and once more, directly

    assert sorted(EarlyStatus.objects.values_list("provider_message_id", "status")) == [
        ("wamid.99", Status.DELIVERED),
        ("wamid.99", Status.READ),
    ]


@pytest.mark.django_db
def test_a_waiting_status_is_applied_once_its_row_turns_up_even_if_the_dispatcher_missed_it():
    statuses.apply_statuses([event(0, "delivered", 10)])
    assert EarlyStatus.objects.count() == 1
    [row] = sent_rows(1)  # recorded without apply_early (it looked before the status was committed)

    assert statuses.settle_early() == 1

    row.refresh_from_db()
    assert row.status == Status.DELIVERED and not EarlyStatus.objects.exists()


@pytest.mark.django_db
def test_a_replayed_sms_stop_without_an_id_is_stored_and_confirmed_once(client, configured):
    tree = build_bihar()
    person = people.person_register(
        name="Sita", phone="9876500001", age=30, home_booth=tree.booth, channels=[Channel.SMS]
    )
    body = {"inbound": [{"from": "919876500001", "text": "STOP", "at": int(timezone.now().timestamp())}]}

    assert webhooks.post_sms(client, body).status_code == 200
    assert webhooks.post_sms(client, body).status_code == 200  # the gateway retries the batch

    assert InboundMessage.objects.count() == 1
    assert Delivery.objects.filter(person=person, broadcast__isnull=True).count() == 1  # one confirmation
    assert not ContactPoint.objects.get(person=person).consent_live


@pytest.mark.django_db
def test_a_replay_without_an_id_and_without_a_time_is_caught_by_the_window_too(client, configured):
    build_bihar()
    body = {"inbound": [{"from": "919876500009", "text": "hello"}]}  # no id, no time: "now" each time

    with time_machine.travel(T, tick=False) as clock:
        webhooks.post_sms(client, body)
        clock.shift(datetime.timedelta(minutes=9, seconds=59))
        webhooks.post_sms(client, body)
        assert InboundMessage.objects.count() == 1
        clock.shift(datetime.timedelta(minutes=10, seconds=2))  # over ten minutes after the stored one
        webhooks.post_sms(client, body)

    assert InboundMessage.objects.count() == 2


@pytest.mark.django_db
def test_the_same_words_from_someone_else_or_with_an_id_are_not_replays(client, configured, settings):
    settings.SAMPARK_INBOUND_DEDUPE_SECONDS = 600
    now = int(T.timestamp())

    webhooks.post_sms(client, {"inbound": [{"from": "919876500001", "text": "hi", "at": now}]})
    webhooks.post_sms(client, {"inbound": [{"from": "919876500002", "text": "hi", "at": now}]})
    webhooks.post_sms(client, {"inbound": [{"from": "919876500001", "text": "hi!", "at": now}]})
    webhooks.post_sms(client, {"inbound": [{"from": "919876500001", "text": "hi", "at": now, "id": "a"}]})
    webhooks.post_sms(client, {"inbound": [{"from": "919876500001", "text": "hi", "at": now, "id": "b"}]})

    assert InboundMessage.objects.count() == 5


@pytest.mark.django_db
def test_inbound_text_is_stored_without_nul_or_bidirectional_controls_and_its_stop_still_counts():
    at = timezone.now()
    event = InboundEvent(channel="sms", address="+919876500001", text="\u202eSTOP\u202c\x00", at=at)
    stored = inbound.receive(event)
    assert stored is not None and stored.text == "STOP"
    assert InboundMessage.objects.get().text == "STOP"
    # The replay with other invisible characters is the same message once cleaned.
    assert (
        inbound.receive(InboundEvent(channel="sms", address="+919876500001", text="STOP\u2066", at=at))
        is None
    )
