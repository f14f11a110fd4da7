"""The soak test's hands in the database: a separate process, as a coordinator's web request would be.

Run as ``python tests/helpers/soak_driver.py`` with SAMPARK_HOME set (the same home as the server under
test). It reads one command per line on stdin and answers one JSON line on stdout:

- ``setup``: the small demo, two approved slogans, three all-day streams ticking every 1-2 s;
- ``broadcast``: a broadcast (through ``messaging.services.broadcast_create``, as the compose page
  does) to one demo block's people by SMS — the local outbox carries it, as in ``make run``;
- ``report``: what the checks need: every broadcast's creation and first/last send, every stream's tick
  numbers and lateness, the ticker lease's takeovers.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Max, Min  # noqa: E402

from sampark.content import services as content  # noqa: E402
from sampark.core.models import Lease  # noqa: E402
from sampark.messaging import services as messaging  # noqa: E402
from sampark.messaging.models import Broadcast, Delivery, Message  # noqa: E402
from sampark.people.coverage import unit_key  # noqa: E402
from sampark.people.scope import EVERYTHING  # noqa: E402
from sampark.streams import services as streams  # noqa: E402
from sampark.streams.models import Stream, Tick  # noqa: E402
from sampark.territory.demo import build_demo  # noqa: E402
from sampark.territory.models import Block, State  # noqa: E402

MIDNIGHT = datetime.time(0, 0)


def setup() -> dict[str, object]:
    build_demo(scale="small", seed=1, password="soak-test-passphrase")
    users = get_user_model().objects
    writer = users.create_user("soak-writer", password="a long enough passphrase")
    reviewer = users.create_user("soak-reviewer", password="a long enough passphrase")
    items = []
    for i in range(2):
        item = content.item_create(by=writer, text_hi=f"नारा {i}", text_en=f"Slogan {i}")
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))
    state = State.objects.get()
    for i in range(3):
        streams.stream_create(
            by=EVERYTHING,
            name=f"Soak {i}",
            unit=state,
            items=items,
            min_seconds=1,
            max_seconds=2,
            active_from=MIDNIGHT,
            active_until=MIDNIGHT,  # from midnight to midnight: all day
        )
    return {"streams": Stream.objects.count()}


def broadcast() -> dict[str, object]:
    block = Block.objects.order_by("pk").first()
    assert block is not None
    message = Message(text_hi="सोक परीक्षण", text_en="Soak test")
    made = messaging.broadcast_create(
        by=EVERYTHING, message=message, units=[unit_key(block)], channels=["sms"]
    )
    return {"id": made.pk, "recipients": made.recipients}


def report() -> dict[str, object]:
    broadcasts = []
    for b in Broadcast.objects.order_by("pk"):
        sent = b.deliveries.aggregate(first=Min("sent_at"), last=Max("sent_at"))
        open_rows = b.deliveries.filter(status__in=(Delivery.Status.QUEUED, Delivery.Status.SENDING)).count()
        broadcasts.append(
            {
                "id": b.pk,
                "status": b.status,
                "recipients": b.recipients,
                "created": b.created_at.timestamp(),
                "first_sent": sent["first"].timestamp() if sent["first"] else None,
                "last_sent": sent["last"].timestamp() if sent["last"] else None,
                "open": open_rows,
            }
        )
    ticks: dict[str, list[list[float]]] = {}
    for t in Tick.objects.order_by("stream_id", "number"):
        ticks.setdefault(str(t.stream_id), []).append([t.number, t.lateness_ms, t.published_at.timestamp()])
    lease = Lease.objects.filter(name="streams.ticker").first()
    return {
        "broadcasts": broadcasts,
        "ticks": ticks,
        "takeovers": lease.takeovers if lease else 0,
    }


COMMANDS = {"setup": setup, "broadcast": broadcast, "report": report}

if __name__ == "__main__":
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        try:
            answer = COMMANDS[command]()
        except Exception as exc:  # the test prints it: a failing set-up must say why
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
