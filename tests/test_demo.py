"""`sampark demo`: a consistent, realistic, deterministic synthetic organisation in one transaction."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Q
from django.utils import translation

from sampark.core.text import clean, has_devanagari
from sampark.people.models import BoothCoverage, Person, Post
from sampark.people.scope import Action, scope_for
from sampark.territory import demo
from sampark.territory.demo import DEMO_LGD_BASE, SCALES, DemoSummary, TerritoryNotEmpty, build_demo
from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    CoordinateQuality,
    District,
    Panchayat,
    ParliamentaryConstituency,
    Reservation,
    State,
)

pytestmark = pytest.mark.django_db

PASSWORD = "kharif-monsoon-2020"


@pytest.fixture
def small() -> DemoSummary:
    return build_demo(scale="small", seed=1, password=PASSWORD)


def snapshot() -> list[tuple[Any, ...]]:
    """Every demo row with foreign keys as natural keys, ids and timestamps left out."""
    rows: list[tuple[Any, ...]] = []
    rows += State.objects.values_list("lgd_code", "name_en", "name_hi", "eci_code")
    rows += Person.objects.order_by("phone").values_list(
        "phone", "name", "age", "language", "home_booth__code"
    )
    rows += Post.objects.order_by("person__phone", "role").values_list("person__phone", "role", "level")
    rows += District.objects.order_by("lgd_code").values_list(
        "lgd_code", "census2011_code", "ceo_number", "name_en", "name_hi", "state__lgd_code"
    )
    rows += ParliamentaryConstituency.objects.order_by("number").values_list(
        "number", "name_en", "name_hi", "reservation"
    )
    rows += AssemblyConstituency.objects.order_by("number").values_list(
        "number", "name_en", "name_hi", "reservation", "district__lgd_code", "pc__number"
    )
    rows += Block.objects.order_by("lgd_code").values_list(
        "lgd_code", "name_en", "name_hi", "district__lgd_code"
    )
    rows += Panchayat.objects.order_by("lgd_code").values_list(
        "lgd_code", "kind", "name_en", "name_hi", "block__lgd_code", "district__lgd_code"
    )
    rows += Booth.objects.order_by("ac__number", "number", "suffix").values_list(
        "code",
        "ac__number",
        "number",
        "suffix",
        "kind",
        "name",
        "name_hi",
        "latitude",
        "longitude",
        "coordinate_quality",
        "electricity",
        "toilet",
        "ramp",
        "elector_from",
        "elector_to",
        "source",
        "district__lgd_code",
        "block__lgd_code",
        "panchayat__lgd_code",
        "state__lgd_code",
    )
    return rows


def digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def wipe() -> None:
    Person.objects.all().delete()  # cascades to posts, contact points and consents
    BoothCoverage.objects.all().delete()
    for model in (Booth, Panchayat, Block, AssemblyConstituency, ParliamentaryConstituency, District, State):
        model.objects.all().delete()
    get_user_model().objects.filter(username="demo").delete()


def run_demo(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_it_builds_exactly_the_counts_it_reports(small):
    assert State.objects.get().lgd_code == 10
    assert (small.districts, small.acs, small.blocks, small.pcs) == (3, 9, 8, 2)
    assert District.objects.count() == small.districts
    assert ParliamentaryConstituency.objects.count() == small.pcs
    assert AssemblyConstituency.objects.count() == small.acs
    assert Block.objects.count() == small.blocks
    assert Panchayat.objects.filter(kind=Panchayat.Kind.GRAM_PANCHAYAT).count() == small.gram_panchayats
    assert Panchayat.objects.filter(kind=Panchayat.Kind.URBAN).count() == small.urban_bodies
    assert Booth.objects.filter(kind=Booth.Kind.MAIN).count() == small.main_booths
    assert Booth.objects.filter(kind=Booth.Kind.AUXILIARY).count() == small.auxiliary_booths
    scale = SCALES["small"]
    assert (small.main_booths, small.auxiliary_booths) == (scale.main_booths, scale.auxiliary_booths)
    assert 500 <= small.booths <= 700 and 60 <= small.panchayats <= 100


def test_it_links_every_booth_to_consistent_ancestors(small):
    booths = Booth.objects.all()
    assert not booths.filter(Q(block=None) | Q(panchayat=None)).exists()
    assert not booths.exclude(district=F("ac__district")).exists()
    assert not booths.exclude(district=F("block__district")).exists()
    assert not booths.exclude(block=F("panchayat__block")).exists()
    assert not booths.exclude(state=F("ac__state")).exists()
    assert not Panchayat.objects.exclude(district=F("block__district")).exists()
    assert not AssemblyConstituency.objects.filter(Q(district=None) | Q(pc=None)).exists()
    # Every panchayat has booths, and every block has panchayats.
    assert not Panchayat.objects.annotate(n=Count("booths")).filter(n=0).exists()
    assert not Block.objects.annotate(n=Count("panchayats")).filter(n=0).exists()
    # An AC's booths lie in a few blocks of its one district.
    spans = AssemblyConstituency.objects.annotate(n=Count("booths__block", distinct=True))
    assert all(1 <= ac.n <= 4 for ac in spans)
    assert any(ac.n >= 2 for ac in spans)


def test_it_numbers_booths_as_the_election_office_does(small):
    codes = list(Booth.objects.values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    for booth in Booth.objects.select_related("ac"):
        assert booth.code == Booth.make_code(booth.ac.number, booth.number, booth.suffix)
        assert (booth.kind == Booth.Kind.AUXILIARY) == (booth.suffix in ("A", "B"))
        assert booth.suffix in ("", "A", "B")
    for ac in AssemblyConstituency.objects.all():
        numbers = sorted(ac.booths.filter(kind=Booth.Kind.MAIN).values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))
    # An auxiliary booth shares its main booth's number, building and coordinates, and continues its roll.
    for aux in Booth.objects.filter(kind=Booth.Kind.AUXILIARY):
        main = Booth.objects.get(ac=aux.ac, number=aux.number, suffix="")
        before = main if aux.suffix == "A" else Booth.objects.get(ac=aux.ac, number=aux.number, suffix="A")
        assert aux.elector_from == before.elector_to + 1
        assert (aux.latitude, aux.longitude, aux.panchayat_id) == (
            main.latitude,
            main.longitude,
            main.panchayat_id,
        )
        assert aux.name == f"{main.name} (Auxiliary)" and aux.name_hi == f"{main.name_hi} (सहायक)"
    assert Booth.objects.filter(suffix="B").exists()
    assert re.fullmatch(r"\d+-\d+A", Booth.objects.filter(suffix="A").first().code)


def test_it_gives_booths_plausible_places_facilities_and_rolls(small):
    booths = Booth.objects.all()
    assert not booths.exclude(coordinate_quality=CoordinateQuality.DEMO).exists()
    assert not booths.exclude(latitude__range=(24.3, 27.5), longitude__range=(83.4, 88.2)).exists()
    assert not booths.filter(
        Q(elector_from=None) | Q(elector_to=None) | Q(elector_from__gt=F("elector_to"))
    ).exists()
    assert not booths.filter(elector_to__gt=F("elector_from") + 1000).exists()  # at most 1,000 electors
    assert booths.filter(electricity=True).exists() and booths.filter(electricity=False).exists()
    assert booths.filter(ramp=False).exists() and booths.filter(toilet=True).exists()
    assert booths.filter(
        name__regex=r"^(Prathamik|Madhya) Vidyalay .+ \((East|West|North|South|Left|Right|Middle) part\)$"
    ).exists()
    assert booths.filter(name_hi__startswith="प्राथमिक विद्यालय ").exists()
    assert not booths.exclude(source="sampark demo --seed 1").exists()


def test_it_uses_codes_that_cannot_collide_with_real_imports(small):
    for model in (District, Block, Panchayat):
        assert not model.objects.filter(lgd_code__lt=DEMO_LGD_BASE).exists()
    assert not District.objects.exclude(census2011_code__gt="900").exists()
    assert not District.objects.exclude(ceo_number=None).exists()


def test_it_reserves_some_constituencies_and_has_urban_bodies(small):
    reservations = set(AssemblyConstituency.objects.values_list("reservation", flat=True))
    assert {Reservation.SC, Reservation.ST, Reservation.GENERAL} <= reservations
    urban = Panchayat.objects.filter(kind=Panchayat.Kind.URBAN)
    assert urban.filter(name_en__regex=r" Nagar (Nigam|Parishad|Panchayat)$").count() == urban.count()
    assert Booth.objects.filter(panchayat__kind=Panchayat.Kind.URBAN, name__contains=" Ward No. ").exists()


def test_it_writes_hindi_names_in_nfc_devanagari_and_english_in_latin(small):
    hindi: list[str] = []
    english: list[str] = []
    for model in (District, ParliamentaryConstituency, AssemblyConstituency, Block, Panchayat):
        for name_hi, name_en in model.objects.values_list("name_hi", "name_en"):
            hindi.append(name_hi)
            english.append(name_en)
    for name_hi, name_en in Booth.objects.values_list("name_hi", "name"):
        hindi.append(name_hi)
        english.append(name_en)
    for name in hindi:
        assert unicodedata.is_normalized("NFC", name) and clean(name) == name and has_devanagari(name), name
        assert not re.search(r"[A-Za-z]", name), name
    for name in english:
        assert name.isascii() and clean(name) == name and name[:1].isupper(), name
    # ड़ and ढ़ have precomposed code points that NFC must not keep.
    assert not any("\u095c" in n or "\u095d" in n for n in hindi)


def test_it_is_deterministic_for_a_seed():
    build_demo(scale="small", seed=7, password=PASSWORD)
    first = snapshot()
    wipe()
    build_demo(scale="small", seed=7, password=PASSWORD)
    assert len(first) > 600
    assert digest(snapshot()) == digest(first)


def test_it_builds_different_names_for_a_different_seed():
    build_demo(scale="small", seed=1, password=PASSWORD)
    one = set(Block.objects.values_list("name_en", flat=True))
    wipe()
    build_demo(scale="small", seed=2, password=PASSWORD)
    two = set(Block.objects.values_list("name_en", flat=True))
    assert one != two


def test_it_refuses_a_database_that_has_territory_and_writes_nothing(small):
    before = digest(snapshot())
    with pytest.raises(TerritoryNotEmpty):
        build_demo(scale="small", seed=2)
    assert digest(snapshot()) == before


def test_it_writes_nothing_when_the_build_fails(monkeypatch):
    def broken(password):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_ensure_login", broken)
    with pytest.raises(RuntimeError):
        build_demo(scale="small", seed=1)
    assert not State.objects.exists() and not District.objects.exists() and not Booth.objects.exists()


def test_it_reports_progress_for_every_booth():
    seen: dict[str, list[int]] = {}

    def progress(description, total):
        seen[description] = [total or 0, 0]

        def advance(n):
            seen[description][1] += n

        return advance

    summary = build_demo(scale="small", seed=1, password=PASSWORD, progress=progress)
    territory = [(total, done) for total, done in seen.values() if total]
    assert len(territory) == 3
    assert all(total == done for total, done in territory)
    assert (summary.booths, summary.booths) in territory
    # The volunteer import's check of its CSV has no total; it advanced once per row (one post each).
    assert [done for total, done in seen.values() if not total] == [Post.objects.count()]


def test_it_prints_the_login_and_the_password_works():
    out = run_demo("--seed", "3")
    match = re.search(r"^Login: demo / (\S+)$", out, re.MULTILINE)
    assert match, out
    user = authenticate(username="demo", password=match.group(1))
    assert user is not None and user.is_superuser and user.is_staff
    assert "Polling booths: total" in out and "600" in out


def test_it_prints_counts_with_indian_grouping(monkeypatch):
    from sampark.territory.management.commands import demo as command

    state = DemoSummary(
        scale="state",
        seed=1,
        state="Bihar",
        districts=38,
        pcs=40,
        acs=243,
        blocks=534,
        gram_panchayats=7740,
        urban_bodies=260,
        main_booths=72723,
        auxiliary_booths=33797,
        username="demo",
        password="x",
        seconds=12.0,
    )
    monkeypatch.setattr(command, "build_demo", lambda **kwargs: state)
    out = run_demo("--scale", "state")
    assert re.search(r"Polling booths: total\W+1,06,520", out), out
    assert re.search(r"Gram panchayats\W+7,740", out) and "72,723" in out and "33,797" in out


def test_it_keeps_an_existing_users_password_unless_one_is_given():
    get_user_model().objects.create_user("demo", password=PASSWORD)
    out = run_demo()
    assert "Login: demo (the existing password is kept)" in out
    assert authenticate(username="demo", password=PASSWORD) is not None

    wipe()
    get_user_model().objects.create_user("demo", password=PASSWORD)
    out = run_demo("--password", "rabi-wheat-harvest")
    assert "Login: demo / rabi-wheat-harvest" in out
    assert authenticate(username="demo", password="rabi-wheat-harvest") is not None


def test_it_leaves_an_existing_database_alone_with_if_empty():
    State.objects.create(lgd_code=10, name_en="Bihar", name_hi="बिहार")
    out = run_demo("--if-empty")
    assert "already has territory data" in out
    assert not District.objects.exists() and not Booth.objects.exists()
    assert not get_user_model().objects.filter(username="demo").exists()


def test_it_builds_with_if_empty_on_an_empty_database():
    out = run_demo("--if-empty", "--password", PASSWORD)
    assert Booth.objects.count() == SCALES["small"].main_booths + SCALES["small"].auxiliary_booths
    assert f"Login: demo / {PASSWORD}" in out


def test_it_fails_the_command_without_if_empty_on_a_database_with_territory(small):
    with pytest.raises(CommandError, match="--if-empty"):
        run_demo()


def test_it_refuses_a_weak_password_before_writing_anything():
    with pytest.raises(CommandError, match="password"):
        run_demo("--password", "demo")
    assert not State.objects.exists()


def test_it_makes_scoped_logins_nested_inside_each_other():
    summary = build_demo(scale="small", seed=1, password=PASSWORD)
    assert summary.logins == ("district", "block", "saathi")
    users = {name: get_user_model().objects.get(username=name) for name in summary.logins}
    assert all(authenticate(username=name, password=PASSWORD) for name in summary.logins)
    district = scope_for(users["district"])
    block = scope_for(users["block"])
    saathi = scope_for(users["saathi"])
    assert len(district.districts) == 1 and not district.blocks
    [block_id] = block.blocks
    assert Block.objects.get(pk=block_id).district_id in district.districts
    [booth_id] = saathi.booths
    assert Booth.objects.get(pk=booth_id).block_id == block_id
    assert not scope_for(users["saathi"], Action.EXPORT).booths  # a volunteer cannot export
