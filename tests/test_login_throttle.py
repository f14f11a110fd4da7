"""Login throttling (django-axes): five failed logins lock that username from that address for 15
minutes (never a whole shared address, never a username everywhere); the login page then says so in Hindi, or in English for an
English session, with status 429 — even for the right password. After the cool-off the right password
logs in, and a successful login clears the count."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from sampark.core.throttle import UNKNOWN_ADDRESS, client_ip

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase"
START = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
LOCKED_HI = "इस उपयोगकर्ता नाम से या इस कनेक्शन से बहुत बार गलत लॉग इन हुआ।"
LOCKED_EN = "Too many failed logins for this username or from this connection."


@pytest.fixture
def users():
    model = get_user_model().objects
    return model.create_user("block-head", password=PASSWORD), model.create_user("other", password=PASSWORD)


def attempt(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_locks_a_username_after_five_failures_and_says_so_in_hindi(users):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        answers = [attempt(client, "block-head", "wrong").status_code for _ in range(4)]
        assert answers == [200] * 4  # the usual "not correct" page
        fifth = attempt(client, "block-head", "wrong")
        assert fifth.status_code == 429
        page = fifth.content.decode()
        assert LOCKED_HI in page
        assert "15 मिनट" in page

        right = attempt(client, "block-head", PASSWORD)
        assert right.status_code == 429  # the right password does not open a locked login
        assert "_auth_user_id" not in client.session
        # Only the pair is locked: the same person elsewhere, and someone else behind the same shared
        # address (a carrier's, an office's), still log in.
        assert attempt(Client(), "block-head", PASSWORD, address="10.9.9.9").status_code == 302
        assert attempt(Client(), "other", PASSWORD, address="10.0.0.1").status_code == 302

        clock.shift(datetime.timedelta(minutes=15, seconds=1))
        after = Client()
        assert attempt(after, "block-head", PASSWORD).status_code == 302
        assert after.session["_auth_user_id"] == str(users[0].pk)


def test_it_says_so_in_english_to_an_english_session(users):
    client = Client()
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    for _ in range(5):
        response = attempt(client, "block-head", "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED_EN in page
    assert "locked for 15 minutes" in page
    assert '<html lang="en">' in page


def test_a_successful_login_clears_the_failures(users):
    client = Client()
    for _ in range(4):
        attempt(client, "block-head", "wrong")
    assert attempt(client, "block-head", PASSWORD).status_code == 302
    client.logout()
    answers = [attempt(Client(), "block-head", "wrong").status_code for _ in range(4)]
    assert answers == [200] * 4  # counting starts again from zero


def test_the_admin_login_is_throttled_too(users):
    client = Client()
    url = reverse("admin:login")
    for _ in range(5):
        response = client.post(url, {"username": "block-head", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert LOCKED_HI in response.content.decode()


def test_it_trusts_forwarded_addresses_only_from_the_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert client_ip(request) == "127.0.0.1"
    settings.SAMPARK_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.7"
    settings.SAMPARK_TRUSTED_PROXIES = 2
    assert client_ip(request) == "1.2.3.4"
    v6 = rf.get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6")
    assert client_ip(v6) == "2001:db8:1:2::"


def test_a_request_without_an_address_is_stored_as_the_unspecified_address(rf, users):
    """force_login and commands build requests without REMOTE_ADDR; PostgreSQL's inet column refused the
    old "unknown" and every such login failed there."""
    request = rf.get("/")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) == UNKNOWN_ADDRESS
    client = Client()
    client.force_login(users[0])  # axes records the login with that address
    assert "_auth_user_id" in client.session
