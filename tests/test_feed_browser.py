"""A real phone-sized browser opens a Hindi volunteer's feed, sees a new post arrive without a reload,
taps WhatsApp (the share is recorded and WhatsApp gets the exact text), copies a post, says "I posted
it", and leaves a screenshot. Nothing leaves the machine: wa.me is intercepted, everything else
outside the test server is refused."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from sampark.feed import services, views
from sampark.feed.models import Acknowledgement, AssignmentContact, Share
from sampark.people import services as people
from sampark.people.models import Role
from sampark.people.scope import EVERYTHING
from sampark.streams import services as streams
from tests.helpers.campaign import NOON, build_campaign, login, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MINE = {"state", "district", "panchayat", "booth", "ai"}  # the streams of booth 1-2 and its ancestors

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def hi(message: str) -> str:
    """A UI string as the Hindi (default) pages show it."""
    with translation.override("hi"):
        return gettext(message)


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still
    # synchronous, so Django's guard against ORM use inside a running loop does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run"],
        )
        yield browser
        browser.close()


def test_it_shows_a_new_post_without_reload_and_records_a_whatsapp_share(browser, live_server, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setattr(views, "POLL_SECONDS", 1)  # the page polls every second instead of every ten
    campaign = build_campaign()
    synthetic = campaign.editors.approved("कृत्रिम चित्र: हर बूथ पर युवा साथी", ai_generated=True)
    streams.stream_create(by=EVERYTHING, name="ai", unit=campaign.tree.booth, items=[synthetic], now=NOON)
    shown = [t for t in campaign.publish(NOON) if t.stream.name in MINE]
    for n in (1, 2, 3):
        people.person_register(
            name=f"मतदाता {n}", phone=f"91234{n:05d}", age=40, home_booth=campaign.tree.booth
        )
    coordinator = register(
        9, campaign.tree.booth, role=Role.PANCHAYAT_COORDINATOR, unit=campaign.tree.harnatand
    )
    services.assignment_create(
        by=login(coordinator, "coordinator"),
        title="रविवार की बैठक",
        template="नमस्ते {name} जी, रविवार को बूथ पर मिलिए।",
        unit_key="booth:1-2",
        batch_size=2,
    )
    _link, token = services.link_issue(person=campaign.volunteer)

    context = browser.new_context(locale="hi-IN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    whatsapp: list[str] = []
    outside: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(live_server.url):
            route.continue_()
        elif url.startswith("https://wa.me/"):
            whatsapp.append(url)
            route.fulfill(status=200, content_type="text/plain", body="WhatsApp (intercepted)")
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{live_server.url}/f/{token}/")

    expect(page.locator("html")).to_have_attribute("lang", "hi")
    cards = page.locator("#feed [data-tick]")
    expect(cards).to_have_count(len(shown))
    expect(page.locator("#feed")).to_contain_text("बूथ चलो 1")
    page.evaluate("window.notReloaded = true")

    # The ticker publishes the next round while the page is open.
    fresh = streams.publish_due(now=NOON + datetime.timedelta(seconds=31))
    booth_tick = next(t for t in fresh if t.stream.name == "booth")
    new_card = page.locator(f"#t{booth_tick.pk}")
    expect(new_card).to_contain_text("बूथ चलो 2")
    mine = [t for t in fresh if t.stream.name in MINE]
    expect(cards.first).to_have_attribute("data-tick", str(max(t.pk for t in mine)))
    expect(cards).to_have_count(len(shown) + len(mine))
    assert page.evaluate("window.notReloaded") is True

    # The label of synthetic content covers at least a tenth of its card.
    ai_card = page.locator("article.ai").first
    label = ai_card.locator(".ai-l")
    expect(label).to_have_text("AI-generated / कृत्रिम")
    card_box, label_box = ai_card.bounding_box(), label.bounding_box()
    assert label_box["width"] * label_box["height"] >= 0.10 * card_box["width"] * card_box["height"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "feed-hi.png"), full_page=True)

    with context.expect_page() as opened:
        new_card.locator('[data-share="whatsapp"]').click()
    opened.value.wait_for_load_state()
    expect(opened.value.locator("body")).to_have_text("WhatsApp (intercepted)")
    assert whatsapp == [f"https://wa.me/?text={quote('बूथ चलो 2', safe='')}"]
    share = Share.objects.get()
    assert (share.person_id, share.tick_id, share.target) == (
        campaign.volunteer.pk,
        booth_tick.pk,
        "whatsapp",
    )
    opened.value.close()

    # Copy: the text lands on the clipboard and the tap is recorded by a beacon.
    new_card.locator("[data-copy]").click()
    expect(new_card.locator("[data-copy]")).to_have_text(hi("Copied"))
    assert page.evaluate("navigator.clipboard.readText()") == "बूथ चलो 2"
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=10)
    while not Share.objects.filter(target="copy").exists() and datetime.datetime.now() < deadline:
        page.wait_for_timeout(100)
    assert Share.objects.filter(target="copy", tick=booth_tick).count() == 1

    # "I posted it", without a reload.
    new_card.get_by_role("button", name=hi("I posted it")).click()
    expect(new_card.locator(".ok")).to_contain_text("✓")
    assert Acknowledgement.objects.filter(person=campaign.volunteer, tick=booth_tick).count() == 1
    assert page.evaluate("window.notReloaded") is True

    # Click-to-chat: the volunteer's own batch, WhatsApp opened with the message typed in, then marked.
    contacts = page.locator("#assignments li")
    expect(contacts).to_have_count(2)
    first = contacts.first
    expect(first).to_contain_text("मतदाता 1")
    with context.expect_page() as chat:
        first.get_by_role("link", name=hi("Open WhatsApp")).click()
    expect(chat.value.locator("body")).to_have_text("WhatsApp (intercepted)")
    text = quote("नमस्ते मतदाता 1 जी, रविवार को बूथ पर मिलिए।", safe="")
    assert whatsapp[-1] == f"https://wa.me/919123400001?text={text}"
    chat.value.close()
    first.locator('button[value="sent"]').click()  # its label is whatever Hindi the catalogue has
    expect(first.locator('button[value="sent"]')).to_have_count(0)
    expect(first.locator('button[value="replied"]')).to_be_visible()
    assert AssignmentContact.objects.get(contact_point__person__name="मतदाता 1").status == "sent"
    assert page.evaluate("window.notReloaded") is True

    page.screenshot(path=str(ARTIFACTS / "feed-hi-after.png"), full_page=True)
    assert not outside, outside
    context.close()
