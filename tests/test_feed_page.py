"""The volunteer feed: a volunteer of booth 1-2 (Harnatand, Bagaha-1, Pashchim Champaran) sees the
streams of the state, their district and their booth — never Patna's — newest first and in their
language; new ticks come by polling; every share tap is recorded and handed to the exact share intent;
"I posted it" counts once; first views are counted once per person and tick; and the first load weighs
at most 60 KB without fonts."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from sampark.content import services as content
from sampark.content.models import Item
from sampark.feed import services
from sampark.feed.models import Acknowledgement, Share, TickReach
from sampark.people.models import Role
from sampark.people.scope import EVERYTHING
from sampark.streams import services as streams
from sampark.streams.models import Stream, Tick
from tests.helpers.campaign import (
    NOON,
    Campaign,
    feed_url,
    html,
    login,
    register,
)

pytestmark = pytest.mark.django_db
FIRST_LOAD_BUDGET = 60 * 1024


def card_ticks(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-tick="(\d+)"', page)]


def card_texts(page: str) -> list[str]:
    return re.findall(r'<p class="t" data-line>([^<]*)</p>', page)


# --- what a volunteer sees -----------------------------------------------------------------------------


def test_it_shows_the_streams_of_the_booth_and_its_ancestors_newest_first_in_hindi(client, campaign):
    first = campaign.publish(NOON)
    later = campaign.publish(NOON + datetime.timedelta(seconds=31))
    assert len(first) == len(later) == 7  # every stream ticked twice
    _link, token = services.link_issue(person=campaign.volunteer)

    response = client.get(feed_url(token))

    assert response.status_code == 200
    page = html(response)
    assert '<html lang="hi">' in page
    assert response["Content-Language"] == "hi"
    mine = {"state", "district", "panchayat", "booth"}
    expected = sorted(
        (t for t in first + later if t.stream.name in mine),
        key=lambda t: (t.published_at, t.pk),
        reverse=True,
    )
    assert card_ticks(page) == [t.pk for t in expected]
    texts = card_texts(page)
    assert {"बिहार बदलेगा 2", "चंपारण चलो 2", "हरनाटांड़ जागो 2", "बूथ चलो 2"} == set(texts[:4])
    assert not [t for t in texts if "पटना" in t or "नौरंगिया" in t]  # another district, another booth


def test_it_speaks_english_to_a_volunteer_who_prefers_it(client, campaign):
    campaign.publish(NOON)
    _link, token = services.link_issue(person=campaign.neighbour)
    response = client.get(feed_url(token), HTTP_ACCEPT_LANGUAGE="hi")
    page = html(response)
    assert '<html lang="en">' in page
    assert response["Content-Language"] == "en"
    assert "To the booth 1" in card_texts(page)
    assert "I posted it" in page


def test_it_shows_patna_its_own_streams_only(client, campaign):
    campaign.publish(NOON)
    _link, token = services.link_issue(person=campaign.patna)
    texts = card_texts(html(client.get(feed_url(token))))
    assert sorted(texts) == sorted(["बिहार बदलेगा 1", "पटना पुकारे 1", "पटना बूथ 1"])


def test_it_is_never_cached_and_never_tells_another_site_its_address(client, campaign):
    campaign.publish(NOON)
    _link, token = services.link_issue(person=campaign.volunteer)
    newest = card_ticks(html(client.get(feed_url(token))))[0]
    for response in (
        client.get(feed_url(token)),
        client.get(feed_url(token, f"poll/?after={newest}")),
        client.get(feed_url(token, f"share/{newest}/whatsapp/")),
        client.get(feed_url("x" * 32)),
    ):
        assert response["Cache-Control"] == "private, no-store"
        assert response["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in client.get(feed_url(token)).headers


def test_it_hides_ticks_of_items_retired_since(client, campaign):
    ticks = campaign.publish(NOON)
    booth_tick = next(t for t in ticks if t.stream.name == "booth")
    content.item_retire(item=booth_tick.item, by=campaign.editors.reviewer)
    _link, token = services.link_issue(person=campaign.volunteer)
    page = html(client.get(feed_url(token)))
    assert booth_tick.pk not in card_ticks(page)
    assert len(card_ticks(page)) == 3


def test_it_labels_synthetic_content_on_the_card_and_in_what_is_shared(client, campaign):
    item = campaign.editors.approved("कृत्रिम चित्र वाला नारा", ai_generated=True)
    streams.stream_create(by=EVERYTHING, name="ai", unit=campaign.tree.booth, items=[item], now=NOON)
    tick = next(t for t in campaign.publish(NOON) if t.item_id == item.pk)
    _link, token = services.link_issue(person=campaign.volunteer)

    page = html(client.get(feed_url(token)))

    card = re.search(rf'<article class="c ai" id="t{tick.pk}".*?</article>', page, re.S)
    assert card, "the synthetic item's card is marked"
    assert '<div class="ai-l" role="note" data-line>AI-generated / कृत्रिम</div>' in card.group(0)
    others = re.findall(r'<article class="c" id="t\d+"', page)
    assert len(others) == 4  # only the synthetic card carries the label
    shared = client.get(feed_url(token, f"share/{tick.pk}/whatsapp/"))
    assert (
        shared.url
        == "https://wa.me/?text=AI-generated%20%2F%20%E0%A4%95%E0%A5%83%E0%A4%A4%E0%A5%8D%E0%A4%B0%E0%A4%BF%E0%A4%AE%0A%E0%A4%95%E0%A5%83%E0%A4%A4%E0%A5%8D%E0%A4%B0%E0%A4%BF%E0%A4%AE%20%E0%A4%9A%E0%A4%BF%E0%A4%A4%E0%A5%8D%E0%A4%B0%20%E0%A4%B5%E0%A4%BE%E0%A4%B2%E0%A4%BE%20%E0%A4%A8%E0%A4%BE%E0%A4%B0%E0%A4%BE"
    )


# --- live updates --------------------------------------------------------------------------------------


def test_it_answers_a_poll_with_only_the_ticks_newer_than_the_newest_shown(client, campaign):
    campaign.publish(NOON)
    _link, token = services.link_issue(person=campaign.volunteer)
    shown = card_ticks(html(client.get(feed_url(token))))

    nothing = client.get(feed_url(token, f"poll/?after={max(shown)}"))
    assert nothing.status_code == 204
    assert nothing.content == b""

    fresh = campaign.publish(NOON + datetime.timedelta(seconds=31))
    response = client.get(feed_url(token, f"poll/?after={max(shown)}"))

    assert response.status_code == 200
    mine = [t for t in fresh if t.stream.name in {"state", "district", "panchayat", "booth"}]
    assert card_ticks(html(response)) == sorted((t.pk for t in mine), reverse=True)
    assert "<html" not in html(response)  # a fragment to put on top
    assert client.get(feed_url(token, "poll/?after=x")).status_code == 400
    assert client.get(feed_url(token, "poll/")).status_code == 400


def test_a_page_of_older_posts_does_not_poll(client, campaign):
    for step in range(4):
        campaign.publish(NOON + datetime.timedelta(seconds=31 * step))
    _link, token = services.link_issue(person=campaign.volunteer)
    page = html(client.get(feed_url(token)))
    assert 'data-poll="poll/"' in page
    ticks = card_ticks(page)
    assert len(ticks) == 12
    older = re.search(r'href="\?before=(\d+)"', page)
    assert older and int(older.group(1)) == ticks[-1]
    rest = html(client.get(feed_url(token, f"?before={ticks[-1]}")))
    assert "data-poll" not in rest
    assert card_ticks(rest) and max(card_ticks(rest)) < min(ticks)
    assert len(ticks) + len(card_ticks(rest)) == 16


def test_a_poll_costs_two_queries_and_the_page_a_fixed_number(client, campaign, django_assert_num_queries):
    for step in range(3):
        campaign.publish(NOON + datetime.timedelta(seconds=31 * step))
    _link, token = services.link_issue(person=campaign.volunteer)
    newest = max(card_ticks(html(client.get(feed_url(token)))))
    client.get(feed_url(token, f"poll/?after={newest}"))  # last use recorded
    # The link (with the person's language and booth), the new tick ids of the person's streams.
    with django_assert_num_queries(2):
        assert client.get(feed_url(token, f"poll/?after={newest}")).status_code == 204
    # A reload: the link, the person, the booth's streams and one query per stream (4), the
    # acknowledgements, the batch (its counts are skipped when there is none); no writes, all seen.
    with django_assert_num_queries(9):
        client.get(feed_url(token))


# --- sharing -----------------------------------------------------------------------------------------

INTENTS = {
    "whatsapp": "https://wa.me/?text=%E0%A4%AC%E0%A5%82%E0%A4%A5%20%E0%A4%9A%E0%A4%B2%E0%A5%8B%21%0A%23BoothChalo%20%23Bihar%0Ahttps%3A%2F%2Fexample.org%2Fboothchalo%3Fa%3D1%26b%3D2",
    "telegram": "https://t.me/share/url?url=https%3A%2F%2Fexample.org%2Fboothchalo%3Fa%3D1%26b%3D2&text=%E0%A4%AC%E0%A5%82%E0%A4%A5%20%E0%A4%9A%E0%A4%B2%E0%A5%8B%21%0A%23BoothChalo%20%23Bihar",
    "x": "https://twitter.com/intent/tweet?text=%E0%A4%AC%E0%A5%82%E0%A4%A5%20%E0%A4%9A%E0%A4%B2%E0%A5%8B%21%0A%23BoothChalo%20%23Bihar%0Ahttps%3A%2F%2Fexample.org%2Fboothchalo%3Fa%3D1%26b%3D2",
    "facebook": "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fexample.org%2Fboothchalo%3Fa%3D1%26b%3D2",
}


@pytest.fixture
def linked_tick(campaign) -> tuple[Campaign, str, Tick]:
    item = campaign.editors.approved(
        "बूथ चलो!",
        "To the booth!",
        hashtags="#BoothChalo #Bihar",
        link="https://example.org/boothchalo?a=1&b=2",
    )
    streams.stream_create(by=EVERYTHING, name="linked", unit=campaign.tree.booth, items=[item], now=NOON)
    tick = next(t for t in campaign.publish(NOON) if t.item_id == item.pk)
    _link, token = services.link_issue(person=campaign.volunteer)
    return campaign, token, tick


@pytest.mark.parametrize("target", list(INTENTS))
def test_it_records_a_share_tap_and_hands_over_to_the_exact_intent(client, linked_tick, target):
    campaign, token, tick = linked_tick

    response = client.get(feed_url(token, f"share/{tick.pk}/{target}/"))

    assert response.status_code == 302
    assert response.url == INTENTS[target]
    share = Share.objects.get()
    assert (share.person, share.tick, share.item_id, share.booth, share.target) == (
        campaign.volunteer,
        tick,
        tick.item_id,
        campaign.tree.booth,
        target,
    )


def test_the_share_buttons_go_through_the_tracked_links(client, linked_tick):
    _campaign, token, tick = linked_tick
    page = html(client.get(feed_url(token)))
    for target in INTENTS:
        assert f'href="share/{tick.pk}/{target}/"' in page
    assert f'data-copy="share/{tick.pk}/copy/"' in page
    # Relative links: the token is written once (the address bar), not on every button.
    assert token not in page


def test_it_offers_no_facebook_without_a_link_and_gives_telegram_the_text_as_its_url(client, campaign):
    tick = next(t for t in campaign.publish(NOON) if t.stream.name == "booth")
    _link, token = services.link_issue(person=campaign.volunteer)
    page = html(client.get(feed_url(token)))
    assert f"share/{tick.pk}/facebook/" not in page
    assert client.get(feed_url(token, f"share/{tick.pk}/facebook/")).status_code == 404
    telegram = client.get(feed_url(token, f"share/{tick.pk}/telegram/"))
    assert (
        telegram.url
        == "https://t.me/share/url?url=%E0%A4%AC%E0%A5%82%E0%A4%A5%20%E0%A4%9A%E0%A4%B2%E0%A5%8B%201"
    )
    assert list(Share.objects.values_list("target", flat=True)) == ["telegram"]


def test_it_never_turns_a_non_web_link_into_an_address(client, campaign):
    item = campaign.editors.approved("बूथ चलो")
    # The content services refuse such links; a row written some other way must still be harmless here.
    Item.objects.filter(pk=item.pk).update(
        link="javascript:alert(document.cookie)", image_url="data:image/png;base64,AAAA"
    )
    streams.stream_create(by=EVERYTHING, name="odd", unit=campaign.tree.booth, items=[item], now=NOON)
    tick = next(t for t in campaign.publish(NOON) if t.item_id == item.pk)
    _link, token = services.link_issue(person=campaign.volunteer)
    page = html(client.get(feed_url(token)))
    assert "javascript:" not in page and "data:image" not in page
    assert f"share/{tick.pk}/facebook/" not in page
    shared = client.get(feed_url(token, f"share/{tick.pk}/whatsapp/"))
    assert shared.url == "https://wa.me/?text=%E0%A4%AC%E0%A5%82%E0%A4%A5%20%E0%A4%9A%E0%A4%B2%E0%A5%8B"


def test_it_records_a_copy_from_the_pages_beacon_only(client, linked_tick):
    campaign, token, tick = linked_tick
    assert client.get(feed_url(token, f"share/{tick.pk}/copy/")).status_code == 404
    response = client.post(feed_url(token, f"share/{tick.pk}/copy/"))
    assert response.status_code == 204
    assert list(Share.objects.values_list("target", "person_id")) == [("copy", campaign.volunteer.pk)]


def test_it_refuses_to_share_a_tick_from_outside_the_volunteers_streams(client, campaign):
    ticks = campaign.publish(NOON)
    patna_tick = next(t for t in ticks if t.stream.name == "patna")
    _link, token = services.link_issue(person=campaign.volunteer)
    for target in ("whatsapp", "copy"):
        assert client.get(feed_url(token, f"share/{patna_tick.pk}/{target}/")).status_code == 404
    assert client.get(feed_url(token, f"share/{ticks[0].pk}/myspace/")).status_code == 404
    assert client.post(feed_url(token, f"ack/{patna_tick.pk}/")).status_code == 404
    assert not Share.objects.exists()
    assert not Acknowledgement.objects.exists()


def test_it_takes_i_posted_it_once_however_often_it_is_pressed(client, campaign):
    tick = next(t for t in campaign.publish(NOON) if t.stream.name == "booth")
    _link, token = services.link_issue(person=campaign.volunteer)

    plain = client.post(feed_url(token, f"ack/{tick.pk}/"))
    again = client.post(feed_url(token, f"ack/{tick.pk}/"), HTTP_X_FEED="1")

    assert plain.status_code == 303
    assert plain["Location"] == f"../../#t{tick.pk}"
    assert again.status_code == 200
    assert "✓" in html(again)
    ack = Acknowledgement.objects.get()
    assert (ack.person, ack.tick, ack.item_id, ack.booth) == (
        campaign.volunteer,
        tick,
        tick.item_id,
        campaign.tree.booth,
    )
    assert services.acknowledge(person=campaign.volunteer, tick=tick) == ack
    page = html(client.get(feed_url(token)))
    card = re.search(rf'id="t{tick.pk}".*?</article>', page, re.S)
    assert card and "ack/" not in card.group(0) and "✓" in card.group(0)
    assert client.get(feed_url(token, f"ack/{tick.pk}/")).status_code == 405


# --- counting views -------------------------------------------------------------------------------------


def reach(tick: Tick) -> dict[str, int]:
    return {r.booth.code: r.views for r in TickReach.objects.filter(tick=tick).select_related("booth")}


def test_it_counts_a_view_once_per_person_and_tick(client, campaign):
    first = next(t for t in campaign.publish(NOON) if t.stream.name == "booth")
    _link, token = services.link_issue(person=campaign.volunteer)
    _link, neighbour = services.link_issue(person=campaign.neighbour)

    client.get(feed_url(token))
    client.get(feed_url(token))  # a reload
    assert reach(first) == {"1-2": 1}
    assert TickReach.objects.get(tick=first).item_id == first.item_id
    client.get(feed_url(neighbour))
    assert reach(first) == {"1-2": 2}

    second = next(
        t for t in campaign.publish(NOON + datetime.timedelta(seconds=31)) if t.stream.name == "booth"
    )
    client.get(feed_url(token, f"poll/?after={first.pk}"))
    client.get(feed_url(token, f"poll/?after={first.pk}"))  # the same poll again: seen already
    client.get(feed_url(token))
    assert reach(second) == {"1-2": 1}
    assert reach(first) == {"1-2": 2}
    # A new link is not a new reader.
    _link, rotated = services.link_issue(person=campaign.volunteer)
    client.get(feed_url(rotated))
    assert reach(second) == {"1-2": 1}


def test_it_counts_views_per_booth(client, campaign):
    state_tick = next(t for t in campaign.publish(NOON) if t.stream.name == "state")
    for person in (campaign.volunteer, campaign.patna):
        _link, token = services.link_issue(person=person)
        client.get(feed_url(token))
    assert reach(state_tick) == {"1-2": 1, "181-1": 1}


# --- weight -----------------------------------------------------------------------------------------


def first_load_bytes(client: Client, url: str) -> tuple[int, dict[str, int]]:
    """The page plus every stylesheet and script it references (fonts excluded: they are only named
    inside the CSS), in bytes as served without compression."""
    page = client.get(url)
    assert page.status_code == 200
    sizes = {"html": len(page.content)}
    text = page.content.decode()
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)
    assets += re.findall(r'<script src="([^"]+)"', text)
    assert len(assets) == 2, assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        path = finders.find(asset.removeprefix("/static/"))
        assert path, asset
        sizes[asset] = Path(path).stat().st_size
    return sum(sizes.values()), sizes


def test_the_first_load_weighs_at_most_60_kb_without_fonts(client, campaign):
    """A full page: 12 cards of long Hindi slogans with hashtags, links and images, one of them
    synthetic, and a batch of 25 click-to-chat contacts."""
    long = "बूथ स्तर पर हर घर तक पहुँचना है, हर मतदाता से बात करनी है और हर युवा को जोड़ना है। " * 3
    items = [
        campaign.editors.approved(
            f"{long}{i}",
            hashtags="#BoothChalo #Bihar #YuvaSaathi",
            link=f"https://example.org/campaign/booth-chalo/{i}",
            image_url=f"https://example.org/images/slogan-{i}.jpg",
            ai_generated=i == 0,
        )
        for i in range(12)
    ]
    streams.stream_create(by=EVERYTHING, name="long", unit=campaign.tree.booth, items=items, now=NOON)
    Stream.objects.exclude(name="long").update(status=Stream.Status.PAUSED, next_tick_at=None)
    for step in range(12):
        campaign.publish(NOON + datetime.timedelta(seconds=31 * step))
    for n in range(25):
        register(100 + n, campaign.tree.booth, role="")
    coordinator = register(
        8, campaign.tree.booth, role=Role.PANCHAYAT_COORDINATOR, unit=campaign.tree.harnatand
    )
    services.assignment_create(
        by=login(coordinator, "coordinator"),
        title="दिवाली की शुभकामनाएँ",
        template="नमस्ते {name} जी, दिवाली की हार्दिक शुभकामनाएँ! इस बार बूथ पर ज़रूर आइए।",
        unit_key="booth:1-2",
        batch_size=25,
    )
    _link, token = services.link_issue(person=campaign.volunteer)  # the first of the booth's volunteers

    total, sizes = first_load_bytes(client, feed_url(token))

    page = html(client.get(feed_url(token)))
    assert len(card_ticks(page)) == 12
    assert page.count('href="chat/') == 25
    assert "AI-generated / कृत्रिम" in page
    assert total <= FIRST_LOAD_BUDGET, sizes
