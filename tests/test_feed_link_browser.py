"""A block coordinator in a real Chromium logs in, opens a volunteer's page, follows "Personal feed link",
issues a link and sees it; the link opens the volunteer's feed. Every page of the walk runs under the
site's Content-Security-Policy, and the browser reports no violation of it (a deliberate inline handler
at the end proves the watch works).

This is the test the old page failed: it sent ``Referrer-Policy: no-referrer``, so Chromium posted the
form with ``Origin: null`` and Django's CSRF check answered 403 — which Django's test client, sending
no Origin at all, never showed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from sampark.feed.models import FeedLink
from sampark.people.models import Role
from tests.helpers.campaign import login, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "a long enough passphrase"  # what tests.helpers.campaign.login gives every login

# Collects every CSP violation the page reports, from the first script on.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


def hi(message: str) -> str:
    with translation.override("hi"):
        return gettext(message)


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls here stay synchronous.
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


def test_it_issues_a_feed_link_in_chromium_under_the_content_security_policy(browser, live_server, campaign):
    from playwright.sync_api import expect

    coordinator = register(10, campaign.tree.booth, role=Role.BLOCK_COORDINATOR, unit=campaign.tree.bagaha)
    login(coordinator, "block-head")
    volunteer = campaign.volunteer

    context = browser.new_context(locale="hi-IN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    context.add_init_script(WATCH_CSP)
    outside: list[str] = []
    console: list[str] = []
    statuses: dict[str, int] = {}

    def route(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda message: console.append(message.text))
    page.on("response", lambda response: statuses.__setitem__(response.url, response.status))
    violations: list[str] = []

    def visited() -> None:
        page.wait_for_load_state("load")
        violations.extend(page.evaluate("window.__csp"))

    page.goto(f"{live_server.url}{reverse('people:detail', args=[volunteer.pk])}")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    visited()
    page.get_by_label(hi("Username")).fill("block-head")
    page.get_by_label(hi("Password")).fill(PASSWORD)
    page.get_by_role("button", name=hi("Log in")).click()
    expect(page).to_have_url(f"{live_server.url}{reverse('people:detail', args=[volunteer.pk])}")
    visited()

    page.get_by_role("link", name=hi("Personal feed link")).click()
    link_page = f"{live_server.url}{reverse('feed:link', args=[volunteer.pk])}"
    expect(page).to_have_url(link_page)
    expect(page.locator("[data-status=none]")).to_be_visible()
    visited()

    with page.expect_response(lambda r: r.url == link_page and r.request.method == "POST") as posted:
        page.get_by_role("button", name=hi("Issue a link")).click()
    assert posted.value.status == 200, posted.value.status  # was 403: Origin null under no-referrer
    assert posted.value.request.header_value("origin") == live_server.url
    shown = page.locator("#new-link [data-link]")
    expect(shown).to_have_text(re.compile(rf"^{re.escape(live_server.url)}/f/[A-Za-z0-9_-]{{32}}/$"))
    visited()
    assert FeedLink.objects.filter(person=volunteer, revoked_at__isnull=True).count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "feed-link-issued.png"), full_page=True)

    # The link shown opens the volunteer's feed (its own CSP, feed.js and all).
    feed = context.new_page()
    feed.goto(shown.inner_text())
    expect(feed.locator("header")).to_contain_text(volunteer.name)
    feed.wait_for_load_state("load")
    violations.extend(feed.evaluate("window.__csp"))

    assert violations == [], violations
    assert not [text for text in console if "Content Security Policy" in text], console
    assert not [url for url, status in statuses.items() if status >= 400], statuses
    assert outside == []

    # The watch itself works: an inline handler, as an injected one would be, is refused and reported.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=\"data:,\" onerror=\"window.ran=1\">')"
    )
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.ran") is None
    assert "script-src-attr" in page.evaluate("window.__csp")[0]
    context.close()
