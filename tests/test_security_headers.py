"""Security headers: a strict Content-Security-Policy on every page (staff pages, the admin, the
volunteer feed), no inline script or event handler in any template, HSTS with subdomains and preload
from the environment, and the referrer policy that keeps our own forms' Origin (same-origin) while the
feed, whose URL holds its token, tells nobody anything (no-referrer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sampark.feed import services
from tests.helpers.campaign import client_for, feed_url, login, register

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(response) -> None:
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    script = csp["script-src"]
    assert "'self'" in script
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "https:"} & set(script), script
    assert re.fullmatch(r"'nonce-[A-Za-z0-9+/=]+'", script[-1]) or script == ["'self'"], script
    assert "'unsafe-inline'" not in csp["style-src-elem"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def test_every_kind_of_page_carries_a_strict_policy(campaign, admin_client):
    coordinator = register(10, campaign.tree.booth, role="block_coordinator", unit=campaign.tree.bagaha)
    staff = client_for(login(coordinator, "block-head"))
    _link, token = services.link_issue(person=campaign.volunteer)
    pages = [
        Client().get(reverse("login")),
        staff.get(reverse("feed:link", args=[campaign.volunteer.pk])),
        staff.get(reverse("people:list")),
        admin_client.get(reverse("admin:index")),
        admin_client.get(reverse("admin:people_person_change", args=[campaign.volunteer.pk])),
        Client().get(feed_url(token)),
        Client().get(feed_url("x" * 32)),  # the feed's 404
    ]
    for response in pages:
        assert response.status_code in (200, 404), response.status_code
        assert_strict(response)


# A <script> with content (inline) or an on…= attribute would be refused by the policy; a <style>
# element needs the page's nonce. Checked over the templates, so a new one cannot slip in.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)
# Django's {# … #} comments end on their line; {% comment %} blocks may span lines.
COMMENT = re.compile(r"\{#[^\n]*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)


def test_no_template_has_inline_script_an_event_handler_or_a_style_element_without_the_nonce():
    templates = sorted((ROOT / "sampark").glob("*/templates/**/*.html"))
    assert len(templates) > 40
    found = []
    for path in templates:
        text = COMMENT.sub("", path.read_text(encoding="utf-8"))
        for pattern in (INLINE_SCRIPT, HANDLER, STYLE, JS_URL):
            found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert found == []


def test_htmx_is_told_not_to_add_its_own_style_element(client):
    page = client.get(reverse("login")).content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false""" in page


def test_staff_pages_send_same_origin_and_the_feed_no_referrer(campaign):
    coordinator = register(10, campaign.tree.booth, role="block_coordinator", unit=campaign.tree.bagaha)
    staff = client_for(login(coordinator, "block-head"))
    page = staff.get(reverse("feed:link", args=[campaign.volunteer.pk]))
    assert page["Referrer-Policy"] == "same-origin"
    assert 'name="referrer"' not in page.content.decode()  # no <meta> overriding the header either
    assert Client().get(reverse("login"))["Referrer-Policy"] == "same-origin"
    _link, token = services.link_issue(person=campaign.volunteer)
    assert Client().get(feed_url(token))["Referrer-Policy"] == "no-referrer"


def test_the_link_form_passes_the_csrf_check_with_the_origin_a_same_origin_page_sends(campaign):
    """What Chromium sends under each policy: the page's origin under same-origin (accepted) and
    ``null`` under no-referrer (refused — the 403 of the old page)."""
    coordinator = register(10, campaign.tree.booth, role="block_coordinator", unit=campaign.tree.bagaha)
    user = login(coordinator, "block-head")
    url = reverse("feed:link", args=[campaign.volunteer.pk])
    for origin, status in (("null", 403), ("http://testserver", 200)):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.get(url)
        token = client.cookies[settings.CSRF_COOKIE_NAME].value
        response = client.post(
            url, {"action": "issue", "days": "30", "csrfmiddlewaretoken": token}, headers={"Origin": origin}
        )
        assert response.status_code == status, origin
    assert "/f/" in response.content.decode()


def _settings_in_child(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full.update(env, DJANGO_SETTINGS_MODULE="config.settings", SAMPARK_HOME=str(tmp_path))
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def test_hsts_takes_subdomains_and_preload_from_the_environment(tmp_path):
    https = {"SAMPARK_HTTPS": "true", "SAMPARK_HSTS_SECONDS": "31536000"}
    result = _settings_in_child(
        {**https, "SAMPARK_HSTS_SUBDOMAINS": "true", "SAMPARK_HSTS_PRELOAD": "true"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "True", "True"]

    refused = _settings_in_child({"SAMPARK_HTTPS": "true", "SAMPARK_HSTS_PRELOAD": "true"}, tmp_path)
    assert refused.returncode != 0
    assert "SAMPARK_HSTS_PRELOAD needs SAMPARK_HSTS_SECONDS >= 31536000" in refused.stderr


def test_the_hsts_header_says_subdomains_and_preload_when_configured(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https"})
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
