"""Synthetic volunteers for the demo, through the real volunteer import.

``sampark demo`` calls :func:`build_people` (named in ``PeopleConfig.demo``) inside its transaction once
the booths exist. Rows are generated as CSV into a temporary file and imported with
:class:`~sampark.people.importers.VolunteerImport`, so the demo exercises the same path as real data.

Variance is deliberate, so coverage pages have something to show: some panchayats have nobody, some
booths are empty, many partial, some at or above the target. At ``--scale state`` that is about ten
lakh volunteers; ``--scale small`` a proportionate few hundred.
"""

from __future__ import annotations

import csv
import datetime
import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from sampark.territory.demo import DemoPart
from sampark.territory.importers.base import run_import
from sampark.territory.models import Booth, State

from . import services
from .importers import VolunteerImport
from .models import ContactPoint, Person, Post, Role


# Names as volunteers type them: mostly Devanagari, some Latin.
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "रमेश सुरेश राजेश मुकेश दिनेश अनिल सुनील मनोज संजय विजय अजय राकेश प्रकाश अमित सुमित रोहित मोहित "
    "पंकज नीरज विकास आकाश प्रिया पूजा नेहा अंजलि सुनीता अनीता रीना सीमा कविता ममता रुबी खुशबू "
    "Md.Imran Salman Arif Nasreen Shabnam Rahul Ravi Sonu Monu Guddu Pintu Bablu Chandan Kundan"
)
LAST_NAMES = _words(
    "कुमार सिंह यादव प्रसाद राय मंडल पासवान चौधरी साह महतो ठाकुर मिश्रा झा पांडेय शर्मा देवी कुमारी "
    "Ansari Khan Alam Kumar Singh Yadav Paswan Ram Das"
)

# Share of booths by kind, and the number of volunteers each kind gets (inclusive ranges).
EMPTY_PANCHAYAT_SHARE = 0.08
EMPTY_BOOTH_SHARE = 0.10
PARTIAL_SHARE = 0.45  # 1..target-1; the rest are at or above target
FULL_RANGE = (0, 12)  # target + 0 … target + 12
WITHDRAWN_SHARE = 0.015


def _person(rng: random.Random, phone: int, code: str, post: str, today: datetime.date) -> list[str]:
    consent_at = today - datetime.timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 1439))
    return [
        f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        str(phone),
        code,
        post,
        str(rng.randint(18, 35) if rng.random() < 0.85 else rng.randint(36, 70)),
        rng.choice(("form", "form", "form", "referral", "chat")),
        consent_at.isoformat(),
        "hi" if rng.random() < 0.9 else "en",
    ]


def _rows(
    booths: Sequence[tuple[str, int | None, int, int | None]], rng: random.Random, target: int
) -> Iterator[list[str]]:
    """CSV rows: a coordinator for the state, each district, block and a third of the panchayats (placed
    at one of the unit's booths), then volunteers per booth with realistic variance."""
    today = timezone.localdate()
    phone = 7_000_000_000
    seen: set[tuple[str, int]] = set()
    for code, panchayat, district, block in booths:
        for post, unit in (
            ("state_coordinator", 0),
            ("district_coordinator", district),
            ("block_coordinator", block),
            ("panchayat_coordinator", panchayat),
        ):
            if unit is None or (post, unit) in seen:
                continue
            seen.add((post, unit))
            if post == "panchayat_coordinator" and rng.random() > 0.33:
                continue
            phone += rng.randint(1, 40)
            yield _person(rng, phone, code, post, today)
    panchayats = sorted({p for _code, p, _d, _b in booths if p is not None})
    empty_panchayats = {p for p in panchayats if rng.random() < EMPTY_PANCHAYAT_SHARE}
    phone = 9_000_000_000
    for code, panchayat, _district, _block in booths:
        roll = rng.random()
        if panchayat in empty_panchayats or roll < EMPTY_BOOTH_SHARE:
            continue
        if roll < EMPTY_BOOTH_SHARE + PARTIAL_SHARE:
            count = rng.randint(1, max(1, target - 1))
        else:
            count = target + rng.randint(*FULL_RANGE)
        if rng.random() < 0.3:
            phone += rng.randint(1, 40)
            yield _person(rng, phone, code, "booth_president", today)
        for _n in range(count):
            phone += rng.randint(1, 9)
            yield _person(rng, phone, code, "booth_volunteer", today)


def build_people(
    *,
    state: State,
    seed: int,
    progress: Callable[[str, int | None], Callable[[int], None]],
    password: str | None = None,
    **options: Any,
) -> DemoPart:
    """Volunteers for every booth of ``state``, and (``password`` given) scoped demo logins."""
    from django.utils.translation import gettext as _

    rng = random.Random(seed * 7919 + 1)
    target = settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH
    booths = list(
        Booth.objects.filter(state=state)
        .order_by("ac_id", "number", "suffix")
        .values_list("code", "panchayat_id", "district_id", "block_id")
    )
    with tempfile.TemporaryDirectory(prefix="sampark-demo-") as folder:
        path = Path(folder) / "volunteers.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"]
            )
            writer.writerows(_rows(booths, rng, target))
        report = run_import(VolunteerImport, [path], progress=progress, state=state.lgd_code)
    if not report.committed:
        raise RuntimeError("; ".join(str(issue) for issue in report.errors[:5]))
    people = report.count(_("people")).created
    # Some people said stop: withdrawn on every channel, so they stop counting.
    ids = list(ContactPoint.objects.order_by().values_list("person_id", flat=True).distinct())
    chosen = rng.sample(ids, int(len(ids) * WITHDRAWN_SHARE)) if ids else []
    withdrawn = services.consent_withdraw_people(person_ids=chosen, via="demo")
    rows = ((_("Volunteers and coordinators"), people), (_("Consents withdrawn"), withdrawn))
    return DemoPart(rows=rows, logins=tuple(_persona_logins(password)) if password else ())


# Logins to try the scopes with, each linked to a demo coordinator or volunteer inside the one above.
PERSONAS = (
    ("district", Role.DISTRICT_COORDINATOR),
    ("block", Role.BLOCK_COORDINATOR),
    ("saathi", Role.BOOTH_VOLUNTEER),
)


def _persona_logins(password: str) -> list[str]:
    """A district coordinator, a block coordinator in that district and a booth volunteer in that block,
    each given a login (username = the persona) with the demo password."""
    users = get_user_model()._default_manager
    made: list[str] = []
    within: dict[str, Any] = {}
    for username, role in PERSONAS:
        post = Post.objects.filter(role=role, ended_on__isnull=True, **within).order_by("id").first()
        if post is None or users.filter(username=username).exists():
            continue
        user = users.create_user(username, password=password)
        Person.objects.filter(pk=post.person_id, user__isnull=True).update(user=user)
        made.append(username)
        within = {"district_id": post.district_id}
        if post.block_id:
            within["block_id"] = post.block_id
    return made
