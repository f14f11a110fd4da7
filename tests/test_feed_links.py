"""Personal feed links: issued, rotated, revoked, expiring; forged and malformed tokens refused alike;
only the hash stored; issued on a coordinator's page for people they may change, and shown once.

Personas: the block coordinator of Bagaha-1 (who may change booth 1-2's volunteers), a block coordinator
in Patna (who may not even see them), and a fellow booth volunteer (who sees them but may not change
them)."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from sampark.feed import services
from sampark.feed.models import FeedLink
from sampark.people.models import Role
from sampark.territory.models import Booth
from tests.helpers.campaign import NOON, client_for, feed_url, html, login, register

pytestmark = pytest.mark.django_db


def hi(message: str) -> str:
    """A UI string as the Hindi (default) pages show it."""
    with translation.override("hi"):
        return gettext(message)


def opens(client, token: str) -> bool:
    response = client.get(feed_url(token))
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


def test_it_issues_a_link_whose_token_opens_the_feed_and_is_stored_only_as_its_hash(client, campaign):
    now = timezone.now()
    link, token = services.link_issue(person=campaign.volunteer, now=now)

    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM feed_feedlink")
        assert token not in repr(cursor.fetchall())
    assert link.expires_at == now + datetime.timedelta(days=180)
    assert opens(client, token)
    assert '<html lang="hi">' in html(client.get(feed_url(token)))


def test_it_rotates_a_link_and_the_old_token_stops_working(client, campaign):
    _first, old = services.link_issue(person=campaign.volunteer)
    _second, new = services.link_issue(person=campaign.volunteer)

    assert not opens(client, old)
    assert opens(client, new)
    links = FeedLink.objects.filter(person=campaign.volunteer)
    assert links.count() == 2
    assert links.filter(revoked_at__isnull=True).count() == 1


def test_it_refuses_a_revoked_link(client, campaign):
    _link, token = services.link_issue(person=campaign.volunteer)
    assert services.link_revoke(person=campaign.volunteer) == 1
    assert not opens(client, token)
    assert services.link_revoke(person=campaign.volunteer) == 0
    assert services.person_for_token(token, timezone.now()) is None


def test_it_refuses_an_expired_link(client, campaign):
    issued = timezone.now() - datetime.timedelta(days=3)
    link, token = services.link_issue(person=campaign.volunteer, days=2, now=issued)
    assert services.person_for_token(token, issued + datetime.timedelta(days=1)) == campaign.volunteer
    assert services.person_for_token(token, link.expires_at) is None
    assert not opens(client, token)


def test_it_refuses_forged_and_malformed_tokens_with_the_same_answer(client, campaign):
    campaign.publish(NOON)
    _link, token = services.link_issue(person=campaign.volunteer)
    tick = campaign.streams["booth"].published.get()
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    forged = [secrets.token_urlsafe(24), flipped, token[:-1], token + "A", "abc", "%" * 32, "é" * 32]

    answers = set()
    for bad in forged:
        for rest in ("", "poll/?after=0", f"share/{tick.pk}/whatsapp/"):
            response = client.get(feed_url(bad, rest))
            assert response.status_code == 404, (bad, rest)
            answers.add(response.content)
        assert client.post(feed_url(bad, f"ack/{tick.pk}/")).status_code == 404
    assert len(answers) == 1  # nothing tells a forged token from a revoked one
    revoked = client.get(feed_url(token))
    assert revoked.status_code == 200
    services.link_revoke(person=campaign.volunteer)
    assert client.get(feed_url(token)).content in answers


def test_it_records_use_at_most_once_a_minute(campaign):
    start = timezone.now()
    link, token = services.link_issue(person=campaign.volunteer, now=start)
    at = [start + datetime.timedelta(seconds=s) for s in (0, 10, 50, 61, 70)]
    used = []
    for moment in at:
        assert services.person_for_token(token, moment) == campaign.volunteer
        link.refresh_from_db()
        used.append(link.last_used_at)
    assert used == [at[0], at[0], at[0], at[3], at[3]]


def test_a_new_link_keeps_what_the_person_has_seen(campaign):
    first, _token = services.link_issue(person=campaign.volunteer)
    FeedLink.objects.filter(pk=first.pk).update(seen_tick_id=41)
    second, _token = services.link_issue(person=campaign.volunteer)
    assert second.seen_tick_id == 41


def test_it_refuses_nonsense_lifetimes(campaign):
    for days in (0, -1, 367):
        with pytest.raises(services.FeedError):
            services.link_issue(person=campaign.volunteer, days=days)


# --- the coordinator's page -----------------------------------------------------------------------------


@pytest.fixture
def coordinators(campaign) -> dict:
    block = register(10, campaign.tree.booth, role=Role.BLOCK_COORDINATOR, unit=campaign.tree.bagaha)
    patna = register(
        11, Booth.objects.get(code="181-1"), role=Role.BLOCK_COORDINATOR, unit=campaign.tree.patna_sadar
    )
    return {
        "block": login(block, "block-head"),
        "elsewhere": login(patna, "patna-head"),
        "peer": login(campaign.neighbour, "peer"),
    }


def test_it_lets_a_coordinator_issue_a_link_and_shows_it_once(client, campaign, coordinators):
    coordinator = client_for(coordinators["block"])
    url = reverse("feed:link", args=[campaign.volunteer.pk])
    assert hi("No live link.") in html(coordinator.get(url))

    before = timezone.now()
    response = coordinator.post(url, {"action": "issue", "days": "30"})
    after = timezone.now()

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    shown = re.search(
        r"<code[^>]*data-link>(http://testserver/f/([A-Za-z0-9_-]{32})/)</code>", html(response)
    )
    assert shown, "the new link is on the page"
    token = shown.group(2)
    link = FeedLink.objects.get(person=campaign.volunteer, revoked_at__isnull=True)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    thirty_days = datetime.timedelta(days=30)
    assert before + thirty_days <= link.expires_at <= after + thirty_days
    # A click-to-chat link to send it to the volunteer's own number.
    assert "https://wa.me/919876500001?text=http%3A%2F%2Ftestserver%2Ff%2F" in html(response)
    assert opens(client, token)
    # Shown once: the page never shows it again.
    assert token not in html(coordinator.get(url))

    rotated = coordinator.post(url, {"action": "issue", "days": "180"})
    new_token = re.search(r"/f/([A-Za-z0-9_-]{32})/", html(rotated)).group(1)
    assert not opens(client, token)
    assert opens(client, new_token)

    revoked = coordinator.post(url, {"action": "revoke"})
    assert revoked.status_code == 302
    assert not opens(client, new_token)


def test_it_refuses_links_for_people_outside_the_change_scope(client, campaign, coordinators):
    url = reverse("feed:link", args=[campaign.volunteer.pk])
    elsewhere = client_for(coordinators["elsewhere"])
    assert elsewhere.get(url).status_code == 404
    assert elsewhere.post(url, {"action": "issue", "days": "30"}).status_code == 404

    peer = client_for(coordinators["peer"])  # a booth volunteer of the same booth: sees, may not change
    page = peer.get(url)
    assert page.status_code == 200
    assert hi("You may not issue links for this person.") in html(page)
    assert peer.post(url, {"action": "issue", "days": "30"}).status_code == 403
    assert peer.post(url, {"action": "revoke"}).status_code == 403
    assert not FeedLink.objects.exists()

    with pytest.raises(services.FeedError):
        services.link_issue(person=campaign.volunteer, by=coordinators["elsewhere"])
    assert client.get(reverse("feed:link", args=[campaign.volunteer.pk])).status_code == 302  # to log in


def test_it_sends_an_invalid_lifetime_back_to_its_field(campaign, coordinators):
    coordinator = client_for(coordinators["block"])
    response = coordinator.post(
        reverse("feed:link", args=[campaign.volunteer.pk]), {"action": "issue", "days": "0"}
    )
    assert response.status_code == 200
    assert 'data-error="days"' in html(response)
    assert not FeedLink.objects.exists()


def test_the_admin_lists_links_without_tokens_and_revokes_them(client, campaign):
    _link, token = services.link_issue(person=campaign.volunteer)
    admin = get_user_model().objects.create_superuser("admin", password="a long enough passphrase")
    client.force_login(admin)
    for model in ("feedlink", "share", "acknowledgement", "assignment"):
        assert client.get(reverse(f"admin:feed_{model}_changelist")).status_code == 200
    listed = client.get(reverse("admin:feed_feedlink_changelist"))
    assert token not in html(listed) and FeedLink.objects.get().token_hash not in html(listed)

    client.post(
        reverse("admin:feed_feedlink_changelist"),
        {"action": "revoke", "_selected_action": [FeedLink.objects.get().pk]},
    )

    assert not opens(Client(), token)
