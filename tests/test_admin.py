"""Admin for the territory: every changelist loads, and search finds units by code and by Hindi name."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    District,
    Geometry,
    Panchayat,
    ParliamentaryConstituency,
    State,
)
from tests.helpers.territory import Tree, build_bihar

pytestmark = pytest.mark.django_db


@pytest.fixture
def bihar() -> Tree:
    tree = build_bihar()
    tree.champaran.geometry = Geometry.objects.create(
        geojson={
            "type": "Polygon",
            "coordinates": [[[84.0, 27.0], [84.5, 27.0], [84.5, 27.5], [84.0, 27.0]]],
        },
        source="LGD district boundaries 2024",
    )
    tree.champaran.save()
    return tree


def changelist(client, model, query: str = "", **params):
    url = reverse(f"admin:territory_{model._meta.model_name}_changelist")
    response = client.get(url, {"q": query, **params} if query else params)
    assert response.status_code == 200, response.content[:500]
    return response


def found(response) -> set:
    return set(response.context["cl"].result_list)


# model, a Hindi name, a code, and what each must find (by the Tree attribute name)
SEARCHES = [
    (State, "बिहार", "10", ["state"], ["state"]),
    (District, "पश्चिम चंपारण", "231", ["champaran"], ["champaran"]),
    (AssemblyConstituency, "पटना साहिब", "181", ["patna_sahib"], ["patna_sahib"]),
    (Block, "बगहा", "1001", ["bagaha"], ["bagaha"]),
    (Panchayat, "हरनाटांड़", "5001", ["harnatand"], ["harnatand"]),
]


@pytest.mark.parametrize(("model", "hindi", "code", "by_name", "by_code"), SEARCHES)
def test_it_finds_each_unit_by_hindi_name_and_by_code(
    admin_client, bihar, model, hindi, code, by_name, by_code
):
    assert found(changelist(admin_client, model, hindi)) == {getattr(bihar, name) for name in by_name}
    assert found(changelist(admin_client, model, code)) == {getattr(bihar, name) for name in by_code}
    assert found(changelist(admin_client, model, "99999")) == set()


def test_it_finds_units_by_english_name_too(admin_client, bihar):
    assert found(changelist(admin_client, District, "champaran")) == {bihar.champaran}
    assert found(changelist(admin_client, Block, "ramnagar")) == {bihar.ramnagar_block}
    assert found(changelist(admin_client, AssemblyConstituency, "ramnagar")) == {bihar.ramnagar}


def test_it_finds_parliamentary_constituencies_by_number_and_hindi_name(admin_client, bihar):
    pc = ParliamentaryConstituency.objects.get()
    assert found(changelist(admin_client, ParliamentaryConstituency, "वाल्मीकि")) == {pc}
    assert found(changelist(admin_client, ParliamentaryConstituency, "1")) == {pc}
    assert found(changelist(admin_client, ParliamentaryConstituency, "2")) == set()


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("1-2A", {"1-2A"}),
        ("181-2", {"181-2"}),
        ("3", {"1-3"}),  # polling station number
        ("पंचायत भवन", {"1-2", "1-2A"}),  # Hindi name, two words
        ("कन्या विद्यालय", {"1-3"}),
        ("Community Hall", {"1-4"}),  # English name
        ("9-99", set()),
    ],
)
def test_it_finds_booths_by_code_number_and_name_in_either_script(admin_client, bihar, query, codes):
    assert {booth.code for booth in found(changelist(admin_client, Booth, query))} == codes


def test_it_finds_geometries_by_source_and_id(admin_client, bihar):
    geometry = bihar.champaran.geometry
    assert found(changelist(admin_client, Geometry, "LGD district")) == {geometry}
    assert found(changelist(admin_client, Geometry, str(geometry.pk))) == {geometry}
    page = changelist(admin_client, Geometry).content.decode()
    assert "Polygon" in page
    assert "84.5" not in page  # the list never prints the polygons


@pytest.mark.parametrize(
    "model",
    [State, Geometry, District, ParliamentaryConstituency, AssemblyConstituency, Block, Panchayat, Booth],
)
def test_it_opens_every_changelist_add_form_and_change_form(admin_client, bihar, model):
    changelist(admin_client, model)
    name = model._meta.model_name
    assert admin_client.get(reverse(f"admin:territory_{name}_add")).status_code == 200
    obj = model.objects.order_by("pk").first()
    assert admin_client.get(reverse(f"admin:territory_{name}_change", args=[obj.pk])).status_code == 200


def test_it_lists_booths_in_a_fixed_number_of_queries(admin_client, bihar, django_assert_max_num_queries):
    # session, user, count, page of booths with AC/block/panchayat joined, and the filter sidebar lists
    with django_assert_max_num_queries(8):
        changelist(admin_client, Booth)
    with django_assert_max_num_queries(8):
        changelist(admin_client, Booth, "हरनाटांड़")


def test_it_never_renders_a_select_of_every_panchayat_or_ac_on_a_booth(admin_client, bihar):
    html = admin_client.get(reverse("admin:territory_booth_change", args=[bihar.booth.pk])).content.decode()
    for field in ("state", "district", "ac", "block", "panchayat"):
        select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, flags=re.S)
        assert select, field
        assert "admin-autocomplete" in select.group(0), field
        options = re.findall(r"<option", select.group(1))
        assert len(options) <= 2, field  # the blank choice and the current value, nothing else


def test_it_keeps_imported_source_fields_read_only(admin_client, bihar):
    url = reverse("admin:territory_booth_change", args=[bihar.booth.pk])
    html = admin_client.get(url).content.decode()
    assert "Bihar/AC001.csv:3" in html
    assert 'name="source"' not in html and 'name="coordinate_raw"' not in html
    assert 'name="name_hi"' in html  # ordinary fields stay editable


def test_it_answers_autocomplete_for_an_ac_by_number_and_hindi_name(admin_client, bihar):
    url = reverse("admin:autocomplete")
    params = {"app_label": "territory", "model_name": "booth", "field_name": "ac"}
    by_number = admin_client.get(url, {**params, "term": "181"}).json()
    assert [item["id"] for item in by_number["results"]] == [str(bihar.patna_sahib.pk)]
    by_name = admin_client.get(url, {**params, "term": "रामनगर"}).json()
    assert [item["id"] for item in by_name["results"]] == [str(bihar.ramnagar.pk)]


def test_it_speaks_hindi_in_the_admin(admin_client, bihar):
    html = changelist(admin_client, Booth).content.decode()
    assert "मतदान केंद्र (बूथ)" in html
    assert "बूथ कोड (जैसे 12-34A), मतदान केंद्र संख्या, या हिंदी अथवा अंग्रेज़ी में नाम" in html
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Sampark / संपर्क" in index
    assert "विधानसभा क्षेत्र" in index and "प्रखंड" in index and "पंचायतें" in index


def test_it_keeps_volunteers_out_of_the_admin(client, bihar, django_user_model):
    client.force_login(
        django_user_model.objects.create_user("volunteer", password="a long enough passphrase")
    )
    response = client.get(reverse("admin:territory_booth_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
