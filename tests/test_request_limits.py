"""Request rate limits: the volunteer feed per token (never per address: a booth's volunteers share a
carrier's NAT), the API per client address (behind a trusted proxy, the address the proxy saw). Over
the limit: 429, Retry-After and a message in Hindi and English; the next window is open again."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client

from sampark.feed import services
from tests.helpers.campaign import feed_url

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 11, 27, 12, 0, 5, tzinfo=datetime.UTC)
MESSAGE = "बहुत अधिक अनुरोध: एक मिनट रुकें, फिर कोशिश करें। / Too many requests: wait a minute, then try again."


@pytest.fixture(autouse=True)
def _fresh_counters():
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


def test_it_limits_a_feed_per_token_and_opens_again_in_the_next_window(campaign, settings):
    settings.SAMPARK_FEED_RATE = "3/m"
    _link, token = services.link_issue(person=campaign.volunteer)
    _other_link, other = services.link_issue(person=campaign.neighbour)
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        assert [client.get(feed_url(token, "poll/?after=0")).status_code for _ in range(3)] == [204] * 3
        refused = client.get(feed_url(token, "poll/?after=0"))
        assert refused.status_code == 429
        assert refused.content.decode() == MESSAGE
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert refused["Cache-Control"] == "private, no-store"
        assert refused["Referrer-Policy"] == "no-referrer"
        # Another volunteer on the same address is not held back.
        assert client.get(feed_url(other, "poll/?after=0")).status_code == 204
        clock.shift(datetime.timedelta(seconds=61))
        assert client.get(feed_url(token, "poll/?after=0")).status_code == 204


def test_it_counts_a_forged_token_like_any_other(campaign, settings):
    settings.SAMPARK_FEED_RATE = "2/m"
    client = Client()
    with time_machine.travel(START, tick=False):
        answers = [client.get(feed_url("x" * 32)).status_code for _ in range(3)]
    assert answers == [404, 404, 429]


def test_it_limits_the_api_per_client_address(campaign, settings, admin_user):
    settings.SAMPARK_API_RATE = "2/m"
    client = Client()
    client.force_login(admin_user)
    with time_machine.travel(START, tick=False) as clock:
        ok = [client.get("/api/people", REMOTE_ADDR="10.0.0.1").status_code for _ in range(2)]
        assert ok == [200, 200]
        refused = client.get("/api/people", REMOTE_ADDR="10.0.0.1")
        assert refused.status_code == 429
        assert refused["Content-Type"] == "application/json"
        assert json.loads(refused.content) == {"detail": MESSAGE}
        assert int(refused["Retry-After"]) >= 1
        assert client.get("/api/people", REMOTE_ADDR="10.0.0.2").status_code == 200
        clock.shift(datetime.timedelta(seconds=61))
        assert client.get("/api/people", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_behind_a_trusted_proxy_it_limits_the_address_the_proxy_saw(campaign, settings, admin_user):
    settings.SAMPARK_API_RATE = "1/m"
    settings.SAMPARK_TRUSTED_PROXIES = 1
    client = Client()
    client.force_login(admin_user)

    def get(forwarded: str) -> int:
        return client.get("/api/people", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code

    with time_machine.travel(START, tick=False):
        assert get("203.0.113.7") == 200
        # The client writes whatever it likes in front; the proxy appends the address it saw.
        assert get("198.51.100.1, 203.0.113.7") == 429
        assert get("203.0.113.8") == 200  # another client behind the same proxy
