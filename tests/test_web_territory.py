"""The territory browser: login wall, the walk to a booth in Hindi and English, counts, search, queries."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    District,
    Panchayat,
    State,
)
from sampark.territory.selectors import forget_counts
from tests.helpers.territory import Tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client: Client) -> Client:
    """A logged-in, non-staff user (the browser is for everyone with an account)."""
    user = get_user_model().objects.create_user("volunteer", password="a long enough passphrase")
    client.force_login(user)
    return client


def text(response) -> str:
    """The page as a reader sees it: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def row(response, attribute: str, value: object) -> str:
    """The text of the table row marked ``data-<attribute>="<value>"``."""
    html = response.content.decode()
    match = re.search(rf'<tr[^>]*data-{attribute}="{value}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert match, f"no row data-{attribute}={value}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def booth_codes(response) -> list[str]:
    return re.findall(r'<tr data-booth="([^"]+)"', response.content.decode())


def urls(tree: Tree) -> list[str]:
    return [
        reverse("territory:home"),
        reverse("territory:state", args=[10]),
        reverse("territory:district", args=[231]),
        reverse("territory:ac", args=[10, 1]),
        reverse("territory:block", args=[tree.bagaha.pk]),
        reverse("territory:block-lgd", args=[1001]),
        reverse("territory:panchayat", args=[tree.harnatand.pk]),
        reverse("territory:panchayat-lgd", args=[5001]),
        reverse("territory:booth", args=[10, "1-2"]),
    ]


# --- the login wall ---------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login_from_every_browser_page(client, bihar):
    for url in urls(bihar):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('login')}?next={url}", url


def test_it_sends_an_htmx_search_from_an_expired_session_to_the_login_page(client, bihar):
    url = reverse("territory:ac", args=[10, 1])
    response = client.get(
        url, {"q": "2"}, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{url}?q=2"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={url}%3Fq%3D2"


def test_it_shows_the_login_form_in_hindi_and_logs_in(client, bihar):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert '<html lang="hi">' in page.content.decode()
    assert "लॉग इन" in text(page)
    assert "उपयोगकर्ता नाम" in text(page)
    assert "पासवर्ड" in text(page)

    get_user_model().objects.create_user("volunteer", password="a long enough passphrase")
    wrong = client.post(reverse("login"), {"username": "volunteer", "password": "wrong"})
    assert "उपयोगकर्ता नाम या पासवर्ड सही नहीं है" in text(wrong)

    right = client.post(reverse("login"), {"username": "volunteer", "password": "a long enough passphrase"})
    assert right.status_code == 302
    assert client.get(right["Location"], follow=True).status_code == 200


def test_it_logs_out_with_a_post_from_the_navbar(member, bihar):
    page = member.get(reverse("territory:state", args=[10]))
    assert f'action="{reverse("logout")}" method="post"' in page.content.decode()
    member.post(reverse("logout"))
    assert member.get(reverse("territory:state", args=[10])).status_code == 302


# --- the walk, in Hindi (the default) -------------------------------------------------------------------


def test_it_opens_the_only_state_with_booths_straight_away(member, bihar, django_assert_max_num_queries):
    State.objects.create(lgd_code=9, name_en="Uttar Pradesh", name_hi="उत्तर प्रदेश")  # no booths yet
    with django_assert_max_num_queries(4):  # session, user, the states with booths, that state
        response = member.get(reverse("territory:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("territory:state", args=[10])


def test_it_lists_the_states_when_more_than_one_has_booths(member, bihar, django_assert_max_num_queries):
    up = State.objects.create(lgd_code=9, name_en="Uttar Pradesh", name_hi="उत्तर प्रदेश")
    lucknow = District.objects.create(state=up, lgd_code=162, name_en="Lucknow", name_hi="लखनऊ")
    ac = AssemblyConstituency.objects.create(state=up, district=lucknow, number=170, name_en="Lucknow West")
    Booth.objects.create(state=up, district=lucknow, ac=ac, number=1, code="170-1", name="School")

    with django_assert_max_num_queries(7):  # session, user, the redirect check, states, three counts
        response = member.get(reverse("territory:home"))
    assert response.status_code == 200
    page = text(response)
    assert "राज्य" in page
    assert "बिहार" in page and "उत्तर प्रदेश" in page
    assert "कुल 3 4 9 3 12" in page  # districts, ACs, main, auxiliary, all booths


def test_it_counts_every_level_of_the_state_in_hindi(member, bihar):
    response = member.get(reverse("territory:state", args=[10]))
    assert response.status_code == 200
    page = text(response)
    assert response.content.decode().startswith("<!doctype html>")
    assert '<html lang="hi">' in response.content.decode()
    assert "बिहार" in page and "जिले" in page
    assert "विधानसभा क्षेत्र" in page and "प्रखंड" in page and "पंचायतें" in page
    assert "मुख्य बूथ" in page and "सहायक बूथ" in page
    # ACs, blocks, panchayats, main, auxiliary, all booths
    assert row(response, "district", 231) == "पश्चिम चंपारण 2 2 3 6 2 8"
    assert row(response, "district", 230) == "पटना 1 1 1 2 1 3"
    assert row(response, "district", "total") == "कुल (2 जिले) 3 3 4 8 3 11"
    # Rows follow the names the reader sees: पटना before पश्चिम चंपारण (ट before श) in Hindi.
    assert page.index("पटना") < page.index("पश्चिम चंपारण")


def test_it_walks_from_state_to_district_to_ac_to_booth_in_hindi(member, bihar):
    state = member.get(reverse("territory:state", args=[10]))
    district_url = reverse("territory:district", args=[231])
    assert f'href="{district_url}"' in state.content.decode()

    district = member.get(district_url)
    page = text(district)
    assert text_breadcrumbs(district) == "बिहार › पश्चिम चंपारण"
    assert row(district, "ac", 1) == "1 वाल्मीकि नगर 4 1 5"
    assert row(district, "ac", 2) == "2 रामनगर अनुसूचित जाति 2 1 3"
    assert row(district, "ac", "total") == "कुल 6 2 8"
    assert row(district, "block", bihar.bagaha.pk) == "बगहा-1 2 3 1 4"
    assert row(district, "block", bihar.ramnagar_block.pk) == "रामनगर 1 2 1 3"
    assert row(district, "block", "none") == "प्रखंड से अभी न जुड़े बूथ – 1 0 1"
    assert row(district, "block", "total") == "कुल 3 6 2 8"
    assert "विधानसभा क्षेत्र" in page
    ac_url = reverse("territory:ac", args=[10, 1])
    assert f'href="{ac_url}"' in district.content.decode()

    ac = member.get(ac_url)
    assert text_breadcrumbs(ac) == "बिहार › पश्चिम चंपारण › 1-वाल्मीकि नगर"
    assert booth_codes(ac) == ["1-1", "1-2", "1-2A", "1-3", "1-4"]
    assert "5 बूथ" in text(ac)
    assert "पंचायत भवन हरनाटांड़" in text(ac)
    booth_url = reverse("territory:booth", args=[10, "1-2"])
    assert f'href="{booth_url}"' in ac.content.decode()

    booth = member.get(booth_url)
    assert text_breadcrumbs(booth) == "बिहार › पश्चिम चंपारण › 1-वाल्मीकि नगर › 1-2"
    page = text(booth)
    assert "मतदान केंद्र" in page
    assert "पंचायत भवन हरनाटांड़" in page and "Panchayat Bhawan Harnatand" in page
    assert "डिग्री-मिनट-सेकंड से बदला गया" in page  # coordinate quality in words
    assert "27.153210, 84.082100" in page
    assert "1 से 1,234 तक" in page
    assert "Bihar/AC001.csv:3" in page


def test_it_walks_from_block_to_panchayat_to_booth_in_hindi(member, bihar):
    district = member.get(reverse("territory:district", args=[231]))
    block_url = reverse("territory:block", args=[bihar.bagaha.pk])
    assert f'href="{block_url}"' in district.content.decode()

    block = member.get(block_url)
    assert text_breadcrumbs(block) == "बिहार › पश्चिम चंपारण › बगहा-1"
    assert row(block, "panchayat", bihar.harnatand.pk) == "हरनाटांड़ ग्राम पंचायत 2 1 3"
    assert row(block, "panchayat", bihar.naurangia.pk) == "नौरंगिया ग्राम पंचायत 1 0 1"
    assert row(block, "panchayat", "total") == "कुल (2 पंचायतें) 3 1 4"
    panchayat_url = reverse("territory:panchayat", args=[bihar.harnatand.pk])
    assert f'href="{panchayat_url}"' in block.content.decode()

    panchayat = member.get(panchayat_url)
    assert text_breadcrumbs(panchayat) == "बिहार › पश्चिम चंपारण › बगहा-1 › हरनाटांड़"
    assert booth_codes(panchayat) == ["1-1", "1-2", "1-2A"]
    assert "1-वाल्मीकि नगर" in text(panchayat)
    booth = member.get(reverse("territory:booth", args=[10, "1-2A"]))
    page = text(booth)
    assert "सहायक" in page
    assert "हरनाटांड़" in page and "बगहा-1" in page


def test_it_says_so_when_nothing_is_loaded(member):
    response = member.get(reverse("territory:home"))
    assert response.status_code == 200
    assert "अभी कोई क्षेत्र दर्ज नहीं है" in text(response)


def test_it_lists_acs_without_a_district_on_the_state_page(member, bihar):
    AssemblyConstituency.objects.create(state=bihar.state, number=243, name_en="Kahalgaon", name_hi="कहलगांव")
    response = member.get(reverse("territory:state", args=[10]))
    assert "किसी जिले से न जुड़े विधानसभा क्षेत्र" in text(response)
    assert f'href="{reverse("territory:ac", args=[10, 243])}"' in response.content.decode()
    assert row(response, "district", "total") == "कुल (2 जिले) 3 3 4 8 3 11"  # linked ACs only


def test_it_counts_a_blocks_booths_that_have_no_panchayat_yet(member, bihar):
    Booth.objects.filter(code="1-3").update(panchayat=None)
    block = member.get(reverse("territory:block", args=[bihar.bagaha.pk]))
    assert row(block, "panchayat", bihar.naurangia.pk) == "नौरंगिया ग्राम पंचायत 0 0 0"
    assert row(block, "panchayat", "none") == "पंचायत से अभी न जुड़े बूथ 1 0 1"
    assert row(block, "panchayat", "total") == "कुल (2 पंचायतें) 3 1 4"


def test_it_opens_blocks_without_an_lgd_code_and_redirects_lgd_codes(member, bihar):
    assert bihar.ramnagar_block.lgd_code is None
    assert member.get(reverse("territory:block", args=[bihar.ramnagar_block.pk])).status_code == 200
    by_code = member.get(reverse("territory:block-lgd", args=[1001]))
    assert by_code["Location"] == reverse("territory:block", args=[bihar.bagaha.pk])
    by_code = member.get(reverse("territory:panchayat-lgd", args=[5001]))
    assert by_code["Location"] == reverse("territory:panchayat", args=[bihar.harnatand.pk])


def test_it_shows_not_found_for_unknown_codes(member, bihar):
    for url in (
        reverse("territory:state", args=[99]),
        reverse("territory:district", args=[999]),
        reverse("territory:ac", args=[10, 243]),
        reverse("territory:block", args=[999999]),
        reverse("territory:block-lgd", args=[424242]),
        reverse("territory:panchayat", args=[999999]),
        reverse("territory:booth", args=[10, "1-99"]),
        reverse("territory:booth", args=[9, "1-2"]),
    ):
        assert member.get(url).status_code == 404, url


def text_breadcrumbs(response) -> str:
    html = response.content.decode()
    match = re.search(r'<ol class="breadcrumb">(.*?)</ol>', html, flags=re.S)
    assert match, "no breadcrumbs"
    items = re.findall(r"<li[^>]*>(.*?)</li>", match.group(1), flags=re.S)
    return " › ".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in items)


# --- English after the switch -------------------------------------------------------------------------


def test_it_switches_to_english_and_back(member, bihar):
    state_url = reverse("territory:state", args=[10])
    switched = member.post(reverse("set_language"), {"language": "en", "next": state_url})
    assert switched.status_code == 302 and switched["Location"] == state_url

    state = member.get(state_url)
    assert '<html lang="en">' in state.content.decode()
    page = text(state)
    assert "Bihar" in page and "Districts" in page and "Auxiliary booths" in page
    assert row(state, "district", 231) == "Pashchim Champaran 2 2 3 6 2 8"
    assert row(state, "district", "total") == "Total (2 districts) 3 3 4 8 3 11"
    assert page.index("Pashchim Champaran") < page.index("Patna")  # English order in English

    district = member.get(reverse("territory:district", args=[231]))
    assert text_breadcrumbs(district) == "Bihar › Pashchim Champaran"
    assert row(district, "ac", 2) == "2 Ramnagar Scheduled Caste 2 1 3"
    assert row(district, "block", "none") == "Booths not yet placed in a block – 1 0 1"

    ac = member.get(reverse("territory:ac", args=[10, 1]))
    assert text_breadcrumbs(ac) == "Bihar › Pashchim Champaran › 1-Valmiki Nagar"
    assert "Panchayat Bhawan Harnatand" in text(ac)
    assert "5 booths" in text(ac)

    block = member.get(reverse("territory:block", args=[bihar.bagaha.pk]))
    assert row(block, "panchayat", bihar.harnatand.pk) == "Harnatand Gram panchayat 2 1 3"
    panchayat = member.get(reverse("territory:panchayat", args=[bihar.harnatand.pk]))
    assert text_breadcrumbs(panchayat) == "Bihar › Pashchim Champaran › Bagaha-1 › Harnatand"

    booth = member.get(reverse("territory:booth", args=[10, "1-2"]))
    page = text(booth)
    assert "Converted from degrees-minutes-seconds" in page
    assert "from 1 to 1,234" in page
    assert "Electricity Yes Toilet No Ramp Not known" in page

    member.post(reverse("set_language"), {"language": "hi", "next": state_url})
    assert '<html lang="hi">' in member.get(state_url).content.decode()


# --- search -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("2", ["1-2", "1-2A"]),
        ("2A", ["1-2A"]),
        ("1-2", ["1-2", "1-2A"]),
        ("1-2a", ["1-2A"]),
        ("2-2", []),  # booth 2 of another AC
        ("harnatand", ["1-1", "1-2", "1-2A"]),
        ("हरनाटांड़", ["1-1", "1-2", "1-2A"]),
        ("भवन हरनाटांड़", ["1-2", "1-2A"]),
        ("naurangia kanya", ["1-3"]),
        ("nowhere", []),
    ],
)
def test_it_searches_an_acs_booths_by_code_and_by_name_with_htmx(member, bihar, query, codes):
    url = reverse("territory:ac", args=[10, 1])
    partial = member.get(url, {"q": query}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    html = partial.content.decode()
    assert html.lstrip().startswith('<div id="booth-results">')
    assert "<html" not in html and "breadcrumb" not in html
    assert booth_codes(partial) == codes
    assert "HX-Request" in partial["Vary"]

    full = member.get(url, {"q": query})  # the same search without JavaScript
    assert "<html" in full.content.decode()
    assert booth_codes(full) == codes


def test_it_paginates_an_acs_booths(member, bihar):
    ac = bihar.patna_sahib
    Booth.objects.bulk_create(
        Booth(state=bihar.state, district=bihar.patna, ac=ac, number=n, code=f"181-{n}", name=f"School {n}")
        for n in range(3, 121)
    )
    url = reverse("territory:ac", args=[10, 181])
    first = member.get(url)
    assert len(booth_codes(first)) == 50
    assert "पृष्ठ 1 / 3" in text(first)
    last = member.get(url, {"page": 3})
    assert booth_codes(last)[-1] == "181-120"
    assert "121 बूथ" in text(first)


# --- counts stay cheap ---------------------------------------------------------------------------------


def grow(tree: Tree, districts: int, booths_per_district: int) -> None:
    """More districts, ACs, blocks, panchayats and booths: page queries must not grow with them."""
    for i in range(districts):
        district = District.objects.create(state=tree.state, lgd_code=300 + i, name_en=f"District {i}")
        ac = AssemblyConstituency.objects.create(
            state=tree.state, district=district, number=200 + i, name_en="AC"
        )
        block = Block.objects.create(district=district, name_en=f"Block {i}")
        panchayats = [
            Panchayat.objects.create(district=district, block=block, name_en=f"P{i}-{j}") for j in range(3)
        ]
        Booth.objects.bulk_create(
            Booth(
                state=tree.state,
                district=district,
                ac=ac,
                block=block,
                panchayat=panchayats[n % 3],
                number=n,
                code=f"{ac.number}-{n}",
                name=f"School {n}",
            )
            for n in range(1, booths_per_district + 1)
        )
    forget_counts()  # a bulk write, as an import does


def page_urls(tree: Tree) -> dict[str, str]:
    return {
        "state": reverse("territory:state", args=[10]),
        "district": reverse("territory:district", args=[231]),
        "ac": reverse("territory:ac", args=[10, 1]),
        "ac search": reverse("territory:ac", args=[10, 1]) + "?q=harnatand",
        "block": reverse("territory:block", args=[tree.bagaha.pk]),
        "panchayat": reverse("territory:panchayat", args=[tree.harnatand.pk]),
        "booth": reverse("territory:booth", args=[10, "1-2"]),
    }


# Two for the session and the user, then the page's own: the unit (parents joined), its children, one
# GROUP BY per kind of count; lists add a COUNT for the paginator and one query for the page of rows.
MAX_QUERIES = {"state": 8, "district": 8, "ac": 6, "ac search": 6, "block": 5, "panchayat": 6, "booth": 3}


@pytest.mark.parametrize("page", list(MAX_QUERIES))
def test_it_answers_each_page_in_a_fixed_number_of_queries(
    member, bihar, django_assert_max_num_queries, page
):
    url = page_urls(bihar)[page]
    with django_assert_max_num_queries(MAX_QUERIES[page]) as small:
        assert member.get(url).status_code == 200
    grow(bihar, districts=6, booths_per_district=40)
    with django_assert_max_num_queries(MAX_QUERIES[page]) as large:
        assert member.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_booth_counts_are_cached_until_booths_change(member, bihar):
    url = reverse("territory:state", args=[10])

    def booth_groupings(queries: list[dict[str, str]]) -> int:
        return sum('FROM "territory_booth"' in q["sql"] and "GROUP BY" in q["sql"] for q in queries)

    def shown() -> str:  # the page's text with its per-request tokens (CSRF, CSP nonce) left out
        html = member.get(url).content.decode()
        return re.sub(r'(Token": "|nonce="|csrfmiddlewaretoken" value=")[^"]+', "", html)

    with CaptureQueriesContext(connection) as first:
        before = shown()
    with CaptureQueriesContext(connection) as second:
        assert shown() == before
    assert booth_groupings(first.captured_queries) == 1
    assert booth_groupings(second.captured_queries) == 0  # answered from the cache
    total = Booth.objects.count()
    assert f">{total}<" in re.sub(r"\s+", "", before)

    # One booth saved through the ORM (the admin's way): the next load counts again.
    booth = Booth.objects.first()
    Booth.objects.create(
        state=booth.state,
        district=booth.district,
        ac=booth.ac,
        number=9_999,
        code=f"{booth.ac.number}-9999",
        name="New",
    )
    assert f">{total + 1}<" in re.sub(r"\s+", "", shown())
    # A bulk write (no signal) is seen once it says so, as every import does after its commit.
    grow(bihar, districts=1, booths_per_district=5)
    assert f">{total + 6}<" in re.sub(r"\s+", "", shown())


def add_lakh_of_booths(tree: Tree) -> None:
    """1,10,000 more main booths in Patna, 200 ACs × 550, in one statement (the ORM takes a minute)."""
    AssemblyConstituency.objects.bulk_create(
        AssemblyConstituency(state=tree.state, district=tree.patna, number=n, name_en=f"AC {n}")
        for n in range(1001, 1201)
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 550)
            INSERT INTO territory_booth (
                created_at, updated_at, state_id, district_id, ac_id, number, suffix, code, suffix_assigned,
                kind, name, name_hi, coordinate_quality, coordinate_raw, source
            )
            SELECT %s, %s, ac.state_id, ac.district_id, ac.id, seq.n, '', ac.number || '-' || seq.n, %s,
                   'M', 'School', '', 'missing', '', ''
            FROM seq CROSS JOIN territory_assemblyconstituency ac
            WHERE ac.state_id = %s AND ac.number BETWEEN 1001 AND 1200
            """,
            [now, now, False, tree.state.pk],
        )


def test_it_groups_large_counts_the_indian_way(member, bihar, django_assert_max_num_queries):
    """1,10,009 booths, not 110,009: lakh grouping, and still a fixed number of queries."""
    add_lakh_of_booths(bihar)
    assert Booth.objects.count() == 1_10_011

    with django_assert_max_num_queries(MAX_QUERIES["state"]):
        state = member.get(reverse("territory:state", args=[10]))
    # ACs, blocks, panchayats, main, auxiliary, all booths
    assert row(state, "district", 230) == "पटना 201 1 1 1,10,002 1 1,10,003"
    assert row(state, "district", "total") == "कुल (2 जिले) 203 3 4 1,10,008 3 1,10,011"
    assert "1,10,011" in text(state)

    with django_assert_max_num_queries(MAX_QUERIES["district"]):
        district = member.get(reverse("territory:district", args=[230]))
    assert row(district, "ac", 1200) == "1200 AC 1200 550 0 550"
    assert row(district, "ac", "total") == "कुल 1,10,002 1 1,10,003"
    assert row(district, "block", "none") == "प्रखंड से अभी न जुड़े बूथ – 1,10,000 0 1,10,000"


def test_it_finds_a_booth_by_its_number_not_every_name_with_that_digit(member, bihar):
    booth = Booth.objects.get(code="1-2")
    Booth.objects.create(
        state=booth.state,
        district=booth.district,
        ac=booth.ac,
        number=7,
        code="1-7",
        name="Nagar Bhawan Ward No 2",
        name_hi="नगर भवन वार्ड संख्या 2",
    )
    url = reverse("territory:ac", args=[10, 1])
    assert booth_codes(member.get(url, {"q": "2"})) == ["1-2", "1-2A"]
    assert booth_codes(member.get(url, {"q": "ward no 2"})) == ["1-7"]
