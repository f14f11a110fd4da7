"""Every people, post and coverage page, the API, the export and the admin, seen by each persona.

The world: Bihar with two districts — X (Pashchim Champaran, LGD 231: blocks Bagaha-1 and Ramnagar, one
booth in no block) and Y (Patna, LGD 230: block Patna Sadar) — a booth volunteer at every booth, two
supporters and one person placed nowhere. Personas: the state head, the district coordinator of X, the
block coordinators of Bagaha-1 (in X) and Patna Sadar (in Y), the booth volunteer of booth 1-2, a
superuser and an anonymous visitor. Each must see exactly its subtree: the same sets of people, posts
and contact points on every page, the same 404s for what lies outside.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sampark.people.models import Consent, ContactPoint, Person, Post
from tests.helpers.personas import (
    BAGAHA_BOOTHS,
    PERSONAS,
    X_BOOTHS,
    Y_BOOTHS,
    World,
    build_world,
    export_rows,
    listed_people,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings) -> World:
    # One volunteer a booth and one covered panchayat a block reach the target, so "at target" moves.
    settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = 1
    settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK = 1
    return build_world()


def volunteers(*codes: str) -> tuple[str, ...]:
    return tuple(f"v{code}" for code in codes)


# Who each persona sees, by label: home booth or a post in the subtree (a login always sees itself).
BAGAHA = (*volunteers(*BAGAHA_BOOTHS), "sita", "block_x")
X = (*volunteers(*X_BOOTHS), "sita", "ramesh", "district_x", "block_x")
Y = (*volunteers(*Y_BOOTHS), "block_y")
STATE = (*X, *Y, "state_head")
EVERYONE = (*STATE, "nowhere")
SEES: dict[str, tuple[str, ...]] = {
    "state": STATE,
    "district_x": X,
    "block_x": BAGAHA,
    "block_y": Y,
    "volunteer": ("v1-2", "sita"),
    "superuser": EVERYONE,
}
EXPORTS = {"state": True, "district_x": True, "block_x": False, "block_y": False, "volunteer": False}
SEES_PHONES = {"state": True, "district_x": True, "block_x": True, "block_y": True, "volunteer": False}


def api_people(client: Client, **params: Any) -> set[int]:
    response = client.get("/api/people", {"limit": 200, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def changelist_ids(client: Client, model: type, **params: Any) -> set[int]:
    response = client.get(reverse(f"admin:people_{model._meta.model_name}_changelist"), params)
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


# --- people -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lists_exactly_the_personas_subtree_on_the_page_and_in_the_api(world, persona):
    expected = world.ids(*SEES[persona])
    client = world.clients[persona]
    assert listed_people(client.get(reverse("people:list"))) == expected
    assert api_people(client) == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_opens_exactly_the_visible_people_and_404s_the_rest(world, persona):
    client = world.clients[persona]
    visible = set(SEES[persona])
    for label, person in world.people.items():
        page = client.get(reverse("people:detail", args=[person.pk]))
        api = client.get(f"/api/people/{person.pk}")
        if label in visible:
            assert page.status_code == 200, (persona, label)
            assert api.status_code == 200 and api.json()["id"] == person.pk, (persona, label)
        else:
            assert page.status_code == 404, (persona, label)
            assert api.status_code == 404 and api.json() == {"detail": "Not found"}, (persona, label)


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_filters_by_unit_only_inside_the_scope(world, persona):
    client = world.clients[persona]
    bagaha = client.get(reverse("people:list"), {"unit": "block:1001"})
    patna_sadar = client.get(reverse("people:list"), {"unit": "block:1010"})
    in_bagaha = set(BAGAHA) & set(SEES[persona])
    if persona in ("state", "district_x", "block_x", "superuser"):
        assert listed_people(bagaha) == world.ids(*BAGAHA)
        assert api_people(client, unit="block:1001") == world.ids(*BAGAHA)
    else:
        # A unit outside the scope reads as a unit that does not exist: no rows, no hint.
        assert listed_people(bagaha) == set() and 'data-error="unit"' in bagaha.content.decode()
        assert client.get("/api/people", {"unit": "block:1001"}).status_code == 404
        assert in_bagaha <= {"v1-2", "sita"}
    if persona in ("state", "block_y", "superuser"):
        assert listed_people(patna_sadar) == world.ids(*Y)
    else:
        assert listed_people(patna_sadar) == set()
        assert client.get("/api/people", {"unit": "block:1010"}).status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_shows_phone_numbers_in_full_only_with_the_right(world, persona):
    client = world.clients[persona]
    sita = world.people["sita"]
    if "sita" not in SEES[persona]:
        return
    full, masked = str(sita.phone), "+91••••••" + str(sita.phone)[-4:]
    shown = full if persona == "superuser" or SEES_PHONES[persona] else masked
    detail = client.get(reverse("people:detail", args=[sita.pk])).content.decode()
    listing = client.get(reverse("people:list")).content.decode()
    assert shown in detail and shown in listing
    assert client.get(f"/api/people/{sita.pk}").json()["phone"] == shown
    if shown == masked:
        assert full not in detail and full not in listing
        assert full[-6:] not in detail  # nor the contact point addresses


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_it_exports_exactly_the_export_scope_or_refuses(world, persona):
    client = world.clients[persona]
    response = client.get(reverse("people:export"))
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    elif persona == "superuser" or EXPORTS[persona]:
        names = {row["name"] for row in export_rows(response)}
        assert names == {world.people[label].name for label in SEES[persona]}
    else:
        assert response.status_code == 403


def test_it_exports_a_district_with_the_lists_filters(world):
    client = world.clients["district_x"]
    rows = export_rows(client.get(reverse("people:export"), {"unit": "block:1001"}))
    assert {row["name"] for row in rows} == {world.people[label].name for label in BAGAHA}
    rows = export_rows(client.get(reverse("people:export"), {"consent": "withdrawn"}))
    assert {row["name"] for row in rows} == {"Volunteer 2-1A", "रमेश कुमार"}
    assert client.get(reverse("people:export"), {"unit": "block:1010"}).status_code == 404


# --- posts --------------------------------------------------------------------------------------------


def test_it_lets_coordinators_end_posts_only_inside_their_change_scope(world):
    inside = Post.objects.get(person=world.people["v1-1"])
    outside = Post.objects.get(person=world.people["v181-1"])
    block_x, block_y, volunteer = (world.clients[p] for p in ("block_x", "block_y", "volunteer"))

    assert block_y.post(reverse("people:post-end", args=[inside.person_id, inside.pk])).status_code == 404
    assert volunteer.post(reverse("people:post-end", args=[inside.person_id, inside.pk])).status_code == 404
    own = Post.objects.get(person=world.people["v1-2"])
    # The volunteer sees their own post but a volunteer's rank may not change anything.
    assert volunteer.post(reverse("people:post-end", args=[own.person_id, own.pk])).status_code == 403
    assert block_x.post(reverse("people:post-end", args=[outside.person_id, outside.pk])).status_code == 404
    response = block_x.post(reverse("people:post-end", args=[inside.person_id, inside.pk]))
    assert response.status_code == 302
    inside.refresh_from_db()
    outside.refresh_from_db()
    own.refresh_from_db()
    assert inside.ended_on == timezone.localdate()
    assert outside.ended_on is None and own.ended_on is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lists_posts_of_the_subtree_only_on_a_persons_page(world, persona):
    """The district coordinator of X sees the state head nowhere; on their own page they see their post."""
    client = world.clients[persona]
    person = world.people["district_x"]
    response = client.get(reverse("people:detail", args=[person.pk]))
    if "district_x" not in SEES[persona]:
        assert response.status_code == 404
        return
    posts = set(map(int, re.findall(r'data-post="(\d+)"', response.content.decode())))
    district_post = Post.objects.get(person=person).pk
    # A post at the district is visible to the district, the state and the superuser, not to a block.
    expected = {district_post} if persona in ("state", "district_x", "superuser") else set()
    assert posts == expected


# --- consent ------------------------------------------------------------------------------------------


def test_it_lets_a_person_withdraw_their_own_consent_and_others_only_within_change_scope(world):
    volunteer, block_x, block_y = (world.clients[p] for p in ("volunteer", "block_x", "block_y"))
    own = world.people["v1-2"]
    sita = world.people["sita"]
    sita_sms = sita.contact_points.get(channel="sms")

    # The volunteer sees Sita (same booth) but a volunteer may not withdraw someone else's consent.
    url = reverse("people:consent-withdraw", args=[sita.pk, sita_sms.pk])
    assert volunteer.post(url).status_code == 403
    assert block_y.post(url).status_code == 404
    assert ContactPoint.objects.get(pk=sita_sms.pk).consent_live

    own_sms = own.contact_points.get(channel="sms")
    response = volunteer.post(reverse("people:consent-withdraw", args=[own.pk, own_sms.pk]))
    assert response.status_code == 302
    assert not ContactPoint.objects.get(pk=own_sms.pk).consent_live
    assert Consent.objects.get(contact_point=own_sms).withdrawn_via == "web"

    assert block_x.post(url).status_code == 302
    assert not ContactPoint.objects.get(pk=sita_sms.pk).consent_live
    assert Consent.objects.get(contact_point=sita_sms).withdrawn_via.startswith("web:user:")

    assert block_y.post(reverse("people:consent-withdraw-all", args=[sita.pk])).status_code == 404
    assert block_x.post(reverse("people:consent-withdraw-all", args=[sita.pk])).status_code == 302
    assert not ContactPoint.objects.filter(person=sita, consent_live=True).exists()


# --- coverage -----------------------------------------------------------------------------------------

HOMES = {
    "state": "/coverage/state/10/",
    "district_x": "/coverage/district/231/",
    "block_x": "/coverage/block/1001/",
    "block_y": "/coverage/block/1010/",
    "volunteer": "/coverage/booth/1-2/",
}

# Every coverage page, and which personas may open it.
COVERAGE_PAGES = {
    "/coverage/state/10/": {"state", "superuser"},
    "/coverage/district/231/": {"state", "district_x", "superuser"},
    "/coverage/district/231/?by=ac": {"state", "district_x", "superuser"},
    "/coverage/district/230/": {"state", "superuser"},
    "/coverage/ac/1/": {"state", "district_x", "superuser"},
    "/coverage/ac/181/": {"state", "superuser"},
    "/coverage/block/1001/": {"state", "district_x", "block_x", "superuser"},
    "/coverage/block/1010/": {"state", "block_y", "superuser"},
    "/coverage/panchayat/5001/": {"state", "district_x", "block_x", "superuser"},
    "/coverage/booth/1-2/": {"state", "district_x", "block_x", "volunteer", "superuser"},
    "/coverage/booth/1-3/": {"state", "district_x", "block_x", "superuser"},
    "/coverage/booth/181-1/": {"state", "block_y", "superuser"},
    "/coverage/booth/2-1/": {"state", "district_x", "superuser"},
}


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "superuser"])
def test_it_sends_each_persona_to_their_own_unit(world, persona):
    response = world.clients[persona].get(reverse("people:coverage"))
    assert response.status_code == 302
    assert response["Location"] == HOMES[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_opens_exactly_the_coverage_pages_inside_the_scope(world, persona):
    client = world.clients[persona]
    for url, allowed in COVERAGE_PAGES.items():
        page = client.get(url)
        path = url.split("?")[0]
        gaps = client.get(f"{path}gaps/")
        unit = path.strip("/").split("/", 1)[1].replace("/", ":")
        api = client.get("/api/coverage", {"unit": unit})
        if persona in allowed:
            assert page.status_code == 200, (persona, url)
            assert gaps.status_code == 200, (persona, url)
            assert api.status_code == 200 and api.json()["unit"] == unit, (persona, url)
        else:
            assert page.status_code == 404, (persona, url)
            assert gaps.status_code == 404, (persona, url)
            assert api.status_code == 404, (persona, url)


def test_it_shows_the_superuser_every_state_with_booths(world):
    response = world.clients["superuser"].get(reverse("people:coverage"))
    assert response.status_code == 302 and response["Location"] == "/coverage/state/10/"


@pytest.mark.parametrize("persona", ["state", "district_x"])
def test_it_counts_the_same_district_for_everyone_allowed_to_see_it(world, persona):
    body = world.clients[persona].get("/api/coverage", {"unit": "district:231", "by": "block"}).json()
    assert body["booths"] == len(X_BOOTHS)
    assert body["volunteers"] == len(X_BOOTHS) - 1  # 2-1A's volunteer withdrew consent
    assert body["booths_at_target"] == len(X_BOOTHS) - 1
    assert [child["unit"] for child in body["children"]] == [
        "block:1001",
        f"block:#{world.tree.ramnagar_block.pk}",
        "block:-",
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lists_gaps_of_the_subtree_only(world, persona):
    client = world.clients[persona]
    if persona not in COVERAGE_PAGES["/coverage/district/231/"]:
        assert client.get("/coverage/district/231/gaps/").status_code == 404
        return
    page = client.get("/coverage/district/231/gaps/")
    assert re.findall(r'<tr data-booth="([^"]+)"', page.content.decode()) == ["2-1A"]


# --- anonymous ----------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login_and_answers_the_api_with_401(world):
    client = world.clients["anonymous"]
    person = world.people["sita"]
    post = Post.objects.get(person=world.people["v1-1"])
    point = person.contact_points.first()
    for url in (
        reverse("people:list"),
        reverse("people:detail", args=[person.pk]),
        reverse("people:export"),
        reverse("people:coverage"),
        "/coverage/district/231/",
        "/coverage/district/231/gaps/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('login')}?next="), url
    for url in (
        reverse("people:consent-withdraw", args=[person.pk, point.pk]),
        reverse("people:consent-withdraw-all", args=[person.pk]),
        reverse("people:post-end", args=[post.person_id, post.pk]),
    ):
        assert client.post(url).status_code == 302, url
    assert ContactPoint.objects.get(pk=point.pk).consent_live
    for url in ("/api/people", f"/api/people/{person.pk}", "/api/coverage?unit=district:231"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert json.loads(response.content) == {"detail": "Unauthorized"}
    response = client.get(reverse("admin:people_person_changelist"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


# --- admin --------------------------------------------------------------------------------------------


def _posts_of(world: World, labels: tuple[str, ...], persona: str) -> set[int]:
    posts = Post.objects.filter(person__in=[world.people[label] for label in labels])
    ids = set(posts.values_list("pk", flat=True))
    if persona in ("superuser", "state"):
        return ids
    # Posts are placed by their own unit: a coordinator sees posts at units in their subtree only.
    units = {
        "district_x": {"district_id": world.tree.champaran.pk},
        "block_x": {"block_id": world.tree.bagaha.pk},
        "block_y": {"block_id": world.tree.patna_sadar.pk},
        "volunteer": {"booth__code": "1-2"},
    }[persona]
    return set(Post.objects.filter(**units).values_list("pk", flat=True))


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_scopes_every_admin_changelist(world, persona):
    client = world.clients[persona]
    people = world.ids(*SEES[persona])
    assert changelist_ids(client, Person) == people
    points = set(ContactPoint.objects.filter(person_id__in=people).values_list("pk", flat=True))
    assert changelist_ids(client, ContactPoint) == points
    consents = set(Consent.objects.filter(contact_point__in=points).values_list("pk", flat=True))
    assert changelist_ids(client, Consent) == consents
    assert changelist_ids(client, Post) == _posts_of(world, SEES[persona], persona)


def test_it_counts_admin_posts_as_the_tree_says(world):
    # The expectations above, spelt out: one volunteer a booth plus the coordinators' own posts.
    assert len(_posts_of(world, SEES["district_x"], "district_x")) == len(X_BOOTHS) + 2
    assert len(_posts_of(world, SEES["block_x"], "block_x")) == len(BAGAHA_BOOTHS) + 1
    assert len(_posts_of(world, SEES["block_y"], "block_y")) == len(Y_BOOTHS) + 1
    assert len(_posts_of(world, SEES["volunteer"], "volunteer")) == 1


def test_it_lets_the_admin_change_only_inside_the_change_scope(world):
    block_x, volunteer = world.clients["block_x"], world.clients["volunteer"]
    inside, outside = world.people["v1-1"], world.people["v181-1"]
    url = reverse("admin:people_person_change", args=[inside.pk])
    assert block_x.get(url).status_code == 200
    # Outside the scope the admin behaves as if the row did not exist (a redirect with a message).
    response = block_x.get(reverse("admin:people_person_change", args=[outside.pk]))
    assert response.status_code == 302
    # The volunteer may view Sita but not change her: the form is read-only and a post is refused.
    sita = world.people["sita"]
    page = volunteer.get(reverse("admin:people_person_change", args=[sita.pk]))
    assert page.status_code == 200 and 'name="name"' not in page.content.decode()
    assert str(sita.phone) not in page.content.decode()
    assert (
        volunteer.post(reverse("admin:people_person_change", args=[sita.pk]), {"name": "X"}).status_code
        == 403
    )
    assert Person.objects.get(pk=sita.pk).name == "सीता देवी"


def test_it_withdraws_consent_from_the_admin_only_inside_the_change_scope(world):
    url = reverse("admin:people_contactpoint_changelist")
    sita, far = world.people["sita"], world.people["v181-1"]
    selected = [
        str(pk) for pk in ContactPoint.objects.filter(person__in=[sita, far]).values_list("pk", flat=True)
    ]
    response = world.clients["block_x"].post(
        url, {"action": "withdraw_consent", "_selected_action": selected}
    )
    assert response.status_code == 302
    assert not ContactPoint.objects.filter(person=sita, consent_live=True).exists()
    assert ContactPoint.objects.filter(person=far, consent_live=True).count() == 2
