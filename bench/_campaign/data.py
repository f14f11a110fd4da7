"""The campaign the benchmark runs on, written before the server starts (Django configured by the caller).

- the demo territory (``state`` scale: 1.06 lakh booths; ``small`` for quick runs);
- ``messages`` volunteers spread over the state through the real volunteer import (every one with a
  live SMS and WhatsApp consent, coordinators for the state, districts, blocks and some panchayats);
- a superuser who composes the broadcast, and 20 staff logins linked to coordinators (ten district
  coordinators, then block and panchayat coordinators), each with the pages of its own area;
- approved slogans, streams for the state, the pollers' districts and 50 of their booths (active all
  day, ticking every 20-30 s in the real worker), a dozen ticks already published, and 1,000 booth
  volunteers with a personal feed link each.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COORDINATORS = 20
POLLERS = 1_000
STREAM_BOOTHS = 50


@dataclass
class Campaign:
    recipients: int  # WhatsApp contact points with live consent: the broadcast's size
    chief: str
    password: str
    tokens: list[str] = field(default_factory=list)
    coordinators: list[tuple[str, list[str]]] = field(default_factory=list)  # (username, pages)
    seconds: dict[str, float] = field(default_factory=dict)


def build(*, home: Path, messages: int, scale: str, password: str) -> Campaign:
    from _setup import write_spread_volunteers_csv
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.urls import reverse
    from django.utils import timezone
    from feed import SLOGANS

    from sampark.content import services as content
    from sampark.feed import services as feed
    from sampark.people.importers import VolunteerImport
    from sampark.people.models import ContactPoint, Person, Post, Role
    from sampark.people.scope import EVERYTHING
    from sampark.people.views import coverage_url
    from sampark.streams import services as streams
    from sampark.territory.demo import build_demo
    from sampark.territory.importers.base import run_import
    from sampark.territory.models import Block, Booth, District, Panchayat, State

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    build_demo(scale=scale, seed=1, hooks=False)
    seconds["territory"] = time.perf_counter() - started

    started = time.perf_counter()
    path = home / "volunteers.csv"
    write_spread_volunteers_csv(path, messages)
    state = State.objects.get()
    report = run_import(VolunteerImport, [path], state=state.lgd_code)
    if not report.committed:
        raise RuntimeError("; ".join(str(issue) for issue in report.errors[:5]))
    path.unlink()
    seconds["volunteers"] = time.perf_counter() - started
    recipients = ContactPoint.objects.filter(channel="whatsapp", consent_live=True).count()

    started = time.perf_counter()
    users = get_user_model().objects
    chief = users.create_superuser("chief", password=password)
    campaign = Campaign(recipients=recipients, chief=chief.username, password=password)
    posts = list(
        Post.objects.filter(role=Role.DISTRICT_COORDINATOR, ended_on__isnull=True).order_by("district_id")[
            : COORDINATORS // 2
        ]
    )
    for role in (Role.BLOCK_COORDINATOR, Role.PANCHAYAT_COORDINATOR):  # the small demo has few blocks
        posts += list(
            Post.objects.filter(role=role, ended_on__isnull=True).order_by("-pk")[: COORDINATORS - len(posts)]
        )
    hashed = make_password(password)  # once: the hash (with its salt) is valid for every login
    for n, post in enumerate(posts, 1):
        user = users.create_user(f"coord{n:02d}", is_staff=True)
        user.password = hashed
        user.save(update_fields=["password"])
        Person.objects.filter(pk=post.person_id).update(user=user)
        common = ["/", "/people/", "/coverage/", "/broadcasts/", "/streams/", "/war-room/"]
        if post.role == Role.DISTRICT_COORDINATOR:
            district = District.objects.get(pk=post.district_id)
            own = [reverse("territory:district", args=[district.lgd_code]), coverage_url(district)]
            search = "/people/?q=kumar"
        else:
            unit: Any = (
                Block.objects.get(pk=post.block_id)
                if post.role == Role.BLOCK_COORDINATOR
                else Panchayat.objects.get(pk=post.panchayat_id)
            )
            kind = "territory:block" if isinstance(unit, Block) else "territory:panchayat"
            own = [reverse(kind, args=[unit.pk]), coverage_url(unit)]
            search = "/people/?q=%E0%A4%B0%E0%A4%AE%E0%A5%87%E0%A4%B6"  # रमेश
        campaign.coordinators.append((user.username, [*common, *own, search, "/api/people?limit=50"]))

    writer, reviewer = users.create_user("writer"), users.create_user("reviewer")
    items = []
    for i, slogan in enumerate(SLOGANS):
        item = content.item_create(
            by=writer,
            text_hi=slogan,
            text_en=f"Slogan {i}",
            hashtags="#BoothChalo #Bihar",
            link=f"https://example.org/campaign/{i}",
        )
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))
    volunteers = list(
        Post.objects.filter(role=Role.BOOTH_VOLUNTEER, ended_on__isnull=True)
        .order_by("booth_id", "pk")
        .values_list("person_id", "booth_id")[:POLLERS]
    )
    booth_ids = list(dict.fromkeys(booth for _person, booth in volunteers))
    units: list[Any] = [state]
    units += list(District.objects.filter(booths__in=booth_ids).distinct().order_by("pk"))
    units += list(Booth.objects.filter(pk__in=booth_ids[:STREAM_BOOTHS]).order_by("pk"))
    now = timezone.now()
    began = now - datetime.timedelta(seconds=31 * 12)
    for n, unit in enumerate(units):
        streams.stream_create(
            by=EVERYTHING,
            name=f"stream {n}",
            unit=unit,
            items=items,
            active_from=datetime.time(0, 0),
            active_until=datetime.time(23, 59),
            now=began,
        )
    for step in range(12):
        streams.publish_due(now=began + datetime.timedelta(seconds=31 * step))
    people = Person.objects.in_bulk([person for person, _booth in volunteers])
    with transaction.atomic():  # one commit, not a thousand
        campaign.tokens = [feed.link_issue(person=people[person])[1] for person, _booth in volunteers]
    seconds["logins, streams and feed links"] = time.perf_counter() - started
    campaign.seconds = seconds
    return campaign
