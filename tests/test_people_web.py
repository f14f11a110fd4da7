"""People pages, export, coverage pages, API and admin: search, filters, htmx, numbers, queries, writes.

Who-sees-what is in ``test_people_personas.py``; this file checks what each page does, using the same
world (``build_world``) and mostly the district coordinator of X.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sampark.people import services
from sampark.people.models import BoothCoverage, Consent, ContactPoint, Person, Post, Role
from sampark.territory.models import Booth
from tests.helpers.personas import DAY, World, build_world, export_rows, listed_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings) -> World:
    settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = 1
    settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK = 1
    return build_world()


@pytest.fixture
def district(world):
    return world.clients["district_x"]


def people_page(client, **params):
    return client.get(reverse("people:list"), params)


def add_people(booth_code: str, count: int, start: int) -> list[Person]:
    booth = Booth.objects.get(code=booth_code)
    people = []
    for n in range(start, start + count):
        person = services.person_register(name=f"Extra {n}", phone=f"97000{n:05d}", age=25, home_booth=booth)
        services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booth, started_on=DAY)
        people.append(person)
    return people


def query_count(func) -> int:
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


# --- search and filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("ramesh", {"ramesh", "ramesh_latin"}),  # Latin finds Devanagari (and Latin)
        ("रमेश", {"ramesh", "ramesh_latin"}),  # Devanagari finds both scripts
        ("Ramesh", {"ramesh", "ramesh_latin"}),
        ("सीता", {"sita"}),
        ("sita devi", {"sita"}),
        ("volunteer 2-1", {"v2-1", "v2-1A"}),
        ("nobody at all", set()),
    ],
)
def test_it_finds_people_by_name_in_either_script(world, district, query, labels):
    world.people["ramesh_latin"] = services.person_register(
        name="Ramesh Yadav", phone="9123400001", age=40, home_booth=Booth.objects.get(code="1-1")
    )
    assert listed_people(people_page(district, q=query)) == world.ids(*labels)


def test_it_finds_people_by_the_last_digits_of_their_mobile(world, district):
    sita = world.people["sita"]
    tail = str(sita.phone)[-6:]
    assert listed_people(people_page(district, q=tail)) == {sita.pk}
    assert listed_people(people_page(district, q=f"{tail[:3]} {tail[3:]}")) == {sita.pk}


def test_it_never_lets_a_volunteer_rebuild_a_number_from_its_tail(world):
    """Past the four digits every masked number shows, digits match only numbers the reader may see."""
    volunteer = world.clients["volunteer"]
    sita = world.people["sita"]
    assert listed_people(people_page(volunteer, q=str(sita.phone)[-4:])) == {sita.pk}
    assert listed_people(people_page(volunteer, q=str(sita.phone)[-5:])) == set()
    assert listed_people(people_page(volunteer, q=str(sita.phone)[1:])) == set()


def test_it_filters_by_post_and_by_consent(world, district):
    assert listed_people(people_page(district, role=Role.BLOCK_COORDINATOR)) == world.ids("block_x")
    assert listed_people(people_page(district, role=Role.BOOTH_VOLUNTEER)) == world.ids(
        "v1-1", "v1-2", "v1-2A", "v1-3", "v1-4", "v2-1", "v2-1A", "v2-2"
    )
    assert listed_people(people_page(district, consent="withdrawn")) == world.ids("v2-1A", "ramesh")
    assert listed_people(people_page(district, consent="none")) == set()
    live = listed_people(people_page(district, consent="live"))
    assert world.people["sita"].pk in live and world.people["ramesh"].pk not in live
    both = people_page(district, role=Role.BOOTH_VOLUNTEER, consent="withdrawn", unit="district:231")
    assert listed_people(both) == world.ids("v2-1A")


def test_it_counts_a_person_without_any_consent_row_as_none(world, district):
    person = world.people["sita"]
    Consent.objects.filter(contact_point__person=person).delete()
    assert listed_people(people_page(district, consent="none")) == {person.pk}


def test_it_says_why_a_filter_cannot_apply(world, district):
    for params in ({"consent": "maybe"}, {"role": "king"}, {"unit": "district:99999"}, {"unit": "nonsense"}):
        response = people_page(district, **params)
        assert listed_people(response) == set(), params
        assert 'data-error="' in response.content.decode(), params
        assert district.get("/api/people", params).status_code in (404, 422), params


def test_it_offers_the_units_of_the_scope_in_the_area_filter(world):
    html = people_page(world.clients["district_x"]).content.decode()
    options = set(re.findall(r'<option value="((?:district|block|ac|panchayat|state):[^"]*)"', html))
    assert options == {
        "district:231",
        "block:1001",
        f"block:#{world.tree.ramnagar_block.pk}",
        "ac:1",
        "ac:2",
    }


# --- htmx, pagination, queries ------------------------------------------------------------------------


def test_it_answers_an_htmx_search_with_the_results_only(world, district):
    response = district.get(reverse("people:list"), {"q": "sita"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="people-results">')
    assert "<html" not in html
    assert listed_people(response) == world.ids("sita")
    assert "HX-Request" in response["Vary"]
    full = district.get(reverse("people:list"), {"q": "sita"})
    assert "<html" in full.content.decode() and "HX-Request" in full["Vary"]


def test_it_sends_an_htmx_search_from_an_expired_session_to_the_login_page(world):
    url = reverse("people:list")
    response = world.clients["anonymous"].get(
        url, {"q": "x"}, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{url}?q=x"}
    )
    assert response["HX-Redirect"] == f"{reverse('login')}?next={url}%3Fq%3Dx"


def test_it_pages_people_by_fifty_keeping_the_filters(world, district):
    add_people("1-1", 60, 1)
    first = people_page(district, unit="block:1001")
    assert len(listed_people(first)) == 50
    assert "unit=block%3A1001&amp;page=2" in first.content.decode()
    second = people_page(district, unit="block:1001", page=2)
    assert len(listed_people(second)) == 60 + 6 - 50
    assert not listed_people(first) & listed_people(second)


def test_it_lists_people_in_a_fixed_number_of_queries(world, district, django_assert_max_num_queries):
    small = query_count(lambda: people_page(district))
    add_people("1-1", 30, 1)
    large = query_count(lambda: people_page(district))
    assert small == large
    with django_assert_max_num_queries(20):
        people_page(district)
    # The htmx results are cheaper still: no area choices.
    with django_assert_max_num_queries(12):
        district.get(reverse("people:list"), {"q": "extra"}, headers={"HX-Request": "true"})


def test_it_shows_a_person_and_exports_and_answers_the_api_in_fixed_queries(world, district):
    person = world.people["v1-1"]
    detail = query_count(lambda: district.get(reverse("people:detail", args=[person.pk])))
    api = query_count(lambda: district.get("/api/people", {"limit": 200}))
    export = query_count(lambda: b"".join(district.get(reverse("people:export")).streaming_content))
    add_people("1-1", 30, 1)
    services.post_assign(person=person, role=Role.BOOTH_PRESIDENT, unit=Booth.objects.get(code="1-1"))
    assert query_count(lambda: district.get(reverse("people:detail", args=[person.pk]))) == detail
    assert query_count(lambda: district.get("/api/people", {"limit": 200})) == api
    assert query_count(lambda: b"".join(district.get(reverse("people:export")).streaming_content)) == export


# --- a person's page ------------------------------------------------------------------------------------


def test_it_shows_posts_with_dates_and_consent_history_per_contact_point(world, district, settings):
    settings.LANGUAGE_CODE = "en"
    person = world.people["v2-1A"]  # withdrew consent on both channels
    services.consent_give(
        contact_point=person.contact_points.get(channel="sms"),
        given_at=timezone.now(),
        source="chat",
        language="hi",
    )
    html = district.get(
        reverse("people:detail", args=[person.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    post = Post.objects.get(person=person)
    assert f'data-post="{post.pk}"' in html
    assert "5 Jan 2026" in html  # started on
    sms = person.contact_points.get(channel="sms")
    history = re.search(rf'data-point="{sms.pk}".*?</table>', html, flags=re.S).group(0)
    assert len(re.findall(r"data-consent=", history)) == 2  # withdrawn, then given again
    assert str(person.phone) in html  # a district coordinator sees numbers
    # One live channel left: its withdraw button, and "withdraw all".
    assert reverse("people:consent-withdraw", args=[person.pk, sms.pk]) in html
    whatsapp = person.contact_points.get(channel="whatsapp")
    assert reverse("people:consent-withdraw", args=[person.pk, whatsapp.pk]) not in html
    assert reverse("people:consent-withdraw-all", args=[person.pk]) in html
    assert reverse("people:post-end", args=[person.pk, post.pk]) in html


def test_it_withdraws_consent_and_recounts_the_booth(world, district):
    person = world.people["v1-1"]
    booth = Booth.objects.get(code="1-1")
    assert BoothCoverage.objects.get(booth=booth).volunteers == 1
    response = district.post(reverse("people:consent-withdraw-all", args=[person.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("people:detail", args=[person.pk])
    assert not BoothCoverage.objects.filter(booth=booth).exists()
    assert Consent.objects.filter(contact_point__person=person, withdrawn_at__isnull=True).count() == 0
    # Withdrawing again is harmless.
    point = person.contact_points.first()
    assert district.post(reverse("people:consent-withdraw", args=[person.pk, point.pk])).status_code == 302
    assert Consent.objects.filter(contact_point=point).count() == 1


def test_it_refuses_gets_on_the_write_urls(world, district):
    person = world.people["v1-1"]
    point = person.contact_points.first()
    assert district.get(reverse("people:consent-withdraw", args=[person.pk, point.pk])).status_code == 405
    assert district.get(reverse("people:consent-withdraw-all", args=[person.pk])).status_code == 405
    assert ContactPoint.objects.get(pk=point.pk).consent_live


def test_it_ends_a_post_and_the_booth_falls_below_target(world, district):
    post = Post.objects.get(person=world.people["v1-1"])
    assert district.post(reverse("people:post-end", args=[post.person_id, post.pk])).status_code == 302
    assert not BoothCoverage.objects.filter(booth__code="1-1").exists()
    gaps = district.get("/coverage/block/1001/gaps/").content.decode()
    assert re.findall(r'<tr data-booth="([^"]+)"', gaps) == ["1-1"]


# --- export -------------------------------------------------------------------------------------------


def test_it_exports_the_columns_with_numbers_posts_and_consent_per_channel(world, district):
    response = district.get(reverse("people:export"), {"q": "volunteer 2-1"})
    assert response["Content-Disposition"] == 'attachment; filename="people.csv"'
    rows = {row["name"]: row for row in export_rows(response)}
    assert set(rows) == {"Volunteer 2-1", "Volunteer 2-1A"}
    row = rows["Volunteer 2-1"]
    assert list(row) == [
        "name", "phone", "booth_code", "posts", "consent_sms", "consent_whatsapp", "consent_telegram",
        "consent_email", "language",
    ]  # fmt: skip
    assert row["phone"] == str(world.people["v2-1"].phone)
    assert row["booth_code"] == "2-1"
    assert row["posts"] == "booth_volunteer@booth:2-1"
    assert (row["consent_sms"], row["consent_whatsapp"], row["consent_telegram"]) == ("yes", "yes", "")
    assert (rows["Volunteer 2-1A"]["consent_sms"], rows["Volunteer 2-1A"]["consent_whatsapp"]) == ("no", "no")
    assert row["language"] == "hi"


def test_it_exports_devanagari_as_utf8_and_defuses_formulas(world, district):
    services.person_register(
        name="=HYPERLINK(1)", phone="9123400002", age=40, home_booth=Booth.objects.get(code="1-1")
    )
    response = district.get(reverse("people:export"))
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    names = {row["name"] for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert "सीता देवी" in names and "'=HYPERLINK(1)" in names and "=HYPERLINK(1)" not in names


def test_it_links_the_export_from_the_list_with_its_filters_for_exporters_only(world):
    html = people_page(world.clients["district_x"], consent="live").content.decode()
    assert f'href="{reverse("people:export")}?consent=live"' in html
    assert 'id="export-link"' not in people_page(world.clients["block_x"]).content.decode()


# --- coverage pages -----------------------------------------------------------------------------------


def row_cells(html: str, unit: str) -> list[str]:
    match = re.search(rf'<tr data-unit="{re.escape(unit)}">(.*?)</tr>', html, flags=re.S)
    assert match, unit
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    ]


def test_it_shows_a_districts_blocks_with_their_figures_and_links_down(world, district):
    html = district.get("/coverage/district/231/").content.decode()
    # booths, at target, %, volunteers, panchayats covered, blocks at target / blocks
    assert row_cells(html, "block:1001")[1:] == ["4", "4", "100.0%", "4", "2", "1 / 1"]
    ramnagar = f"block:#{world.tree.ramnagar_block.pk}"
    assert row_cells(html, ramnagar)[1:] == ["3", "2", "66.7%", "2", "1", "1 / 1"]
    assert row_cells(html, "block:-")[1:] == ["1", "1", "100.0%", "1", "0", "–"]
    assert 'href="/coverage/block/1001/"' in html
    assert f'href="/coverage/block/%23{world.tree.ramnagar_block.pk}/"' in html
    assert 'href="/people/?unit=district%3A231"' in html
    assert 'href="/coverage/district/231/gaps/"' in html
    # Down to a block, a panchayat and a booth.
    block = district.get("/coverage/block/1001/").content.decode()
    assert 'href="/coverage/panchayat/5001/"' in block
    assert f'href="/coverage/panchayat/%23{world.tree.naurangia.pk}/"' in block
    panchayat = district.get("/coverage/panchayat/5001/").content.decode()
    assert 'href="/coverage/booth/1-2A/"' in panchayat
    assert district.get(f"/coverage/block/%23{world.tree.ramnagar_block.pk}/").status_code == 200
    assert district.get("/coverage/booth/1-2A/").status_code == 200


def test_it_shows_a_districts_acs_by_request(world, district):
    html = district.get("/coverage/district/231/", {"by": "ac"}).content.decode()
    assert row_cells(html, "ac:1")[1:5] == ["5", "5", "100.0%", "5"]
    assert row_cells(html, "ac:2")[1:5] == ["3", "2", "66.7%", "2"]
    assert 'href="/coverage/ac/1/"' in html
    ac = district.get("/coverage/ac/2/").content.decode()
    assert re.findall(r'data-unit="booth:([^"]+)"', ac) == ["2-1", "2-1A", "2-2"]


def test_it_lists_gaps_worst_first_and_pages_them(world, district, settings):
    settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = 2
    add_people("1-2", 1, 1)  # 1-2 now has two: at target
    html = district.get("/coverage/district/231/gaps/").content.decode()
    codes = re.findall(r'<tr data-booth="([^"]+)"', html)
    assert codes[0] == "2-1A"  # no volunteer left
    assert set(codes) == {"1-1", "1-2A", "1-3", "1-4", "2-1", "2-1A", "2-2"}
    assert row_cells(html.replace("data-booth", "data-unit"), "2-1A")[-2:] == ["0", "2"]
    state = world.tree.state
    ac = world.tree.valmiki_nagar
    for n in range(10, 70):
        Booth.objects.create(
            state=state, district=ac.district, ac=ac, number=n, code=f"1-{n}", name=f"School {n}"
        )
    first = district.get("/coverage/district/231/gaps/").content.decode()
    assert len(re.findall(r"<tr data-booth=", first)) == 50
    second = district.get("/coverage/district/231/gaps/", {"page": 2}).content.decode()
    assert len(re.findall(r"<tr data-booth=", second)) == 60 + 7 - 50


def test_it_lists_each_home_unit_when_a_login_has_several(world):
    person = world.people["block_y"]
    services.post_assign(person=person, role=Role.BLOCK_COORDINATOR, unit=world.tree.bagaha, started_on=DAY)
    response = world.clients["block_y"].get(reverse("people:coverage"))
    assert response.status_code == 200
    assert set(re.findall(r'<tr data-unit="([^"]+)"', response.content.decode())) == {
        "block:1001",
        "block:1010",
    }


def test_it_tells_a_login_without_a_post_that_there_is_nothing_to_show(world, django_user_model, client):
    client.force_login(django_user_model.objects.create_user("nobody", password="a long enough passphrase"))
    response = client.get(reverse("people:coverage"))
    assert response.status_code == 200 and 'id="no-area"' in response.content.decode()
    assert listed_people(client.get(reverse("people:list"))) == set()
    assert client.get(reverse("people:export")).status_code == 403


# --- API ----------------------------------------------------------------------------------------------


def test_it_pages_the_api_with_a_bounded_limit(world, district):
    body = district.get("/api/people", {"limit": 5, "offset": 10}).json()
    assert body["count"] == 12 and body["limit"] == 5 and body["offset"] == 10
    assert len(body["items"]) == 2
    assert district.get("/api/people", {"limit": 201}).status_code == 422
    assert district.get("/api/people", {"limit": 0}).status_code == 422
    assert len(district.get("/api/people").json()["items"]) == 12  # default 50


def test_it_answers_a_person_with_posts_and_consent_history(world, district):
    person = world.people["v2-1A"]
    body = district.get(f"/api/people/{person.pk}").json()
    assert body["name"] == "Volunteer 2-1A" and body["booth"] == "2-1A"
    assert body["phone"] == str(person.phone)
    assert body["consent"] == {"sms": False, "whatsapp": False}
    assert [post["unit"] for post in body["posts"]] == ["booth:2-1A"]
    assert {point["channel"] for point in body["contact_points"]} == {"sms", "whatsapp"}
    assert all(
        len(point["consents"]) == 1 and point["consents"][0]["withdrawn_at"]
        for point in body["contact_points"]
    )


def test_it_returns_exactly_coverage_as_dict(world, district):
    from sampark.people.coverage import coverage_of, parse_unit

    body = district.get("/api/coverage", {"unit": "district:231", "by": "ac"}).json()
    assert body == coverage_of(parse_unit("district:231"), by="ac").as_dict()
    expected = coverage_of(parse_unit("district:231"), by="ac").as_dict()
    assert list(body) == list(expected)  # the same keys, in the same order
    assert set(body) == {
        "unit", "kind", "name", "booths", "booths_at_target", "coverage_percent", "volunteers",
        "panchayats_covered", "blocks", "blocks_at_target", "children",
    }  # fmt: skip
    assert [child["unit"] for child in body["children"]] == ["ac:1", "ac:2"]
    assert district.get("/api/coverage", {"unit": "nonsense"}).status_code == 404
    assert district.get("/api/coverage").status_code == 422


def test_it_documents_the_api_with_its_error_responses(world, district):
    schema = district.get("/api/openapi.json").json()
    assert schema["info"]["version"] == "1"
    for path in ("/api/people", "/api/people/{person_id}", "/api/coverage"):
        responses = schema["paths"][path]["get"]["responses"]
        assert {"200", "401", "404"} <= set(responses), path
    assert world.clients["anonymous"].get("/api/docs").status_code == 302


# --- admin --------------------------------------------------------------------------------------------


def test_it_gives_a_post_in_the_admin_through_the_service(world, district):
    person = world.people["sita"]
    url = reverse("admin:people_post_add")
    assert district.get(url).status_code == 200
    data = {
        "person": person.pk,
        "role": Role.BOOTH_VOLUNTEER,
        "unit": "booth:1-2",
        "started_on": "2026-01-01",
    }
    response = district.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    post = Post.objects.get(person=person)
    assert (post.level, post.booth.code, post.block_id, post.district_id) == (
        "booth", "1-2", world.tree.bagaha.pk, world.tree.champaran.pk,
    )  # fmt: skip
    assert BoothCoverage.objects.get(booth__code="1-2").volunteers == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"unit": "booth:181-1"}, "unit"),  # outside district X
        ({"unit": "block:1001"}, "unit"),  # a booth post at a block
        ({"unit": "nowhere"}, "unit"),
    ],
)
def test_it_refuses_a_post_outside_the_scope_or_at_the_wrong_level_in_the_admin(world, district, data, field):
    person = world.people["sita"]
    base = {"person": person.pk, "role": Role.BOOTH_VOLUNTEER, "started_on": "2026-01-01"}
    response = district.post(reverse("admin:people_post_add"), {**base, **data})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Post.objects.filter(person=person).exists()


def test_it_refuses_a_post_for_someone_outside_the_scope_in_the_admin(world, district):
    outsider = world.people["v181-1"]
    data = {
        "person": outsider.pk,
        "role": Role.BOOTH_VOLUNTEER,
        "unit": "booth:1-1",
        "started_on": "2026-01-01",
    }
    response = district.post(reverse("admin:people_post_add"), data)
    assert response.status_code == 200
    assert Post.objects.filter(person=outsider).count() == 1


def test_it_ends_a_post_in_the_admin_through_the_service(world, district):
    post = Post.objects.get(person=world.people["v1-1"])
    url = reverse("admin:people_post_change", args=[post.pk])
    response = district.post(url, {"ended_on": "2026-01-06"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert str(post.ended_on) == "2026-01-06"


def test_it_keeps_consent_history_and_registration_out_of_admin_edits(world, district):
    consent = Consent.objects.filter(contact_point__person=world.people["v1-1"]).first()
    assert district.get(reverse("admin:people_consent_change", args=[consent.pk])).status_code == 200
    assert district.post(reverse("admin:people_consent_change", args=[consent.pk]), {}).status_code == 403
    assert district.get(reverse("admin:people_person_add")).status_code == 403
    assert district.get(reverse("admin:people_contactpoint_add")).status_code == 403
    point = consent.contact_point
    assert district.get(reverse("admin:people_contactpoint_delete", args=[point.pk])).status_code == 403
    assert district.get(reverse("admin:people_consent_delete", args=[consent.pk])).status_code == 403
    index = district.get(reverse("admin:index")).content.decode()
    assert "boothcoverage" not in index


def test_it_searches_people_in_the_admin_by_name_booth_and_phone(world, district):
    url = reverse("admin:people_person_changelist")

    def found(term):
        return {p.pk for p in district.get(url, {"q": term}).context["cl"].result_list}

    assert found("रमेश") == world.ids("ramesh")
    assert found("ramesh") == world.ids("ramesh")
    assert found("1-2") == world.ids("v1-2", "sita")
    assert found(str(world.people["sita"].phone)[-7:]) == world.ids("sita")


def test_it_masks_numbers_in_the_admin_for_a_volunteer(world):
    html = world.clients["volunteer"].get(reverse("admin:people_person_changelist")).content.decode()
    sita = world.people["sita"]
    assert str(sita.phone) not in html and str(sita.phone)[-4:] in html
    html = world.clients["volunteer"].get(reverse("admin:people_contactpoint_changelist")).content.decode()
    assert str(sita.phone) not in html


def test_it_deletes_a_person_in_the_admin_and_recounts_their_booth(world, district):
    person = world.people["v1-1"]
    url = reverse("admin:people_person_delete", args=[person.pk])
    assert district.post(url, {"post": "yes"}).status_code == 302
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not BoothCoverage.objects.filter(booth__code="1-1").exists()


def test_it_links_people_and_coverage_from_the_navbar(world, district):
    html = district.get(reverse("territory:home"), follow=True).content.decode()
    assert f'href="{reverse("people:list")}"' in html and f'href="{reverse("people:coverage")}"' in html
