"""Stream pages, with personas: the district coordinator of Pashchim Champaran (231), a block coordinator
inside it (Bagaha-1), a block coordinator elsewhere (Patna Sadar, district 230) and a booth volunteer at
1-2 (Bagaha-1): each sees the streams of their own area, creates them only there, and only those who
may broadcast over a stream's unit pause or resume it."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from sampark.content import services as content
from sampark.content.models import Item
from sampark.people import services as people
from sampark.people.models import Person, Role
from sampark.people.scope import EVERYTHING
from sampark.streams import services
from sampark.streams.models import Stream, Tick
from sampark.territory.models import Booth
from tests.helpers.territory import Tree, build_bihar

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 1, 5)
IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOON = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=IST)


def register(n: int, booth: Any, *, role: str = Role.BOOTH_VOLUNTEER, unit: Any = None) -> Person:
    person = people.person_register(name=f"Person {n}", phone=f"98765{n:05d}", age=25, home_booth=booth)
    people.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, name: str) -> Any:
    user = get_user_model().objects.create_user(name, password="a long enough passphrase")
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def client_for(user: Any, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    return client


def html(response: Any) -> str:
    return response.content.decode()


def errors(response: Any) -> dict[str, str]:
    return dict(re.findall(r'data-error="(\w+)">([^<]*)<', html(response)))


def approved_items(n: int) -> list[Item]:
    users = get_user_model().objects
    writer = users.create_user("writer", password="a long enough passphrase")
    reviewer = users.create_user("reviewer", password="a long enough passphrase")
    items = []
    for i in range(n):
        item = content.item_create(by=writer, text_hi=f"नारा {i}", text_en=f"Slogan {i}", topic="booth")
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))
    return items


@dataclass
class World:
    tree: Tree
    items: list[Item]
    users: dict[str, Any]

    def client(self, name: str, language: str = "en") -> Client:
        return client_for(self.users[name], language)


@pytest.fixture
def world() -> World:
    tree = build_bihar()
    patna_booth = Booth.objects.get(code="181-1")
    users = {
        "district": login(register(1, tree.booth, role=Role.DISTRICT_COORDINATOR, unit=tree.champaran), "d"),
        "block": login(register(2, tree.booth, role=Role.BLOCK_COORDINATOR, unit=tree.bagaha), "b"),
        "elsewhere": login(register(3, patna_booth, role=Role.BLOCK_COORDINATOR, unit=tree.patna_sadar), "e"),
        "volunteer": login(register(4, tree.booth), "v"),
    }
    return World(tree, approved_items(3), users)


def stream_data(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Booth chalo",
        "unit": "district:231",
        "unit_key": "",
        "items": [world.items[2].pk, world.items[0].pk],
        "order": "ordered",
        "no_repeat_within": "10",
        "min_seconds": "20",
        "max_seconds": "30",
        "active_from": "06:00",
        "active_until": "22:00",
        "to_feed": "on",
        "telegram_chats": "",
    }
    data.update(overrides)
    return data


def listed(response: Any) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr data-stream="(\d+)"', html(response))}


# --- creating -----------------------------------------------------------------------------------------


def test_it_creates_a_stream_only_inside_the_users_area(world):
    client = world.client("district")
    page = client.get(reverse("streams:create"))
    assert page.status_code == 200
    assert 'value="district:231" selected' in html(page)  # their one area, chosen already

    outside = client.post(reverse("streams:create"), stream_data(world, unit_key="district:230"))
    assert outside.status_code == 200
    assert errors(outside)["unit_key"] == "you may run streams only inside your own area"
    assert not Stream.objects.exists()

    inside = client.post(
        reverse("streams:create"),
        stream_data(world, unit_key="block:1001", telegram_chats="-1001234567890, @BiharSaathi"),
    )
    stream = Stream.objects.get()
    assert inside.status_code == 302 and inside.url == reverse("streams:detail", args=[stream.pk])
    assert (stream.level, stream.block, stream.district) == ("block", world.tree.bagaha, world.tree.champaran)
    assert stream.created_by == world.users["district"]
    assert stream.telegram_chats == ["-1001234567890", "@BiharSaathi"]
    # The queue keeps the order the items were listed in.
    assert list(stream.entries.order_by("position").values_list("item_id", flat=True)) == [
        world.items[2].pk,
        world.items[0].pk,
    ]
    assert (stream.min_seconds, stream.max_seconds, stream.active_from) == (20, 30, datetime.time(6, 0))


def test_it_sends_cadence_chat_and_unit_mistakes_back_to_their_fields(world):
    client = world.client("block")
    response = client.post(
        reverse("streams:create"),
        stream_data(world, unit="", unit_key="", telegram_chats="not a chat", items=[]),
    )
    assert {"unit", "telegram_chats", "items"} <= set(errors(response))
    cadence = client.post(
        reverse("streams:create"), stream_data(world, unit="block:1001", min_seconds="40", max_seconds="30")
    )
    assert "shortest gap" in errors(cadence)["min_seconds"]
    nowhere = client.post(reverse("streams:create"), stream_data(world, unit="block:1001", to_feed=""))
    assert "to_feed" in errors(nowhere)
    unknown = client.post(reverse("streams:create"), stream_data(world, unit_key="block:999"))
    assert "block:999" in errors(unknown)["unit_key"]
    assert not Stream.objects.exists()


def test_a_volunteer_may_not_create_streams(world):
    volunteer = world.client("volunteer")
    assert volunteer.get(reverse("streams:create")).status_code == 403
    assert volunteer.post(reverse("streams:create"), stream_data(world)).status_code == 403
    assert 'id="new-stream"' not in html(volunteer.get(reverse("streams:list")))
    assert not Stream.objects.exists()


def test_the_item_picker_searches_approved_items_and_keeps_the_chosen_ones(world):
    client = world.client("district")
    draft = content.item_create(by=world.users["district"], text_hi="मसौदा नारा")
    partial = client.get(
        reverse("streams:items"),
        {"item_q": "Slogan 1", "items": [world.items[2].pk]},
        headers={"HX-Request": "true"},
    )
    shown = {int(pk) for pk in re.findall(r'name="items" value="(\d+)"', html(partial))}
    assert shown == {world.items[1].pk, world.items[2].pk}
    assert f'value="{world.items[2].pk}" id="item-{world.items[2].pk}" checked' in html(partial)
    assert draft.pk not in shown


# --- seeing and managing ------------------------------------------------------------------------------


@pytest.fixture
def streams(world) -> dict[str, Stream]:
    tree = world.tree
    make = {
        "district": tree.champaran,
        "bagaha": tree.bagaha,
        "patna_sadar": tree.patna_sadar,
        "booth": tree.booth,
    }
    return {
        name: services.stream_create(by=EVERYTHING, name=name, unit=unit, items=world.items, now=NOON)
        for name, unit in make.items()
    }


def test_each_persona_sees_the_streams_of_their_own_area_and_no_other(world, streams):
    ids = {name: s.pk for name, s in streams.items()}

    def seen(persona: str) -> set[int]:
        return listed(world.client(persona).get(reverse("streams:list")))

    assert seen("district") == {ids["district"], ids["bagaha"], ids["booth"]}
    assert seen("block") == {ids["bagaha"], ids["booth"]}
    assert seen("elsewhere") == {ids["patna_sadar"]}
    assert seen("volunteer") == {ids["booth"]}
    elsewhere = world.client("elsewhere")
    assert elsewhere.get(reverse("streams:detail", args=[ids["district"]])).status_code == 404
    assert elsewhere.post(reverse("streams:pause", args=[ids["bagaha"]])).status_code == 404


def test_pause_and_resume_by_someone_who_may_broadcast_over_the_stream(world, streams):
    bagaha = streams["bagaha"]
    block = world.client("block")
    page = html(block.get(reverse("streams:detail", args=[bagaha.pk])))
    assert 'data-action="pause"' in page

    paused = block.post(reverse("streams:pause", args=[bagaha.pk]), follow=True)
    bagaha.refresh_from_db()
    assert (bagaha.status, bagaha.next_tick_at) == (Stream.Status.PAUSED, None)
    assert 'data-action="resume"' in html(paused)

    block.post(reverse("streams:resume", args=[bagaha.pk]))
    bagaha.refresh_from_db()
    assert bagaha.status == Stream.Status.ACTIVE and bagaha.next_tick_at is not None

    # The block coordinator cannot stop the district's stream (not theirs to see), and the volunteer
    # sees their booth's stream but may not stop it.
    assert block.post(reverse("streams:pause", args=[streams["district"].pk])).status_code == 404
    volunteer = world.client("volunteer")
    booth_page = html(volunteer.get(reverse("streams:detail", args=[streams["booth"].pk])))
    assert 'id="stream-actions"' not in booth_page
    assert volunteer.post(reverse("streams:pause", args=[streams["booth"].pk])).status_code == 403
    streams["booth"].refresh_from_db()
    assert streams["booth"].status == Stream.Status.ACTIVE


def test_a_streams_page_shows_its_ticks_on_time_and_late(world, streams):
    stream = streams["bagaha"]
    services.publish_due(now=NOON)  # tick 1: due at noon, published at once
    stream.refresh_from_db()
    late_at = stream.next_tick_at + datetime.timedelta(milliseconds=2500)
    services.publish_due(now=late_at)  # tick 2: 2.5 s late
    ticks = {t.number: t for t in Tick.objects.filter(stream=stream)}
    assert (ticks[1].lateness_ms, ticks[2].lateness_ms) == (0, 2500)

    client = world.client("block")
    page = html(client.get(reverse("streams:detail", args=[stream.pk])))
    one = re.search(r'<tr data-tick="1">(.*?)</tr>', page, re.S).group(1)
    two = re.search(r'<tr data-tick="2">(.*?)</tr>', page, re.S).group(1)
    assert "data-on-time" in one and "0 ms" in one
    assert "data-late" in two and "2,500 ms" in two
    assert "नारा 0" in one and "नारा 1" in two  # in queue order
    partial = client.get(reverse("streams:detail", args=[stream.pk]), headers={"HX-Request": "true"})
    assert html(partial).lstrip().startswith('<section id="stream-ticks"')

    row = re.search(
        rf'<tr data-stream="{stream.pk}">(.*?)</tr>', html(client.get(reverse("streams:list"))), re.S
    )
    assert re.search(r"data-ticks>2<", row.group(1))
    assert "2,500 ms" in row.group(1)  # the last tick's lateness


def test_it_renders_the_streams_pages_in_hindi(world, streams):
    client = world.client("district", language="hi")
    page = html(client.get(reverse("streams:list")))
    assert '<html lang="hi">' in page
    assert "लोग" in page  # the navigation
    assert "चालू" in page  # "Running"
    detail = html(client.get(reverse("streams:detail", args=[streams["district"].pk])))
    assert "पश्चिम चंपारण" in detail


# --- admin --------------------------------------------------------------------------------------------


def test_the_admin_lists_streams_ticks_and_items_read_only_and_scoped(world, streams):
    from django.contrib.auth.models import Permission

    services.publish_due(now=NOON)
    root = get_user_model().objects.create_superuser("root", password="a long enough passphrase")
    admin = client_for(root)
    for name in ("streams_stream", "streams_tick", "content_item"):
        page = admin.get(reverse(f"admin:{name}_changelist"))
        assert page.status_code == 200, name
        assert reverse(f"admin:{name}_add") not in html(page)  # nothing is added here
    item = admin.get(reverse("admin:content_item_change", args=[world.items[0].pk]))
    inline = re.search(r'id="revisions-group"(.*?)</fieldset>', html(item), re.S)
    assert inline and all(a in inline.group(1) for a in ("created", "submit", "approve"))
    assert 'name="text_hi"' not in html(item)  # read-only: no inputs

    block = world.users["block"]
    block.is_staff = True
    block.save()
    block.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_stream", "view_tick"], content_type__app_label="streams"
        )
    )
    staff = client_for(get_user_model().objects.get(pk=block.pk))
    listed_streams = staff.get(reverse("admin:streams_stream_changelist")).context["cl"].result_list
    assert {s.name for s in listed_streams} == {"bagaha", "booth"}
    listed_ticks = staff.get(reverse("admin:streams_tick_changelist")).context["cl"].result_list
    assert {t.stream.name for t in listed_ticks} == {"bagaha", "booth"}
