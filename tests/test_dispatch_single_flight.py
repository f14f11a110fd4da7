"""One dispatch run per channel in a worker process: kicks that arrive while the channel is being
worked (a new broadcast, the minute sweep) leave a note instead of a second chain of runs, so a long
broadcast can never take every task thread; and the note makes the running one hand over, so rows
committed during the run are never left for the sweep."""

from __future__ import annotations

import pytest

from sampark.messaging import dispatch as dispatcher
from sampark.messaging import services, tasks
from sampark.messaging.models import Delivery, Message
from sampark.people import services as people
from sampark.people.scope import EVERYTHING
from sampark.territory.models import Booth
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(settings):
    settings.SAMPARK_NIGHT_SILENCE = False
    settings.SAMPARK_OUTBOX = True


def _people(n: int) -> None:
    build_bihar()
    booth = Booth.objects.order_by("pk").first()
    for i in range(n):
        people.person_register(name=f"Person {i}", phone=f"98765{i:05d}", age=25, home_booth=booth)


def test_a_kick_for_a_channel_being_worked_starts_no_second_run():
    assert tasks._begin("sms")  # a run of "sms" is in progress in this process
    try:
        assert tasks.dispatch.call_local("sms") == {"claimed": 0, "sent": 0, "retried": 0, "failed": 0}
        assert tasks.dispatch.call_local("sms")["claimed"] == 0
    finally:
        assert tasks._end("sms") is True  # the run in progress learns it was kicked
    assert tasks._end("sms") is False  # …once


def test_rows_committed_during_a_run_are_sent_by_its_hand_over(
    monkeypatch, django_capture_on_commit_callbacks
):
    _people(3)
    real = dispatcher.dispatch_channel
    runs: list[int] = []
    depth = {"now": 0, "max": 0}

    def run_and_meanwhile_broadcast(channel: str, **kw):
        depth["now"] += 1
        depth["max"] = max(depth["max"], depth["now"])
        stats = real(channel, **kw)
        runs.append(stats.sent)
        if len(runs) == 1:
            # A coordinator's broadcast commits while this run is winding down: its kick finds the
            # channel busy, and this run already looked for due rows.
            with django_capture_on_commit_callbacks(execute=True):
                services.broadcast_create(
                    by=EVERYTHING, message=Message(text_hi="दूसरा"), units=["state:10"], channels=["sms"]
                )
            stats.next_due = None
        depth["now"] -= 1
        return stats

    monkeypatch.setattr(dispatcher, "dispatch_channel", run_and_meanwhile_broadcast)
    # The first broadcast (its own kick not run: this test starts the run by hand).
    services.broadcast_create(
        by=EVERYTHING, message=Message(text_hi="पहला"), units=["state:10"], channels=["sms"]
    )
    tasks.dispatch.call_local("sms")
    assert depth["max"] == 1, "the kick during the run started a second run of the channel"
    assert runs == [3, 3]  # the second broadcast went out in the hand-over run, not after the sweep
    assert not Delivery.objects.exclude(status=Delivery.Status.SENT).exists()
