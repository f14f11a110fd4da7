"""A real browser logs in, switches to Hindi and walks from the state down to a booth by clicking links."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.helpers.territory import build_bihar

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


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


def test_it_logs_in_switches_to_hindi_and_walks_to_a_booth(browser, live_server):
    from playwright.sync_api import expect

    build_bihar()
    get_user_model().objects.create_user("volunteer", password="a long enough passphrase")

    # An English-speaking browser: the walk starts in English and the switch makes it Hindi.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_role("button", name="हिंदी").click()
    expect(page.locator("html")).to_have_attribute("lang", "hi")
    expect(page.get_by_role("heading", name="लॉग इन")).to_be_visible()

    page.get_by_label("उपयोगकर्ता नाम").fill("volunteer")
    page.get_by_label("पासवर्ड").fill("a long enough passphrase")
    page.get_by_role("button", name="लॉग इन").click()

    # The only state with booths opens straight away.
    expect(page).to_have_url(f"{live_server.url}/state/10/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("बिहार")
    expect(page.locator('tr[data-district="total"]')).to_contain_text("कुल (2 जिले)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "walk-hi-state.png"), full_page=True)

    page.get_by_role("link", name="पश्चिम चंपारण").click()
    expect(page).to_have_url(f"{live_server.url}/district/231/")
    expect(page.locator(".breadcrumb")).to_contain_text("बिहार")

    page.get_by_role("link", name="वाल्मीकि नगर").click()
    expect(page).to_have_url(f"{live_server.url}/ac/10/1/")
    expect(page.locator("tr[data-booth]")).to_have_count(5)

    # Live search (htmx): typing narrows the list without a page load and keeps the URL shareable.
    page.get_by_role("searchbox").fill("हरनाटांड़")
    expect(page.locator("tr[data-booth]")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"/ac/10/1/\?q="))
    page.screenshot(path=str(ARTIFACTS / "walk-hi-ac-search.png"), full_page=True)
    page.get_by_role("searchbox").fill("2A")
    expect(page.locator("tr[data-booth]")).to_have_count(1)

    page.get_by_role("link", name="1-2A").click()
    expect(page).to_have_url(f"{live_server.url}/booth/10/1-2A/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("पंचायत भवन हरनाटांड़ (सहायक)")
    expect(page.locator("#booth-facts")).to_contain_text("सहायक")
    expect(page.locator("#booth-place")).to_contain_text("1-वाल्मीकि नगर")
    expect(page.locator(".breadcrumb")).to_have_text(
        re.compile(r"बिहार.*पश्चिम चंपारण.*1-वाल्मीकि नगर.*1-2A", re.S)
    )

    # The other way down: block → panchayat → booth.
    page.locator("#booth-place").get_by_role("link", name="बगहा-1").click()
    expect(page.locator('tr[data-panchayat="total"]')).to_contain_text("कुल (2 पंचायतें)")
    page.get_by_role("link", name="हरनाटांड़").click()
    page.get_by_role("link", name="1-2", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/booth/10/1-2/")
    expect(page.locator("#booth-location")).to_contain_text("डिग्री-मिनट-सेकंड से बदला गया")
    expect(page.locator("#booth-facilities")).to_contain_text("हाँ")
    expect(page.locator("#booth-facts")).to_contain_text("1 से 1,234 तक")

    # Hindi is set in Noto Sans Devanagari, served by us like every other asset (no CDN).
    page.evaluate("document.fonts.ready.then(() => true)")
    noto_loaded = page.evaluate(
        "[...document.fonts].some(f => f.family.includes('Noto Sans Devanagari') && f.status === 'loaded')"
    )
    assert noto_loaded
    outside = [url for url in requested if not url.startswith(live_server.url)]
    assert requested and not outside, outside

    page.screenshot(path=str(ARTIFACTS / "walk-hi.png"), full_page=True)
    context.close()
