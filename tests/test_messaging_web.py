"""Broadcast pages and the phone simulator, with personas: the district coordinator of Pashchim Champaran
(231), a block coordinator inside it (Bagaha-1), a block coordinator elsewhere (Patna Sadar, district
230), a booth volunteer — all on the local outbox."""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sampark.messaging import dispatch, services
from sampark.messaging.models import Broadcast, Delivery, InboundMessage, Message
from sampark.people import services as people
from sampark.people.models import Channel, ContactPoint, Person, Role
from sampark.territory.models import Booth
from sampark.transports.outbox.transport import Outbox
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db
Status = Delivery.Status
DAY = datetime.date(2026, 1, 5)
SENT_COLUMN = list(Status.values).index(Status.SENT)


@pytest.fixture(autouse=True)
def _outbox(settings):
    # The night-silence rule would hold every broadcast when the suite runs late at night.
    settings.SAMPARK_NIGHT_SILENCE = False
    settings.SAMPARK_OUTBOX = True


def register(n: int, booth: Any, *, role: str = Role.BOOTH_VOLUNTEER, unit: Any = None, **kw: Any) -> Person:
    person = people.person_register(name=f"Person {n}", phone=f"98765{n:05d}", age=25, home_booth=booth, **kw)
    people.post_assign(person=person, role=role, unit=unit or booth, started_on=DAY)
    return person


def login(person: Person, name: str, **extra: Any) -> Any:
    user = get_user_model().objects.create_user(name, password="a long enough passphrase", **extra)
    person.user = user
    person.save(update_fields=["user"])
    return get_user_model().objects.get(pk=user.pk)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def booth(code: str) -> Booth:
    return Booth.objects.get(code=code)


@dataclass
class World:
    district_head: Person  # district coordinator, Pashchim Champaran (231)
    block_head: Person  # block coordinator, Bagaha-1 (1001), inside 231
    elsewhere_head: Person  # block coordinator, Patna Sadar (1010), district 230
    volunteer: Person  # booth volunteer at 1-2 (Bagaha-1)
    ramnagar: Person  # booth volunteer at 2-1 (231, Ramnagar block)
    sms_only: Person  # booth volunteer at 1-3, SMS only
    patna: Person  # booth volunteer at 181-1 (district 230)
    users: dict[str, Any]

    def client(self, name: str) -> Client:
        return client_for(self.users[name])


@pytest.fixture
def world() -> World:
    tree = build_bihar()
    district_head = register(1, tree.booth, role=Role.DISTRICT_COORDINATOR, unit=tree.champaran)
    block_head = register(2, tree.booth, role=Role.BLOCK_COORDINATOR, unit=tree.bagaha)
    elsewhere_head = register(3, booth("181-1"), role=Role.BLOCK_COORDINATOR, unit=tree.patna_sadar)
    volunteer = register(4, tree.booth)
    ramnagar = register(5, booth("2-1"))
    sms_only = register(6, booth("1-3"), channels=[Channel.SMS])
    patna = register(7, booth("181-1"))
    users = {
        "district": login(district_head, "district-head"),
        "block": login(block_head, "block-head"),
        "elsewhere": login(elsewhere_head, "elsewhere-head"),
        "volunteer": login(volunteer, "saathi"),
    }
    return World(district_head, block_head, elsewhere_head, volunteer, ramnagar, sms_only, patna, users)


def compose_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text_hi": "नमस्ते साथियों",
        "text_en": "Hello friends",
        "units": ["district:231"],
        "more_units": "",
        "channels": ["sms"],
    }
    data.update(overrides)
    return data


def html(response: Any) -> str:
    return response.content.decode()


def counts(response: Any) -> dict[str, int]:
    """channel -> count from the live count partial."""
    found = re.findall(r'data-channel="(\w+)">.*?data-count>([\d,]+)<', html(response), re.S)
    return {channel: int(n.replace(",", "")) for channel, n in found}


def progress_cell(response: Any, channel: str, column: int) -> int:
    row = re.search(rf'<tr data-channel="{channel}">(.*?)</tr>', html(response), re.S)
    assert row, f"no progress row for {channel}"
    cell = re.search(rf'data-cell="{column}">([\d,]+)<', row.group(1))
    assert cell
    return int(cell.group(1).replace(",", ""))


def errors(response: Any) -> dict[str, str]:
    return dict(re.findall(r'data-error="(\w+)">([^<]*)<', html(response)))


def broadcast_by(user: Any, **kw: Any) -> Broadcast:
    kw.setdefault("units", ["district:231"])
    kw.setdefault("channels", ["sms"])
    message = Message.objects.create(text_hi="नमस्ते साथियों", text_en="Hello friends")
    return services.broadcast_create(by=user, message=message, **kw)


# --- compose ------------------------------------------------------------------------------------------


def test_it_creates_a_broadcast_whose_deliveries_reach_only_the_coordinators_district(
    world, django_capture_on_commit_callbacks
):
    client = world.client("district")
    data = compose_data(
        text_hi="नमस्ते\u200d  साथियों\nकल रैली है",
        more_units="district:230",  # outside the district: refused on the field
        channels=["sms", "whatsapp"],
    )
    refused = client.post(reverse("messaging:compose"), data)
    assert refused.status_code == 200
    assert "district:230" in errors(refused)["more_units"]
    assert not Broadcast.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("messaging:compose"), {**data, "more_units": "block:1001"})

    broadcast = Broadcast.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("messaging:detail", args=[broadcast.pk])
    assert broadcast.created_by == world.users["district"]
    assert broadcast.audience.units == ["district:231", "block:1001"]
    # Invisible joiner and double space gone; the line break kept.
    assert broadcast.message.text_hi == "नमस्ते साथियों\nकल रैली है"
    reached = set(Delivery.objects.filter(broadcast=broadcast).values_list("person_id", "channel"))
    in_district = [world.district_head, world.block_head, world.volunteer, world.ramnagar]
    assert reached == {(p.pk, c) for p in in_district for c in ("sms", "whatsapp")} | {
        (world.sms_only.pk, "sms")
    }
    assert broadcast.recipients == 9
    assert len(callbacks) == 1  # sending starts only after the commit


def test_it_sends_a_service_error_back_to_its_field_and_refuses_a_past_time(world):
    client = world.client("district")
    empty = client.post(reverse("messaging:compose"), compose_data(text_hi="  ", text_en=""))
    assert "text_hi" in errors(empty)
    past = timezone.localtime() - datetime.timedelta(hours=1)
    late = client.post(
        reverse("messaging:compose"), compose_data(scheduled_at=past.strftime("%Y-%m-%dT%H:%M"))
    )
    assert "scheduled_at" in errors(late)
    nothing = client.post(reverse("messaging:compose"), compose_data(units=[], channels=[]))
    assert {"units", "channels"} <= set(errors(nothing))
    assert not Broadcast.objects.exists()


def test_it_schedules_a_broadcast_in_india_time(world):
    client = world.client("district")
    later = (timezone.localtime() + datetime.timedelta(days=1)).replace(
        hour=10, minute=30, second=0, microsecond=0
    )
    client.post(reverse("messaging:compose"), compose_data(scheduled_at=later.strftime("%Y-%m-%dT%H:%M")))
    broadcast = Broadcast.objects.get()
    assert broadcast.status == Broadcast.Status.SCHEDULED
    assert timezone.localtime(broadcast.scheduled_at).strftime("%H:%M") == "10:30"
    assert broadcast.scheduled_at == later


def test_it_offers_the_coordinators_own_areas_and_the_channels_that_are_on(world):
    page = html(world.client("district").get(reverse("messaging:compose")))
    assert 'value="district:231"' in page
    assert 'value="district:230"' not in page
    for channel in ("sms", "whatsapp", "telegram", "email"):
        assert f'name="channels" value="{channel}"' in page


def test_a_booth_volunteer_may_not_compose(world):
    client = world.client("volunteer")
    assert client.get(reverse("messaging:compose")).status_code == 403
    assert client.post(reverse("messaging:compose"), compose_data()).status_code == 403
    assert client.post(reverse("messaging:count"), compose_data(), HTTP_HX_REQUEST="true").status_code == 403
    assert not Broadcast.objects.exists()
    assert 'id="compose-link"' not in html(client.get(reverse("messaging:list")))


def test_it_counts_recipients_per_channel_live(world):
    people.consent_withdraw(contact_point=world.ramnagar.contact_points.get(channel=Channel.SMS))
    client = world.client("district")
    url = reverse("messaging:count")

    whole = client.post(url, compose_data(channels=["sms", "whatsapp"]), HTTP_HX_REQUEST="true")
    # SMS: both heads, the volunteer, SMS-only (not Ramnagar: withdrawn). WhatsApp: all but SMS-only.
    assert counts(whole) == {"sms": 4, "whatsapp": 4}
    assert "data-total>8<" in html(whole)
    assert "<html" not in html(whole)  # a partial

    block = client.post(
        url, compose_data(units=[], more_units="block:1001", channels=["sms"]), HTTP_HX_REQUEST="true"
    )
    assert counts(block) == {"sms": 4}

    volunteers = client.post(
        url, compose_data(roles=[Role.BOOTH_VOLUNTEER], channels=["sms", "telegram"]), HTTP_HX_REQUEST="true"
    )
    assert counts(volunteers) == {"sms": 2, "telegram": 0}

    bad = client.post(url, compose_data(units=[], more_units="block:99999"), HTTP_HX_REQUEST="true")
    assert "block:99999" in errors(bad)["more_units"]

    people.tags_set(person=world.sms_only, names=["Student"])
    tagged = client.post(url, compose_data(tags="student, teacher", channels=["sms"]), HTTP_HX_REQUEST="true")
    assert counts(tagged) == {"sms": 1}


def test_it_previews_each_language_with_sms_parts(world):
    long_hindi = "क" * 71  # UCS-2: 70 characters fit one SMS
    response = world.client("district").post(
        reverse("messaging:preview"),
        {"text_hi": long_hindi, "text_en": "Hello", "channels": ["sms", "telegram"]},
        HTTP_HX_REQUEST="true",
    )
    page = html(response)
    assert 'data-preview="sms"' in page and 'data-preview="telegram"' in page
    assert 'data-preview="whatsapp"' not in page
    sms = page.split('data-preview="sms"')[1].split('data-preview="telegram"')[0]
    assert long_hindi in sms and "Hello" in sms
    assert re.findall(r"data-parts>(\d+) ", sms) == ["2", "1"]


# --- list and detail ----------------------------------------------------------------------------------


def test_it_lists_broadcasts_by_creator_and_scope(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        by_district = broadcast_by(world.users["district"])
        by_block = broadcast_by(world.users["block"], units=["block:1001"])

    def listed(name: str) -> set[int]:
        page = html(world.client(name).get(reverse("messaging:list")))
        return {int(pk) for pk in re.findall(r'data-broadcast="(\d+)"', page)}

    assert listed("district") == {by_district.pk, by_block.pk}  # the block is inside the district
    assert listed("block") == {by_block.pk}  # a district post is not inside the block
    assert listed("elsewhere") == set()
    assert listed("volunteer") == set()


def test_it_shows_progress_per_channel_after_the_outbox_sends(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["district"])
    client = world.client("district")
    url = reverse("messaging:detail", args=[broadcast.pk])

    sending = client.get(url, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in html(sending)  # polls while sending
    assert "<html" not in html(sending)

    stats = dispatch.dispatch_channel("sms", transport=Outbox("sms"))

    assert stats.sent == 5
    page = client.get(url)
    assert progress_cell(page, "sms", SENT_COLUMN) == 5
    assert progress_cell(page, "all", SENT_COLUMN) == 5
    assert 'data-status="done"' in html(page)
    assert 'hx-trigger="every 2s"' not in html(page)  # done: polling stops


def test_a_big_broadcasts_counts_are_shared_for_a_moment_and_a_small_ones_never(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sampark.messaging import selectors

    with django_capture_on_commit_callbacks():
        big = broadcast_by(world.users["district"])
        small = broadcast_by(world.users["district"])
    assert big.recipients == small.recipients == 5
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_ROWS", 5)
    Broadcast.objects.filter(pk=small.pk).update(recipients=4)
    small.refresh_from_db()
    queued = int(Delivery.Status.QUEUED)

    assert selectors.progress(big).totals == {queued: 5}
    assert selectors.progress_by_broadcast([big, small])[small.pk].totals == {queued: 5}
    Delivery.objects.filter(broadcast__in=[big, small]).update(status=Delivery.Status.SENT)
    with CaptureQueriesContext(connection) as counted:
        assert selectors.progress(big).totals == {queued: 5}  # the moment-old counts
        listed = selectors.progress_by_broadcast([big, small])
    assert listed[big.pk].totals == {queued: 5}
    assert listed[small.pk].totals == {int(Delivery.Status.SENT): 5}  # below the threshold: fresh
    assert len(counted.captured_queries) == 1  # only the small one was counted

    time.sleep(selectors.PROGRESS_CACHE_SECONDS + 0.2)
    assert selectors.progress(big).totals == {int(Delivery.Status.SENT): 5}
    assert selectors.progress_by_broadcast([big])[big.pk].totals == {int(Delivery.Status.SENT): 5}


def test_it_lists_the_commonest_failure_reasons(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["district"])
    Delivery.objects.filter(broadcast=broadcast, person__in=[world.volunteer, world.sms_only]).update(
        status=Status.FAILED, error_code="131026", error_reason="not on this channel"
    )
    page = html(world.client("district").get(reverse("messaging:detail", args=[broadcast.pk])))
    failures = page.split('id="failures"')[1]
    assert re.search(r"131026</td>\s*<td>not on this channel</td>\s*<td class=\"num\">2<", failures)


def test_the_creator_pauses_resumes_and_cancels_and_others_cannot(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["block"], units=["block:1001"])
    creator, district = world.client("block"), world.client("district")

    def act(client: Client, action: str) -> Any:
        with django_capture_on_commit_callbacks():
            return client.post(reverse(f"messaging:{action}", args=[broadcast.pk]))

    def status() -> str:
        broadcast.refresh_from_db()
        return broadcast.status

    # The district coordinator sees it but may not touch it.
    seen = district.get(reverse("messaging:detail", args=[broadcast.pk]))
    assert seen.status_code == 200 and 'id="broadcast-actions"' not in html(seen)
    assert act(district, "pause").status_code == 403
    assert status() == Broadcast.Status.SENDING

    assert 'id="broadcast-actions"' in html(creator.get(reverse("messaging:detail", args=[broadcast.pk])))
    assert act(creator, "pause").status_code == 302
    assert status() == Broadcast.Status.PAUSED
    act(creator, "resume")
    assert status() == Broadcast.Status.SENDING
    assert act(district, "cancel").status_code == 403
    act(creator, "cancel")
    assert status() == Broadcast.Status.CANCELLED
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {
        Status.CANCELLED
    }

    again = creator.post(reverse("messaging:resume", args=[broadcast.pk]), follow=True)
    assert "alert-danger" in html(again)  # the service's refusal, as a message


def test_a_coordinator_elsewhere_gets_404_for_another_districts_broadcast(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["district"])
    elsewhere = world.client("elsewhere")
    assert elsewhere.get(reverse("messaging:detail", args=[broadcast.pk])).status_code == 404
    assert elsewhere.post(reverse("messaging:cancel", args=[broadcast.pk])).status_code == 404
    assert world.client("block").get(reverse("messaging:detail", args=[broadcast.pk])).status_code == 404
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SENDING


# --- the phone simulator ------------------------------------------------------------------------------


def test_the_simulator_shows_what_a_person_got_and_stop_typed_there_unsubscribes_them(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        broadcast_by(world.users["district"])
    dispatch.dispatch_channel("sms", transport=Outbox("sms"))
    client = world.client("district")
    url = reverse("messaging:simulator-person", args=[world.volunteer.pk])

    phone = html(client.get(url))
    assert re.search(r'data-status="sent">.*?नमस्ते साथियों', phone, re.S)  # the person's language: Hindi
    assert "✓" in phone

    point = ContactPoint.objects.get(person=world.volunteer, channel=Channel.SMS)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("messaging:simulator-send", args=[world.volunteer.pk]),
            {"point": point.pk, "text": " stop "},
        )

    assert response.status_code == 302
    point.refresh_from_db()
    assert not point.consent_live
    confirmation = Delivery.objects.get(person=world.volunteer, broadcast__isnull=True)
    assert (confirmation.channel, confirmation.status) == ("sms", Status.QUEUED)
    assert len(callbacks) == 1  # the confirmation is kicked after the commit
    inbound = InboundMessage.objects.get()
    assert inbound.action == InboundMessage.Action.STOP
    assert inbound.provider_message_id.startswith("sim-")
    phone = html(client.get(url))
    assert f'data-inbound="{inbound.pk}"' in phone
    assert f'data-delivery="{confirmation.pk}" data-status="queued"' in phone


def test_the_simulator_finds_people_in_scope_only(world):
    client = world.client("district")
    found = html(client.get(reverse("messaging:simulator"), {"q": "Person"}, HTTP_HX_REQUEST="true"))
    listed = {int(pk) for pk in re.findall(r'data-person="(\d+)"', found)}
    assert world.volunteer.pk in listed and world.ramnagar.pk in listed
    assert world.patna.pk not in listed and world.elsewhere_head.pk not in listed
    assert str(world.volunteer.phone) in found  # a district coordinator may see numbers


def test_a_coordinator_elsewhere_gets_404_for_another_districts_person_in_the_simulator(world):
    elsewhere = world.client("elsewhere")
    point = ContactPoint.objects.get(person=world.volunteer, channel=Channel.SMS)
    assert elsewhere.get(reverse("messaging:simulator-person", args=[world.volunteer.pk])).status_code == 404
    send = reverse("messaging:simulator-send", args=[world.volunteer.pk])
    assert elsewhere.post(send, {"point": point.pk, "text": "STOP"}).status_code == 404
    point.refresh_from_db()
    assert point.consent_live
    assert elsewhere.get(reverse("messaging:simulator-person", args=[world.patna.pk])).status_code == 200


def test_a_volunteer_may_read_a_neighbours_phone_but_not_answer_as_them(world):
    neighbour = register(8, world.volunteer.home_booth)
    client = world.client("volunteer")
    page = client.get(reverse("messaging:simulator-person", args=[neighbour.pk]))
    assert page.status_code == 200 and 'id="simulator-send"' not in html(page)
    point = ContactPoint.objects.get(person=neighbour, channel=Channel.SMS)
    send = reverse("messaging:simulator-send", args=[neighbour.pk])
    assert client.post(send, {"point": point.pk, "text": "STOP"}).status_code == 403
    point.refresh_from_db()
    assert point.consent_live


# --- language and admin -------------------------------------------------------------------------------


def test_it_renders_the_ui_in_hindi_and_in_english_on_request(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["district"])
    client = world.client("district")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    hindi = html(client.get(reverse("messaging:detail", args=[broadcast.pk])))
    assert '<html lang="hi">' in hindi
    assert "लोग" in hindi  # the navigation, in Hindi
    assert "नमस्ते साथियों" in hindi

    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    english = html(client.get(reverse("messaging:list")))
    assert '<html lang="en">' in english
    assert ">Broadcasts</a>" in english


def test_the_admin_scopes_deliveries_hides_numbers_and_warns_about_whatsapp(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        broadcast = broadcast_by(world.users["district"])
    admin = get_user_model().objects.create_superuser("root", password="a long enough passphrase")
    root = client_for(admin)

    changelist = root.get(reverse("admin:messaging_broadcast_changelist"))
    assert changelist.status_code == 200
    assert "बिज़नेस मैसेजिंग नीति" in html(changelist)  # the policy warning, in Hindi (the default)
    deliveries = root.get(reverse("admin:messaging_delivery_changelist"), {"broadcast": broadcast.pk})
    assert deliveries.status_code == 200
    assert len(deliveries.context["cl"].result_list) == 5
    assert str(world.volunteer.phone)[-6:] not in html(deliveries)

    staff = world.users["elsewhere"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_delivery", "view_broadcast"]))
    theirs = client_for(staff).get(reverse("admin:messaging_delivery_changelist"))
    assert theirs.status_code == 200
    assert list(theirs.context["cl"].result_list) == []
    assert (
        list(client_for(staff).get(reverse("admin:messaging_broadcast_changelist")).context["cl"].result_list)
        == []
    )
