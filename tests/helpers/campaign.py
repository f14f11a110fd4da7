"""A small campaign on the small Bihar: streams at four levels above or at booth 1-2 and two in Patna,
each with its own approved slogans, and three volunteers; shared by the feed page, link, assignment and
browser tests (fixture ``campaign`` in conftest)."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from sampark.content import services as content
from sampark.content.models import Item
from sampark.people import services as people
from sampark.people.models import Person, Role
from sampark.people.scope import EVERYTHING
from sampark.streams import services as streams
from sampark.streams.models import Stream, Tick
from sampark.territory.models import Booth
from tests.helpers.territory import Tree, build_bihar

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOON = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=IST)
DAY = datetime.date(2026, 1, 5)


# --- the campaign ------------------------------


class Editors:
    """A writer and a reviewer: every item is approved by someone other than who wrote it."""

    def __init__(self) -> None:
        users = get_user_model().objects
        self.writer = users.create_user("writer", password="a long enough passphrase")
        self.reviewer = users.create_user("reviewer", password="a long enough passphrase")

    def approved(self, text_hi: str, text_en: str = "", **fields: Any) -> Item:
        item = content.item_create(by=self.writer, text_hi=text_hi, text_en=text_en, **fields)
        content.item_submit(item=item, by=self.writer)
        return content.item_approve(item=item, by=self.reviewer)


def register(
    n: int, booth: Booth, *, role: str = Role.BOOTH_VOLUNTEER, unit: Any = None, **kw: Any
) -> Person:
    person = people.person_register(name=f"साथी {n}", phone=f"98765{n:05d}", age=25, home_booth=booth, **kw)
    if role:
        people.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, username: str) -> Any:
    user = get_user_model().objects.create_user(username, password="a long enough passphrase")
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass
class Campaign:
    tree: Tree
    editors: Editors
    streams: dict[str, Stream]
    volunteer: Person  # booth volunteer at 1-2, Hindi
    neighbour: Person  # booth volunteer at 1-2 too, English
    patna: Person  # booth volunteer at 181-1, district Patna

    def publish(self, at: datetime.datetime) -> list[Tick]:
        """Every tick due at ``at`` (each stream's first is due at NOON, then every 20–30 s)."""
        return streams.publish_due(now=at)


def build_campaign() -> Campaign:
    """Streams at four levels above or at booth 1-2, and two in Patna, each with its own slogans."""
    tree = build_bihar()
    editors = Editors()
    patna_booth = Booth.objects.get(code="181-1")
    units = {
        "state": tree.state,
        "district": tree.champaran,
        "panchayat": tree.harnatand,
        "booth": tree.booth,
        "patna": tree.patna,
        "patna-booth": patna_booth,
        "other-booth": Booth.objects.get(code="1-3"),
    }
    slogans = {
        "state": ("बिहार बदलेगा", "Bihar will change"),
        "district": ("चंपारण चलो", "On to Champaran"),
        "panchayat": ("हरनाटांड़ जागो", "Wake up Harnatand"),
        "booth": ("बूथ चलो", "To the booth"),
        "patna": ("पटना पुकारे", "Patna calls"),
        "patna-booth": ("पटना बूथ", "Patna booth"),
        "other-booth": ("नौरंगिया बूथ", "Naurangia booth"),
    }
    made = {}
    for key, unit in units.items():
        hi, en = slogans[key]
        items = [editors.approved(f"{hi} {i}", f"{en} {i}") for i in (1, 2)]
        made[key] = streams.stream_create(by=EVERYTHING, name=key, unit=unit, items=items, now=NOON)
    return Campaign(
        tree=tree,
        editors=editors,
        streams=made,
        volunteer=register(1, tree.booth),
        neighbour=register(2, tree.booth, language="en"),
        patna=register(3, patna_booth),
    )


def feed_url(token: str, rest: str = "") -> str:
    return f"/f/{token}/{rest}"


def html(response: Any) -> str:
    return response.content.decode()
