"""Fan-out of a state-wide broadcast to ten lakh recipients vs a raw ``INSERT … SELECT`` of the same rows.

Builds the state-scale demo territory, imports ten lakh volunteers (each with SMS and WhatsApp
consent), then on the same SQLite database:

- baseline: one raw ``INSERT INTO messaging_delivery … SELECT`` of every SMS contact point with live
  consent joined to its person's language — the same rows into the same table with the same indexes,
  with no audience or scope logic — rolled back;
- measured: ``services.broadcast_create`` by the state coordinator's scope to ``units=["state"]``,
  ``channels=["sms"]`` (audience units, consent, the sender's scope, one ``INSERT … SELECT``, commit);
- the same for a district coordinator's district (the common case), reported for information.

The last line is ``fanout: <seconds> s (ratio <r> vs raw INSERT … SELECT)``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROWS, django_in_temp_home, machine, write_volunteers_csv


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small territory (a few thousand recipients)")
    args = parser.parse_args()
    home = django_in_temp_home("fanout")
    from django.db import connection, transaction
    from django.utils import timezone

    from sampark.core.numbers import group_indian
    from sampark.messaging import services
    from sampark.messaging.models import Delivery, Message
    from sampark.people.importers import VolunteerImport
    from sampark.people.models import Post, Role
    from sampark.people.scope import Scope
    from sampark.territory.demo import build_demo
    from sampark.territory.importers.base import run_import
    from sampark.territory.models import District, State

    build_demo(scale="small" if args.quick else "state", seed=1, hooks=False)
    folder = Path(tempfile.mkdtemp(prefix="sampark-bench-fanout-"))
    path = folder / "volunteers.csv"
    write_volunteers_csv(path, None if args.quick else ROWS)
    report = run_import(VolunteerImport, [path])
    assert report.committed, report.errors[:3]
    state = State.objects.get()
    state_scope = Scope(states=frozenset({state.pk}), rank=60)
    now = connection.ops.adapt_datetimefield_value(timezone.now())

    # Baseline: the same rows, straight from the tables, rolled back.
    baseline_sql = f"""
        INSERT INTO {Delivery._meta.db_table} (contact_point_id, person_id, channel, language, broadcast_id,
            text, status, attempts, next_attempt_at, lease_owner, provider_message_id, error_code,
            error_reason, queued_at)
        SELECT c.id, c.person_id, c.channel, p.language, NULL, '', 0, 0, %s, '', '', '', '', %s
        FROM people_contactpoint c JOIN people_person p ON p.id = c.person_id
        WHERE c.channel = 'sms' AND c.consent_live
    """
    base_times = []
    for _ in range(2):
        start = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(baseline_sql, [now, now])
                base_rows = cursor.rowcount
            base_times.append(time.perf_counter() - start)
            transaction.set_rollback(True)
    base_s = min(base_times)
    print(f"baseline raw INSERT … SELECT: {group_indian(base_rows)} rows in {base_s:.2f} s")

    before = rss_mb()
    start = time.perf_counter()
    broadcast = services.broadcast_create(
        by=state_scope, message=Message(text_hi="नमस्ते साथियों"), units=["state"], channels=["sms"]
    )
    state_s = time.perf_counter() - start
    assert broadcast.recipients == base_rows, (broadcast.recipients, base_rows)
    print(
        f"broadcast_create, state: {group_indian(broadcast.recipients)} deliveries in {state_s:.2f} s; "
        f"peak RSS +{rss_mb() - before:.0f} MB"
    )

    district = (
        District.objects.filter(
            pk__in=Post.objects.filter(role=Role.DISTRICT_COORDINATOR).values("district_id")
        )
        .order_by("pk")
        .first()
    )
    assert district is not None
    start = time.perf_counter()
    one = services.broadcast_create(
        by=Scope(districts=frozenset({district.pk}), rank=50),
        message=Message(text_hi="जिला"),
        units=[f"district:{district.lgd_code}"],
        channels=["sms", "whatsapp"],
    )
    print(
        f"broadcast_create, one district ({district.name_en}), both channels: "
        f"{group_indian(one.recipients)} deliveries in {time.perf_counter() - start:.2f} s"
    )
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    print(f"fanout: {state_s:.2f} s (ratio {state_s / base_s:.2f} vs raw INSERT … SELECT)")


if __name__ == "__main__":
    main()
