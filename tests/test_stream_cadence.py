"""Streams on a frozen clock: 30 simulated minutes of a 20–30 s stream publish within bounds, in active
hours only; a ticker that dies mid-publication and a restarted one give no duplicate and no lost tick."""

from __future__ import annotations

import datetime
import itertools
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from sampark.content import services as content
from sampark.content.models import Item
from sampark.core import leases
from sampark.core.models import Lease
from sampark.people.scope import EVERYTHING, Scope
from sampark.streams import services, ticker, wakeup
from sampark.streams.models import Stream, Tick
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOON = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=IST)


def approved_items(n: int) -> list[Item]:
    users = get_user_model().objects
    writer = users.create_user("writer", password="a long enough passphrase")
    reviewer = users.create_user("reviewer", password="a long enough passphrase")
    items = []
    for i in range(n):
        item = content.item_create(by=writer, text_hi=f"नारा {i}", text_en=f"Slogan {i}")
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))
    return items


def run_for(minutes: float, start: datetime.datetime, step_s: float = 0.5) -> datetime.datetime:
    """Call the ticker the way its loop does, every ``step_s`` of simulated time."""
    now = start
    end = start + datetime.timedelta(minutes=minutes)
    while now < end:
        services.publish_due(now=now)
        now += datetime.timedelta(seconds=step_s)
    return now


def test_thirty_simulated_minutes_publish_every_20_to_30_seconds_each_tick_once():
    tree = build_bihar()
    items = approved_items(4)
    stream = services.stream_create(
        by=EVERYTHING, name="Booth chalo", unit=tree.champaran, items=items, now=NOON
    )

    run_for(30, NOON)

    ticks = list(Tick.objects.filter(stream=stream).order_by("number"))
    assert [t.number for t in ticks] == list(range(1, len(ticks) + 1))
    gaps = [(b.due_at - a.due_at).total_seconds() for a, b in itertools.pairwise(ticks)]
    assert all(20 <= g <= 30 for g in gaps), (min(gaps), max(gaps))
    assert 1800 / 30 <= len(ticks) <= 1800 / 20 + 1
    # Jittered, not a metronome: the gaps spread over the range.
    assert max(gaps) - min(gaps) > 5
    # Published within one ticker step of being due, and in order of the queue.
    assert all(0 <= t.lateness_ms <= 500 for t in ticks)
    assert [t.item_id for t in ticks[:8]] == [i.pk for i in items] * 2


def test_nothing_is_published_outside_active_hours():
    tree = build_bihar()
    late = datetime.datetime(2026, 11, 27, 21, 58, tzinfo=IST)
    stream = services.stream_create(
        by=EVERYTHING, name="Night", unit=tree.state, items=approved_items(2), now=late
    )
    run_for(10, late)
    published = [t.published_at.astimezone(IST) for t in Tick.objects.filter(stream=stream)]
    assert published and all(p.time() < datetime.time(22, 0) for p in published)
    stream.refresh_from_db()
    assert stream.next_tick_at.astimezone(IST) == datetime.datetime(2026, 11, 28, 6, 0, tzinfo=IST)


def test_a_rotating_stream_repeats_nothing_within_its_window():
    tree = build_bihar()
    items = approved_items(6)
    stream = services.stream_create(
        by=EVERYTHING,
        name="Mix",
        unit=tree.state,
        items=items,
        order=Stream.Order.ROTATING,
        no_repeat_within=4,
        now=NOON,
    )
    run_for(10, NOON)
    chosen = list(Tick.objects.filter(stream=stream).order_by("number").values_list("item_id", flat=True))
    assert len(chosen) >= 20
    assert all(len(set(chosen[i : i + 5])) == 5 for i in range(len(chosen) - 4))


def test_a_crash_mid_publication_and_a_restart_give_no_duplicate_and_no_lost_tick(monkeypatch):
    tree = build_bihar()
    stream = services.stream_create(
        by=EVERYTHING, name="Crash", unit=tree.state, items=approved_items(3), now=NOON
    )
    run_for(5, NOON)
    before = Tick.objects.filter(stream=stream).count()

    # The worker dies inside a publication: after the tick row is written, before the commit.
    stream.refresh_from_db()
    due = stream.next_tick_at
    original = services.following

    def die(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(services, "following", die)
    with pytest.raises(SystemExit):
        services.publish_due(now=due)
    monkeypatch.setattr(services, "following", original)
    assert Tick.objects.filter(stream=stream).count() == before  # rolled back with the transaction

    # The worker is down for 40 s, then a new one runs: the missed ticks come out late, once each.
    restart = due + datetime.timedelta(seconds=40)
    run_for(5, restart)
    ticks = list(Tick.objects.filter(stream=stream).order_by("number"))
    assert [t.number for t in ticks] == list(range(1, len(ticks) + 1))
    assert ticks[before].due_at == due and ticks[before].lateness_ms == 40_000
    # Two tickers at the same moment publish a due tick once.
    stream.refresh_from_db()
    due = stream.next_tick_at
    first, second = services.publish_due(now=due), services.publish_due(now=due)
    assert len(first) == 1 and second == []
    assert not Tick.objects.values("stream", "number").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_one_ticker_loop_holds_the_lease_and_a_dead_ones_lease_expires(settings):
    settings.SAMPARK_LEASE_SECONDS = 5
    start = NOON
    assert ticker.take_lease("a", start)
    assert not ticker.take_lease("b", start + datetime.timedelta(seconds=1))
    assert ticker.take_lease("a", start + datetime.timedelta(seconds=2))  # renewed
    # "a" died: five seconds after its last renewal the lease is free for "b".
    assert not ticker.take_lease("b", start + datetime.timedelta(seconds=6.5))
    assert ticker.take_lease("b", start + datetime.timedelta(seconds=7.5))
    lease = Lease.objects.get(name=ticker.LEASE)
    assert (lease.owner, lease.takeovers) == ("b", 2)


def test_two_runs_of_the_loop_in_one_process_never_both_hold_the_lease(settings):
    """The old lease named the process: every loop a consumer started "held" it at once."""
    settings.SAMPARK_LEASE_SECONDS = 5
    first, second = leases.new_owner(ticker.LEASE), leases.new_owner(ticker.LEASE)
    assert first != second
    assert ticker.take_lease(first, NOON)
    assert not ticker.take_lease(second, NOON + datetime.timedelta(seconds=1))
    assert leases.held(now=NOON)[ticker.LEASE] == [first]
    ticker.release_lease(first)  # a handover
    assert ticker.take_lease(second, NOON + datetime.timedelta(seconds=1))
    assert leases.held(now=NOON)[ticker.LEASE] == [second]
    ticker.release_lease(second)


def test_with_no_stream_due_the_loop_wakes_only_to_renew_its_lease(settings, django_assert_max_num_queries):
    settings.SAMPARK_LEASE_SECONDS = 15
    clock = {"t": 0.0}
    naps: list[float] = []

    def sleep(s):
        naps.append(s)
        clock["t"] += s

    with django_assert_max_num_queries(60):  # 13 turns of a few queries; it was ~500 (a turn per 0.5 s)
        ticker.run(
            seconds=60,
            owner="idle",
            clock=lambda: NOON + datetime.timedelta(seconds=clock["t"]),
            sleep=sleep,
            monotonic=lambda: clock["t"],
        )
    assert len(naps) <= 13 and min(naps[:-1]) == pytest.approx(5.0)


def test_creating_or_resuming_a_stream_wakes_the_ticker(django_capture_on_commit_callbacks):
    tree = build_bihar()
    wakeup.event.clear()
    with django_capture_on_commit_callbacks(execute=True):
        stream = services.stream_create(
            by=EVERYTHING, name="Wake", unit=tree.state, items=approved_items(1), now=NOON
        )
    assert wakeup.event.is_set()
    services.stream_pause(stream=stream, by=EVERYTHING)
    wakeup.event.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.stream_resume(stream=stream, by=EVERYTHING, now=NOON)
    assert wakeup.event.is_set()
    wakeup.event.clear()


def test_the_loop_publishes_on_time_with_a_fake_clock():
    tree = build_bihar()
    stream = services.stream_create(
        by=EVERYTHING, name="Loop", unit=tree.state, items=approved_items(2), now=NOON
    )
    clock = {"t": 0.0}

    def now():
        return NOON + datetime.timedelta(seconds=clock["t"])

    def sleep(s):
        clock["t"] += s

    published = ticker.run(seconds=120, owner="loop", clock=now, sleep=sleep, monotonic=lambda: clock["t"])
    ticks = Tick.objects.filter(stream=stream)
    assert published == ticks.count() >= 4
    assert max(t.lateness_ms for t in ticks) <= 1  # it sleeps until the next due time, not a fixed step
    assert ticker.lease_free(now())  # released on the way out


def test_only_coordinators_of_the_streams_area_may_pause_or_resume_it():
    tree = build_bihar()
    stream = services.stream_create(
        by=EVERYTHING, name="District", unit=tree.champaran, items=approved_items(1), now=NOON
    )
    elsewhere = Scope(districts=frozenset({tree.patna.pk}), rank=50)
    with pytest.raises(services.StreamError) as refused:
        services.stream_pause(stream=stream, by=elsewhere)
    assert refused.value.field == "unit"
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ACTIVE
    paused = services.stream_pause(stream=stream, by=Scope(districts=frozenset({tree.champaran.pk}), rank=50))
    assert (paused.status, paused.next_tick_at) == (Stream.Status.PAUSED, None)
    assert services.publish_due(now=NOON + datetime.timedelta(hours=1)) == []
    resumed = services.stream_resume(stream=stream, by=EVERYTHING, now=NOON + datetime.timedelta(hours=1))
    assert resumed.next_tick_at == NOON + datetime.timedelta(hours=1)


def test_ticks_due_together_each_record_their_own_lateness():
    tree = build_bihar()
    items = approved_items(1)
    for n in range(3):
        services.stream_create(by=EVERYTHING, name=f"S{n}", unit=tree.state, items=items, now=NOON)
    stamps = iter([NOON + datetime.timedelta(milliseconds=ms) for ms in (5, 40, 90)])
    services.publish_due(now=NOON, clock=lambda: next(stamps))
    assert sorted(Tick.objects.values_list("lateness_ms", flat=True)) == [5, 40, 90]


def test_a_tick_goes_to_its_telegram_channels_once_through_the_outbox_retrying_a_flood(
    settings, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from sampark.messaging import dispatch
    from sampark.messaging.models import Delivery, DeliveryAttempt
    from sampark.transports import registry
    from sampark.transports.fakes.telegram import FakeTelegram

    settings.SAMPARK_NIGHT_SILENCE = False
    fake = FakeTelegram("123456:" + "A" * 35, faults=["flood", None, None])
    with fake.serve() as server:
        settings.SAMPARK_TELEGRAM_BOT_TOKEN = "123456:" + "A" * 35
        settings.SAMPARK_TELEGRAM_WEBHOOK_SECRET = "s" * 32
        settings.SAMPARK_TELEGRAM_API_BASE = server.url
        registry.reset()
        try:
            tree = build_bihar()
            stream = services.stream_create(
                by=EVERYTHING, name="Channel", unit=tree.state, items=approved_items(1),
                telegram_chats=["@booth_chalo", "-100200300"], now=NOON,
            )  # fmt: skip
            with django_capture_on_commit_callbacks() as callbacks:
                (tick,) = services.publish_due(now=NOON)
            assert callbacks  # sending is kicked only after the tick commits
            posts = Delivery.objects.filter(source=services.TICK_SOURCE, source_id=tick.pk)
            assert sorted(posts.values_list("address", flat=True)) == ["-100200300", "@booth_chalo"]
            assert not posts.filter(contact_point__isnull=False).exists()

            # The dispatcher's claim, record and retry policy, as for any delivery: one goes, one hits
            # the flood limit and waits the retry_after Telegram asked for.
            clock = [timezone.now()]
            first = dispatch.dispatch_channel("telegram", clock=lambda: clock[0])
            assert (first.sent, first.retried) == (1, 1)
            flooded = posts.get(status=Delivery.Status.QUEUED)
            assert flooded.attempts == 1 and flooded.error_code == "429"
            assert DeliveryAttempt.objects.get(delivery=flooded).outcome == "retry"
            assert dispatch.dispatch_channel("telegram", clock=lambda: clock[0]).claimed == 0  # not yet due
            clock[0] = flooded.next_attempt_at
            assert dispatch.dispatch_channel("telegram", clock=lambda: clock[0]).sent == 1  # the retry
            assert dispatch.dispatch_channel("telegram", clock=lambda: clock[0]).claimed == 0  # nothing twice
        finally:
            registry.reset()
    assert sorted(r.payload["chat_id"] for r in fake.sent) == ["-100200300", "@booth_chalo"]
    assert all(r.payload["text"].startswith("नारा 0") for r in fake.sent)
    assert set(posts.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert stream.pk == tick.stream_id
