"""The war room counts exactly the rows put in, over the reader's own booths only: the district
coordinator of Pashchim Champaran (231) sees their district, drills into its blocks and panchayats; a
block coordinator elsewhere (Patna Sadar, district 230) sees none of 231's figures; sharers are named
only when the reader may see them."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sampark.content import services as content
from sampark.content.models import Item
from sampark.feed.models import Acknowledgement, Share, TickReach
from sampark.people import services as people
from sampark.people.models import Person, Role
from sampark.people.scope import EVERYTHING
from sampark.streams import services
from sampark.streams.models import Stream, Tick
from sampark.streams.selectors import percentile
from sampark.territory.models import Booth
from tests.helpers.territory import Tree, build_bihar

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 1, 5)
TARGETS = list(Share.Target.values)  # column order of the share cells


def register(n: int, booth: Any, *, role: str = Role.BOOTH_VOLUNTEER, unit: Any = None) -> Person:
    person = people.person_register(name=f"Person {n}", phone=f"98765{n:05d}", age=25, home_booth=booth)
    people.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, name: str, **extra: Any) -> Any:
    user = get_user_model().objects.create_user(name, password="a long enough passphrase", **extra)
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def client_for(user: Any, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    return client


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def booth(code: str) -> Booth:
    return Booth.objects.get(code=code)


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


def tick(stream: Stream, number: int, item: Item, lateness_ms: int) -> Tick:
    published = timezone.now()
    return Tick.objects.create(
        stream=stream,
        number=number,
        item=item,
        due_at=published - datetime.timedelta(milliseconds=lateness_ms),
        published_at=published,
        lateness_ms=lateness_ms,
    )


def shares(person: Person, at: Tick, booth_: Booth, **by_target: int) -> None:
    Share.objects.bulk_create(
        Share(person=person, tick=at, item_id=at.item_id, booth=booth_, target=target)
        for target, n in by_target.items()
        for _ in range(n)
    )


@dataclass
class World:
    tree: Tree
    items: list[Item]
    champaran_stream: Stream
    patna_stream: Stream
    users: dict[str, Any]

    def client(self, name: str, language: str = "en") -> Client:
        return client_for(self.users[name], language)


@pytest.fixture
def world() -> World:
    tree = build_bihar()
    users = {
        "district": login(register(1, tree.booth, role=Role.DISTRICT_COORDINATOR, unit=tree.champaran), "d"),
        "elsewhere": login(
            register(2, booth("181-1"), role=Role.BLOCK_COORDINATOR, unit=tree.patna_sadar), "e"
        ),
    }
    root = get_user_model().objects.create_superuser("root", password="a long enough passphrase")
    users["root"] = root
    items = approved_items(2)
    one, two = items
    champaran = services.stream_create(by=EVERYTHING, name="Champaran", unit=tree.champaran, items=items)
    patna = services.stream_create(by=EVERYTHING, name="Patna Sadar", unit=tree.patna_sadar, items=items)
    # Today's ticks: lateness 5, 10, 20, 30 ms and one 1.5 s late; Patna's: two on time.
    c = [tick(champaran, n, one, ms) for n, ms in enumerate([5, 10, 20, 30, 1500], start=1)]
    p = [tick(patna, n, one, ms) for n, ms in enumerate([7, 9], start=1)]
    yesterday = tick(champaran, 6, two, 90_000)
    yesterday.published_at -= datetime.timedelta(days=1)
    yesterday.save()

    saathi = register(3, tree.booth)  # 1-2: Bagaha-1 block, Harnatand panchayat
    ramnagar = register(4, booth("2-1"))  # Ramnagar block, Dhumatand panchayat
    patna_saathi = register(5, booth("181-1"))
    moved = register(6, booth("181-2"))  # lives in Patna, but shared from a booth of 231
    TickReach.objects.bulk_create(
        [
            TickReach(tick=c[0], item_id=one.pk, booth=tree.booth, views=100),
            TickReach(tick=c[1], item_id=one.pk, booth=booth("2-1"), views=50),
            TickReach(tick=c[2], item_id=two.pk, booth=tree.booth, views=7),
            TickReach(tick=p[0], item_id=one.pk, booth=booth("181-1"), views=1000),
        ]
    )
    shares(saathi, c[0], tree.booth, whatsapp=3, telegram=1)
    shares(ramnagar, c[1], booth("2-1"), x=2)
    shares(moved, c[1], booth("1-3"), copy=1)
    shares(patna_saathi, p[0], booth("181-1"), whatsapp=5)
    Acknowledgement.objects.bulk_create(
        [
            Acknowledgement(person=saathi, tick=c[0], item_id=one.pk, booth=tree.booth),
            Acknowledgement(person=ramnagar, tick=c[1], item_id=one.pk, booth=booth("2-1")),
            Acknowledgement(person=patna_saathi, tick=p[0], item_id=one.pk, booth=booth("181-1")),
        ]
    )
    return World(tree, items, champaran, patna, users)


def row(page: str, attribute: str, key: Any) -> str:
    found = re.search(rf'<tr data-{attribute}="{key}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row {attribute}={key}"
    return found.group(1)


def cell(row_html: str, name: str) -> str:
    found = re.search(rf"data-{name}>(.*?)</td>", row_html, re.S)
    assert found, name
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def share_cells(row_html: str) -> dict[str, int]:
    cells = re.findall(r'data-share="(\d+)">([\d,]+)<', row_html)
    return {TARGETS[int(i)]: int(n.replace(",", "")) for i, n in cells if int(n.replace(",", ""))}


def test_it_counts_todays_ticks_on_time_share_and_lateness_percentiles(world):
    page = html(world.client("district").get(reverse("streams:war-room")))
    champaran = row(page, "stream", world.champaran_stream.pk)
    assert cell(champaran, "ticks") == "5"  # yesterday's 90 s tick is not today's
    assert cell(champaran, "on-time") == "80.0%"
    assert cell(champaran, "late") == "1"
    assert cell(champaran, "p50") == "20 ms"
    assert cell(champaran, "p99") == "1,500 ms"
    assert f'data-stream="{world.patna_stream.pk}"' not in page


def test_it_counts_views_shares_by_target_and_acknowledgements_per_item_in_the_readers_area(world):
    one, two = world.items
    page = html(world.client("district").get(reverse("streams:war-room")))
    first = row(page, "item", one.pk)
    assert cell(first, "views") == "150"
    assert share_cells(first) == {"whatsapp": 3, "telegram": 1, "x": 2, "copy": 1}
    assert cell(first, "shares") == "7"
    assert cell(first, "acks") == "2"
    assert cell(row(page, "item", two.pk), "views") == "7"
    # By district (the default): one district, the sum of both items.
    champaran = row(page, "area", "district:231")
    assert (cell(champaran, "views"), cell(champaran, "shares"), cell(champaran, "acks")) == ("157", "7", "2")
    assert 'data-area="district:230"' not in page

    everything = html(world.client("root").get(reverse("streams:war-room")))
    assert cell(row(everything, "item", one.pk), "views") == "1,150"
    assert cell(row(everything, "area", "district:230"), "views") == "1,000"


def test_it_drills_down_from_district_to_block_to_panchayat_for_one_item(world):
    one = world.items[0]
    client = world.client("district")
    blocks = html(client.get(reverse("streams:war-room"), {"unit": "district:231", "item": one.pk}))
    bagaha = row(blocks, "area", "block:1001")
    assert (cell(bagaha, "views"), cell(bagaha, "acks")) == ("100", "1")
    assert share_cells(bagaha) == {"whatsapp": 3, "telegram": 1, "copy": 1}
    ramnagar_key = f"block:#{world.tree.ramnagar_block.pk}"
    assert cell(row(blocks, "area", ramnagar_key), "views") == "50"

    panchayats = html(client.get(reverse("streams:war-room"), {"unit": "block:1001", "item": one.pk}))
    harnatand = row(panchayats, "area", "panchayat:5001")
    assert (cell(harnatand, "views"), cell(harnatand, "shares")) == ("100", "4")
    naurangia = row(panchayats, "area", f"panchayat:#{world.tree.naurangia.pk}")
    assert cell(naurangia, "shares") == "1"  # the share from 1-3
    # The item table narrows to the block too.
    assert cell(row(panchayats, "item", one.pk), "views") == "100"


def test_a_block_coordinator_elsewhere_sees_none_of_another_districts_figures(world):
    one = world.items[0]
    client = world.client("elsewhere")
    page = html(client.get(reverse("streams:war-room")))
    assert f'data-stream="{world.champaran_stream.pk}"' not in page
    assert f'data-stream="{world.patna_stream.pk}"' in page
    assert cell(row(page, "item", one.pk), "views") == "1,000"
    assert cell(row(page, "item", one.pk), "shares") == "5"
    assert 'data-area="district:231"' not in page
    assert "Person 3" not in page and "Person 4" not in page
    assert client.get(reverse("streams:war-room"), {"unit": "district:231"}).status_code == 404
    assert client.get(reverse("streams:war-room"), {"unit": "block:1001"}).status_code == 404
    assert client.get(reverse("streams:war-room"), {"unit": "block:1010"}).status_code == 200


def test_top_sharers_are_named_only_within_the_readers_view_others_summed(world):
    page = html(world.client("district").get(reverse("streams:war-room")))
    named = re.findall(r"<tr data-sharer><td>([^<]+)</td><td[^>]*>([\d,]+)<", page)
    assert named == [("Person 3", "4"), ("Person 4", "2")]
    others = re.search(r"<tr data-others>(.*?)</tr>", page, re.S).group(1)
    assert "Person 6" not in page  # lives in Patna: not the district coordinator's to see
    assert "1 person" in others and cell(others, "shares") == "1"


def test_the_war_room_costs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    client = world.client("district")
    client.get(reverse("streams:war-room"))  # warm the session
    with django_assert_max_num_queries(30):
        html(client.get(reverse("streams:war-room"), {"unit": "district:231"}))


def test_it_renders_the_war_room_in_hindi(world):
    page = html(world.client("district", language="hi").get(reverse("streams:war-room")))
    assert '<html lang="hi">' in page
    assert "लोग" in page  # the navigation
    assert "चालू" in page  # "Running"
    assert "नारा 0" in page


def test_percentiles_are_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([(5, 1), (10, 1), (20, 1), (30, 1), (1500, 1)], 0.99) == 1500
    assert percentile([(0, 99), (4000, 1)], 0.99) == 0
    assert percentile([(0, 98), (4000, 2)], 0.99) == 4000


def test_a_draft_being_revised_is_never_shown_outside_the_library(world):
    one = world.items[0]
    content.item_update(item=one, by=get_user_model().objects.get(username="writer"), text_hi="नया मसौदा")
    client = world.client("district")
    assert client.get(reverse("streams:war-room"), {"item": one.pk}).status_code == 404
    page = html(client.get(reverse("streams:detail", args=[world.champaran_stream.pk])))
    assert "नया मसौदा" not in page and "being revised" in page
