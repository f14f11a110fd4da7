"""A 1-lakh-recipient WhatsApp broadcast through the fake Cloud API with 10 % injected transient faults
(and a few permanent ones) ends with every delivery sent, or failed with the provider's reason."""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from sampark.messaging import dispatch, services
from sampark.messaging.models import Delivery, DeliveryAttempt, Message
from sampark.people.importers import VolunteerImport
from sampark.people.scope import EVERYTHING
from sampark.territory.demo import build_demo
from sampark.territory.importers.base import run_import
from sampark.territory.models import Booth
from sampark.transports.base import Limit
from sampark.transports.fakes.server import LocalServer
from sampark.transports.fakes.whatsapp import FakeWhatsApp
from sampark.transports.whatsapp.transport import WhatsApp

pytestmark = pytest.mark.django_db
RECIPIENTS = 1_00_000
FAULTS = {"throughput": 0.04, "server_error": 0.03, "http_429": 0.02, "graph_unavailable": 0.01}
PERMANENT = {"undeliverable": 0.002}


def volunteers_csv(path: Path, rows: int) -> None:
    codes = list(Booth.objects.order_by("pk").values_list("code", flat=True))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"])
        for i in range(rows):
            writer.writerow(
                [f"Saathi {i}", f"{9_100_000_000 + i}", codes[i % len(codes)], "booth_volunteer", "24", "form",
                 "2026-01-05", "hi"]
            )  # fmt: skip


def test_a_lakh_recipients_with_ten_percent_transient_faults_all_end_sent_or_failed_with_reason(
    tmp_path, settings
):
    settings.SAMPARK_NIGHT_SILENCE = False
    settings.SAMPARK_DISPATCH_BACKOFF_SECONDS = 0.2  # retries due within seconds, not minutes
    settings.SAMPARK_DISPATCH_BATCH = 1000
    build_demo(scale="small", seed=1, hooks=False)
    volunteers_csv(tmp_path / "v.csv", RECIPIENTS)
    assert run_import(VolunteerImport, [tmp_path / "v.csv"]).committed
    broadcast = services.broadcast_create(
        by=EVERYTHING, message=Message(text_hi="बूथ चलो अभियान"), units=["state"], channels=["whatsapp"]
    )
    assert broadcast.recipients == RECIPIENTS

    fake = FakeWhatsApp(token="fault-token", phone_number_id="777", faults={**FAULTS, **PERMANENT}, seed=11)
    with LocalServer(fake.app) as server:
        transport = WhatsApp(
            token="fault-token",
            phone_number_id="777",
            app_secret="secret",
            verify_token="verify",
            api_base=f"{server.url}/v23.0",
            rate=1000,
            attestation="test",
        )
        # Faults are what this test is about: past the Cloud API's 1,000/s so it takes seconds, not minutes.
        transport._limit = Limit(100_000)
        # Bounded by progress, not by the machine's speed: it gives up only when a minute passes with
        # no row claimed (a slow CI machine, or PostgreSQL beside other runs, may need many minutes).
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 60:
            stats = dispatch.dispatch_channel("whatsapp", transport=transport, budget_s=120)
            if stats.next_due is None:
                break
            if stats.claimed:
                idle_since = time.monotonic()
            if not stats.claimed:  # only retries not yet due: wait for the first of them
                time.sleep(max(0.0, min(2.5, (stats.next_due - timezone.now()).total_seconds())))

    rows = Delivery.objects.filter(broadcast=broadcast)
    outcome = Counter(rows.values_list("status", flat=True))
    assert set(outcome) <= {Delivery.Status.SENT, Delivery.Status.FAILED}, outcome
    assert sum(outcome.values()) == RECIPIENTS
    # Every failure carries the provider's code and reason; only permanent errors failed (transient ones
    # were retried until they went through).
    failed = rows.filter(status=Delivery.Status.FAILED)
    assert set(failed.values_list("error_code", flat=True)) == {"131026"}
    assert not failed.filter(error_reason="").exists()
    served = fake.fault_counts()
    assert outcome[Delivery.Status.FAILED] == served["undeliverable"]
    # The transient faults really happened (about a tenth of the first round), and every one was retried.
    transient = sum(served[k] for k in FAULTS)
    assert transient > RECIPIENTS * 0.09
    assert DeliveryAttempt.objects.filter(outcome="retry").count() == transient
    # What WhatsApp accepted is exactly the sent rows, once each.
    accepted = Counter(r.wamid for r in fake.accepted)
    sent_ids = set(rows.filter(status=Delivery.Status.SENT).values_list("provider_message_id", flat=True))
    assert set(accepted) == sent_ids and max(accepted.values()) == 1
