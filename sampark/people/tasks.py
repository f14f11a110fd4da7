"""Background work of the people app (thin: each task calls a service)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import services


@db_periodic_task(crontab(minute="7"))
def coverage_refresh() -> int:
    """Recount booths whose posts started or ended today or yesterday (dates, not writes, changed them).

    Hourly and idempotent, so a consumer that was down at midnight catches up on its next hour.
    """
    today = timezone.localdate()
    booth_ids = set(services.booths_with_posts_changing_on(today))
    booth_ids |= set(services.booths_with_posts_changing_on(today - datetime.timedelta(days=1)))
    with transaction.atomic():
        services.recount_booths(booth_ids, day=today)
    return len(booth_ids)
