"""Content library pages, with personas: a writer (district coordinator of Pashchim Champaran), a
reviewer (block coordinator of Bagaha-1) — both may broadcast, so both may write and approve, but never
their own text — and a booth volunteer, who may not use the library at all."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sampark.content import services
from sampark.content.models import Item
from sampark.people import services as people
from sampark.people.models import Person, Role
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db
State = Item.State
DAY = datetime.date(2026, 1, 5)


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


def alerts(response: Any) -> list[str]:
    return [
        m.strip()
        for m in re.findall(r'<div class="alert alert-\w+" role="alert">([^<]*)</div>', html(response))
    ]


@dataclass
class World:
    writer: Any
    reviewer: Any
    volunteer: Any

    def client(self, name: str, language: str = "en") -> Client:
        return client_for(getattr(self, name), language)


@pytest.fixture
def world() -> World:
    tree = build_bihar()
    writer = login(register(1, tree.booth, role=Role.DISTRICT_COORDINATOR, unit=tree.champaran), "writer")
    reviewer = login(register(2, tree.booth, role=Role.BLOCK_COORDINATOR, unit=tree.bagaha), "reviewer")
    volunteer = login(register(3, tree.booth), "saathi")
    return World(writer, reviewer, volunteer)


def item_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "text_hi": "हर बूथ, दस यूथ",
        "text_en": "Every booth, ten youth",
        "hashtags": "#BoothChalo",
        "topic": "booth",
    }
    data.update(overrides)
    return data


def act(client: Client, action: str, item: Item, **data: Any) -> Any:
    return client.post(reverse(f"content:{action}", args=[item.pk]), data, follow=True)


# --- the workflow -------------------------------------------------------------------------------------


def test_it_takes_an_item_from_draft_to_retired_with_two_people_and_shows_why_the_writer_cannot_approve(
    world,
):
    writer, reviewer = world.client("writer"), world.client("reviewer")

    refused = writer.post(
        reverse("content:create"), item_data(text_hi="500 स्कूल बंद हुए", factual_claim="on", source_url="")
    )
    assert refused.status_code == 200
    assert errors(refused)["source_url"] == "a factual claim needs its source: a link and a note"
    assert not Item.objects.exists()

    created = writer.post(reverse("content:create"), item_data(text_hi="  हर  बूथ, दस यूथ "))
    item = Item.objects.get()
    assert created.status_code == 302 and created.url == reverse("content:detail", args=[item.pk])
    assert (item.state, item.created_by, item.text_hi) == (State.DRAFT, world.writer, "हर बूथ, दस यूथ")

    act(writer, "submit", item)
    own = act(writer, "approve", item)
    assert "someone else must approve what you wrote or edited" in alerts(own)
    assert "data-own-text" in html(own)
    item.refresh_from_db()
    assert item.state == State.REVIEW

    no_note = act(reviewer, "send-back", item, note="  ")
    assert "say what needs changing" in alerts(no_note)
    sent_back = act(reviewer, "send-back", item, note="Add the hashtag #YuvaSaathi")
    item.refresh_from_db()
    assert item.state == State.DRAFT and item.review_note == "Add the hashtag #YuvaSaathi"
    assert "Add the hashtag #YuvaSaathi" in html(sent_back)

    edited = writer.post(
        reverse("content:edit", args=[item.pk]), item_data(hashtags="#BoothChalo #YuvaSaathi"), follow=True
    )
    assert edited.status_code == 200
    act(writer, "submit", item)
    approved = act(reviewer, "approve", item)
    item.refresh_from_db()
    assert (item.state, item.approved_by) == (State.APPROVED, world.reviewer)
    assert "reviewer" in re.search(r"data-approved-by>([^<]*)<", html(approved)).group(1)

    retired = act(reviewer, "retire", item)
    item.refresh_from_db()
    assert item.state == State.RETIRED

    history = re.findall(r'data-revision="(\d+)" data-action="([^"]+)"', html(retired))
    assert [action for _n, action in history] == [
        "created", "submit", "send back", "edited", "submit", "approve", "retire",
    ]  # fmt: skip
    # The edit's row shows what changed: the hashtags, old and new.
    edit_row = re.search(r'data-action="edited">(.*?)</tr>', html(retired), re.S).group(1)
    assert 'data-change="hashtags"' in edit_row and "#BoothChalo #YuvaSaathi" in edit_row
    assert 'data-change="text_hi"' not in edit_row


def test_editing_an_approved_item_warns_and_makes_it_a_draft_again(world):
    item = services.item_create(by=world.writer, text_hi="बूथ चलो")
    services.item_submit(item=item, by=world.writer)
    services.item_approve(item=item, by=world.reviewer)
    reviewer = world.client("reviewer")
    page = reviewer.get(reverse("content:edit", args=[item.pk]))
    assert 'data-warning="back-to-draft"' in html(page)
    reviewer.post(reverse("content:edit", args=[item.pk]), item_data(text_hi="बूथ चलो, जीत पक्की"))
    item.refresh_from_db()
    assert (item.state, item.approved_by, item.edited_by) == (State.DRAFT, None, world.reviewer)


def test_a_paid_advertisement_without_its_certificate_goes_back_to_that_field(world):
    response = world.client("writer").post(reverse("content:create"), item_data(paid_advertisement="on"))
    assert "MCMC" in errors(response)["mcmc_certificate"]
    assert not Item.objects.exists()


# --- the list -----------------------------------------------------------------------------------------


def test_it_filters_the_list_by_state_and_topic_and_searches_both_scripts(world):
    jobs = services.item_create(by=world.writer, text_hi="रोज़गार दो", text_en="Give jobs", topic="jobs")
    booth = services.item_create(by=world.writer, text_hi="बूथ चलो", topic="booth", hashtags="#BoothChalo")
    services.item_submit(item=booth, by=world.writer)
    client = world.client("reviewer")

    def listed(**params: str) -> set[int]:
        return {
            int(pk)
            for pk in re.findall(r'data-item="(\d+)"', html(client.get(reverse("content:list"), params)))
        }

    assert listed() == {jobs.pk, booth.pk}
    assert listed(state="review") == {booth.pk}
    assert listed(topic="jobs") == {jobs.pk}
    assert listed(q="रोज़गार") == {jobs.pk}
    assert listed(q="jobs") == {jobs.pk}
    assert listed(q="#boothchalo") == {booth.pk}
    partial = client.get(reverse("content:list"), {"q": "बूथ"}, headers={"HX-Request": "true"})
    assert html(partial).lstrip().startswith('<div id="item-results">')


def test_only_people_who_may_broadcast_use_the_library(world, client):
    volunteer = world.client("volunteer")
    item = services.item_create(by=world.writer, text_hi="नारा")
    for url in (
        reverse("content:list"),
        reverse("content:create"),
        reverse("content:import"),
        reverse("content:detail", args=[item.pk]),
    ):
        assert volunteer.get(url).status_code == 403
    assert volunteer.post(reverse("content:submit", args=[item.pk])).status_code == 403
    assert client.get(reverse("content:list")).status_code == 302  # not logged in: the login form
    item.refresh_from_db()
    assert item.state == State.DRAFT


# --- import -------------------------------------------------------------------------------------------


def upload(client: Client, text: str, name: str = "slogans.csv") -> Any:
    file = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("content:import"), {"file": file}, follow=True)


def issues(response: Any) -> list[tuple[str, str]]:
    return re.findall(r'data-issue data-line="(\d*)" data-field="(\w*)"', html(response))


def test_an_import_with_a_bad_row_reports_its_line_and_field_and_writes_nothing(world):
    client = world.client("writer")
    bad = (
        "text_hi,text_en,factual_claim,source_url,source_note,ai_generated\n"
        "हर बूथ दस यूथ,Every booth ten youth,no,,,no\n"
        "500 स्कूल बंद,500 schools shut,yes,,,no\n"
        "नया बिहार,New Bihar,no,,,maybe\n"
    )
    response = upload(client, bad)
    assert response.status_code == 200
    assert issues(response) == [("3", "source_url"), ("4", "ai_generated")]
    assert 'data-committed="no"' in html(response)
    assert not Item.objects.exists()

    good = "text_hi,text_en,topic\nहर बूथ दस यूथ,Every booth ten youth,booth\nनया बिहार,New Bihar,\n"
    done = upload(client, good)
    assert 'data-committed="yes"' in html(done)
    assert "2 drafts added for review." in alerts(done)
    assert set(Item.objects.values_list("text_en", "state", "created_by")) == {
        ("Every booth ten youth", State.DRAFT, world.writer.pk),
        ("New Bihar", State.DRAFT, world.writer.pk),
    }
    again = upload(client, good)  # a re-run adds nothing
    assert Item.objects.count() == 2 and 'data-committed="yes"' in html(again)


def test_an_import_without_a_text_column_names_the_header(world):
    response = upload(world.client("writer"), "slogan,topic\nबूथ चलो,booth\n")
    assert issues(response) == [("", "header")]
    assert not Item.objects.exists()


# --- Hindi --------------------------------------------------------------------------------------------


def test_it_renders_the_library_in_hindi(world):
    item = services.item_create(by=world.writer, text_hi="बूथ चलो")
    services.item_submit(item=item, by=world.writer)
    writer = world.client("writer", language="hi")
    page = html(writer.get(reverse("content:list")))
    assert '<html lang="hi">' in page
    assert "लोग" in page  # the navigation
    assert "समीक्षा में" in page  # "In review"
    own = act(writer, "approve", item)
    assert "आपने जो लिखा या बदला है, उसे कोई और स्वीकृत करे" in alerts(own)
