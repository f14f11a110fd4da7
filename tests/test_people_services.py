"""The people services: registering with consent, consent history, posts with their unit's ancestors,
and the per-booth coverage rollup that every change keeps exact (including the hourly date refresh)."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from sampark.core.text import search_key
from sampark.people import services, tasks
from sampark.people.models import (
    BoothCoverage,
    Channel,
    Consent,
    ContactPoint,
    Level,
    Person,
    Post,
    Role,
    Source,
)
from sampark.people.services import PeopleError
from sampark.territory.demo import build_demo
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 10)
NOW = datetime.datetime(2026, 11, 10, 12, 0, tzinfo=datetime.UTC)
_numbers = itertools.count(10_000_000)


def next_phone() -> str:
    """A fresh valid Indian mobile number, in the ten-digit shape people type."""
    return f"98{next(_numbers):08d}"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English (the default language is Hindi)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


@dataclass
class Tree:
    state: State
    district: District
    ac: AssemblyConstituency
    block: Block
    panchayat: Panchayat
    booth: Booth
    other_booth: Booth  # same panchayat
    far_booth: Booth  # another district


@pytest.fixture
def tree() -> Tree:
    build_demo(scale="small", seed=1, hooks=False)
    booth = Booth.objects.select_related("state", "district", "ac", "block", "panchayat").get(code="1-1")
    other = Booth.objects.filter(panchayat=booth.panchayat).exclude(pk=booth.pk).order_by("pk").first()
    assert other is not None
    far = Booth.objects.exclude(district=booth.district).order_by("pk").first()
    assert far is not None
    return Tree(
        state=booth.state,
        district=booth.district,
        ac=booth.ac,
        block=booth.block,
        panchayat=booth.panchayat,
        booth=booth,
        other_booth=other,
        far_booth=far,
    )


def register(**kwargs) -> Person:  # type: ignore[no-untyped-def]
    kwargs.setdefault("name", "Ramesh Kumar")
    kwargs.setdefault("phone", next_phone())
    kwargs.setdefault("age", 25)
    kwargs.setdefault("consent_at", NOW)
    return services.person_register(**kwargs)


def counted(booth: Booth) -> int:
    row = BoothCoverage.objects.filter(booth=booth).first()
    return row.volunteers if row else 0


def people_tables() -> tuple[int, int, int, int]:
    return (
        Person.objects.count(),
        ContactPoint.objects.count(),
        Consent.objects.count(),
        Post.objects.count(),
    )


# --- registering ------------------------------------------------------------------------------------


def test_it_registers_a_person_with_e164_phone_search_key_and_a_consent_per_channel(
    tree: Tree, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.SAMPARK_CONSENT_NOTICE_VERSION = "notice-7"
    person = services.person_register(
        name="  रमेश   कुमार ",
        phone="+91 98765-43210",
        age=24,
        language="en",
        home_booth=tree.booth,
        source=Source.REFERRAL,
        consent_at=NOW,
    )
    person.refresh_from_db()
    assert str(person.phone) == "+919876543210"
    assert person.name == "रमेश कुमार"
    assert person.name_key == search_key("रमेश कुमार") == "ramesh kumar"
    assert person.age == 24 and person.age_on == TODAY and person.birth_date is None
    assert person.home_booth_id == tree.booth.pk
    points = {p.channel: p for p in person.contact_points.all()}
    assert set(points) == {Channel.SMS, Channel.WHATSAPP}
    for point in points.values():
        assert point.address == "+919876543210"
        assert point.consent_live is True
        [consent] = point.consents.all()
        assert consent.notice_version == "notice-7"
        assert consent.notice_language == "en"
        assert consent.source == Source.REFERRAL
        assert consent.given_at == NOW
        assert consent.withdrawn_at is None


def test_it_registers_a_latin_name_with_a_lower_case_key_and_only_the_channels_consented(tree: Tree) -> None:
    person = register(name="Sunita DEVI", channels=[Channel.WHATSAPP])
    assert person.name_key == "sunita devi"
    assert list(person.contact_points.values_list("channel", flat=True)) == [Channel.WHATSAPP]
    assert Consent.objects.filter(contact_point__person=person).count() == 1


def test_it_registers_by_birth_date_and_keeps_no_age(tree: Tree) -> None:
    person = register(birth_date=datetime.date(2000, 1, 2), age=None)
    person.refresh_from_db()
    assert person.birth_date == datetime.date(2000, 1, 2)
    assert person.age is None and person.age_on is None
    assert person.age_on_date(TODAY) == 26


def test_it_registers_someone_who_turns_18_today(tree: Tree) -> None:
    person = register(birth_date=TODAY.replace(year=TODAY.year - 18), age=None)
    assert person.pk is not None


@pytest.mark.parametrize(
    ("birth_date", "age", "field", "words"),
    [
        (None, 17, "age", "under 18"),
        (None, 0, "age", "under 18"),
        (TODAY.replace(year=TODAY.year - 18) + datetime.timedelta(days=1), None, "age", "under 18"),
        (TODAY.replace(year=TODAY.year - 10), 30, "age", "under 18"),  # the birth date wins over the age
        (TODAY + datetime.timedelta(days=1), None, "birth_date", "future"),
        (None, None, "age", "date of birth or an age"),
        (None, 121, "age", "over 120"),
    ],
)
def test_it_refuses_children_and_unknown_or_implausible_ages(
    tree: Tree, birth_date: datetime.date | None, age: int | None, field: str, words: str
) -> None:
    before = people_tables()
    with pytest.raises(PeopleError) as caught:
        register(birth_date=birth_date, age=age)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert people_tables() == before


def test_it_refuses_a_phone_already_registered_in_another_shape(tree: Tree) -> None:
    register(phone="9876543210")
    before = people_tables()
    with pytest.raises(PeopleError) as caught:
        register(phone="+91 98765 43210", name="Someone Else")
    assert caught.value.field == "phone"
    assert people_tables() == before


def test_it_refuses_a_landline_or_an_invalid_number(tree: Tree) -> None:
    with pytest.raises(services.PeopleError) as landline:
        register(phone="0612-2345678")
    assert landline.value.field == "phone"
    with pytest.raises(services.PeopleError):
        register(phone="12345")
    assert people_tables() == (0, 0, 0, 0)


def test_it_refuses_registering_without_any_channel(tree: Tree) -> None:
    with pytest.raises(PeopleError) as caught:
        register(channels=[])
    assert caught.value.field == "consent"
    assert people_tables() == (0, 0, 0, 0)


def test_it_refuses_an_email_channel_for_a_phone_and_writes_nothing(tree: Tree) -> None:
    with pytest.raises(PeopleError) as caught:
        register(channels=[Channel.SMS, Channel.EMAIL])
    assert caught.value.field == "channels"
    assert people_tables() == (0, 0, 0, 0)


def test_it_refuses_an_empty_name(tree: Tree) -> None:
    with pytest.raises(PeopleError) as caught:
        register(name=" \u200b ")
    assert caught.value.field == "name"
    assert people_tables() == (0, 0, 0, 0)


# --- consent ---------------------------------------------------------------------------------------


def sms_point(person: Person) -> ContactPoint:
    return person.contact_points.get(channel=Channel.SMS)


def test_withdrawing_keeps_the_history_and_clears_consent_live(tree: Tree) -> None:
    person = register()
    point = sms_point(person)
    at = NOW + datetime.timedelta(hours=1)
    withdrawn = services.consent_withdraw(contact_point=point, at=at, via="sms STOP")
    assert withdrawn is not None
    assert point.consent_live is False  # the caller's instance mirrors it too
    point.refresh_from_db()
    assert point.consent_live is False
    [consent] = point.consents.all()
    assert consent.pk == withdrawn.pk
    assert consent.given_at == NOW and consent.withdrawn_at == at and consent.withdrawn_via == "sms STOP"
    assert not consent.live
    # The other channel is untouched.
    assert person.contact_points.get(channel=Channel.WHATSAPP).consent_live is True


def test_withdrawing_twice_is_a_no_op(tree: Tree) -> None:
    point = sms_point(register())
    first = services.consent_withdraw(contact_point=point, at=NOW + datetime.timedelta(hours=1))
    assert first is not None
    assert services.consent_withdraw(contact_point=point, at=NOW + datetime.timedelta(hours=2)) is None
    [consent] = point.consents.all()
    assert consent.withdrawn_at == NOW + datetime.timedelta(hours=1)
    point.refresh_from_db()
    assert point.consent_live is False


def test_giving_again_after_withdrawal_adds_a_new_consent(tree: Tree, settings) -> None:  # type: ignore[no-untyped-def]
    point = sms_point(register())
    services.consent_withdraw(contact_point=point, at=NOW + datetime.timedelta(hours=1))
    settings.SAMPARK_CONSENT_NOTICE_VERSION = "2027-01"
    again = services.consent_give(
        contact_point=point, given_at=NOW + datetime.timedelta(days=1), source=Source.CHAT, language="hi"
    )
    point.refresh_from_db()
    assert point.consent_live is True
    history = list(point.consents.order_by("given_at"))
    assert len(history) == 2
    assert history[0].withdrawn_at is not None
    assert history[1].pk == again.pk and history[1].live and history[1].notice_version == "2027-01"
    assert history[1].source == Source.CHAT


def test_giving_while_live_returns_the_live_consent(tree: Tree) -> None:
    point = sms_point(register())
    [live] = point.consents.all()
    again = services.consent_give(
        contact_point=point, given_at=NOW + datetime.timedelta(days=1), source=Source.FORM, language="hi"
    )
    assert again.pk == live.pk
    assert point.consents.count() == 1


def test_the_database_refuses_two_live_consents_on_one_contact_point(tree: Tree) -> None:
    point = sms_point(register())
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(
            contact_point=point, given_at=NOW, source=Source.FORM, notice_version="x", notice_language="hi"
        )
    # A withdrawn one beside the live one is history, and allowed.
    Consent.objects.create(
        contact_point=point,
        given_at=NOW - datetime.timedelta(days=3),
        withdrawn_at=NOW - datetime.timedelta(days=2),
        source=Source.FORM,
        notice_version="x",
        notice_language="hi",
    )
    assert point.consents.count() == 2


def test_withdraw_all_withdraws_every_live_channel_once(tree: Tree) -> None:
    person = register()
    assert services.consent_withdraw_all(person=person, at=NOW) == 2
    assert services.consent_withdraw_all(person=person, at=NOW) == 0
    assert not ContactPoint.objects.filter(person=person, consent_live=True).exists()
    assert Consent.objects.filter(contact_point__person=person, withdrawn_at=NOW).count() == 2


# --- posts ------------------------------------------------------------------------------------------

COLUMNS = ("state_id", "district_id", "ac_id", "block_id", "panchayat_id", "booth_id")


def expected_columns(tree: Tree, level: str) -> dict[str, int | None]:
    b = tree.booth
    full = {
        "state_id": b.state_id,
        "district_id": b.district_id,
        "ac_id": b.ac_id,
        "block_id": b.block_id,
        "panchayat_id": b.panchayat_id,
        "booth_id": b.pk,
    }
    keep = {
        Level.STATE: ("state_id",),
        Level.DISTRICT: ("state_id", "district_id"),
        Level.AC: ("state_id", "district_id", "ac_id"),
        Level.BLOCK: ("state_id", "district_id", "block_id"),
        Level.PANCHAYAT: ("state_id", "district_id", "block_id", "panchayat_id"),
        Level.BOOTH: COLUMNS,
    }[Level(level)]
    return {c: (full[c] if c in keep else None) for c in COLUMNS}


@pytest.mark.parametrize(
    ("role", "attr", "level"),
    [
        (Role.STATE_COORDINATOR, "state", Level.STATE),
        (Role.DISTRICT_COORDINATOR, "district", Level.DISTRICT),
        (Role.AC_COORDINATOR, "ac", Level.AC),
        (Role.BLOCK_COORDINATOR, "block", Level.BLOCK),
        (Role.PANCHAYAT_COORDINATOR, "panchayat", Level.PANCHAYAT),
        (Role.BOOTH_PRESIDENT, "booth", Level.BOOTH),
        (Role.BOOTH_VOLUNTEER, "booth", Level.BOOTH),
    ],
)
def test_a_post_copies_its_units_ancestors(tree: Tree, role: str, attr: str, level: str) -> None:
    unit = getattr(tree, attr)
    # A fresh instance, as a view would load it (no cached relations).
    unit = type(unit).objects.get(pk=unit.pk)
    post = services.post_assign(person=register(), role=role, unit=unit, started_on=TODAY)
    post.refresh_from_db()
    assert post.level == level
    assert {c: getattr(post, c) for c in COLUMNS} == expected_columns(tree, level)
    assert post.unit == unit
    assert post.started_on == TODAY and post.ended_on is None
    assert post.is_active(TODAY) and not post.is_active(TODAY - datetime.timedelta(days=1))


def test_a_post_defaults_to_starting_today(tree: Tree) -> None:
    post = services.post_assign(person=register(), role=Role.BOOTH_VOLUNTEER, unit=tree.booth)
    assert post.started_on == TODAY


@pytest.mark.parametrize(
    ("role", "attr"),
    [
        (Role.BOOTH_VOLUNTEER, "block"),
        (Role.BOOTH_PRESIDENT, "panchayat"),
        (Role.BLOCK_COORDINATOR, "booth"),
        (Role.DISTRICT_COORDINATOR, "state"),
        (Role.STATE_COORDINATOR, "district"),
        (Role.AC_COORDINATOR, "block"),
        (Role.PANCHAYAT_COORDINATOR, "block"),
    ],
)
def test_it_refuses_a_unit_of_the_wrong_level(tree: Tree, role: str, attr: str) -> None:
    person = register()
    with pytest.raises(PeopleError) as caught:
        services.post_assign(person=person, role=role, unit=getattr(tree, attr))
    assert caught.value.field == "unit"
    assert not Post.objects.exists()


def test_it_refuses_an_unknown_post_and_one_ending_before_it_starts(tree: Tree) -> None:
    person = register()
    with pytest.raises(PeopleError) as caught:
        services.post_assign(person=person, role="chief", unit=tree.booth)
    assert caught.value.field == "post"
    with pytest.raises(PeopleError) as caught:
        services.post_assign(
            person=person,
            role=Role.BOOTH_VOLUNTEER,
            unit=tree.booth,
            started_on=TODAY,
            ended_on=TODAY - datetime.timedelta(days=1),
        )
    assert caught.value.field == "ended_on"
    assert not Post.objects.exists()


def test_ending_a_post_sets_its_first_day_without_it(tree: Tree) -> None:
    start = TODAY - datetime.timedelta(days=30)
    post = services.post_assign(
        person=register(), role=Role.BLOCK_COORDINATOR, unit=tree.block, started_on=start
    )
    services.post_end(post=post)
    post.refresh_from_db()
    assert post.ended_on == TODAY
    assert not post.is_active(TODAY) and post.is_active(TODAY - datetime.timedelta(days=1))
    assert not Post.objects.active(TODAY).exists()
    assert Post.objects.active(TODAY - datetime.timedelta(days=1)).get() == post


def test_it_refuses_ending_a_post_before_it_started(tree: Tree) -> None:
    post = services.post_assign(
        person=register(), role=Role.BOOTH_VOLUNTEER, unit=tree.booth, started_on=TODAY
    )
    with pytest.raises(PeopleError):
        services.post_end(post=post, ended_on=TODAY - datetime.timedelta(days=1))
    post.refresh_from_db()
    assert post.ended_on is None


# --- the coverage rollup ------------------------------------------------------------------------------


def volunteer(booth: Booth, *, started_on: datetime.date = TODAY, **kwargs) -> tuple[Person, Post]:  # type: ignore[no-untyped-def]
    person = register(home_booth=booth, **kwargs)
    post = services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booth, started_on=started_on)
    return person, post


def test_coverage_follows_volunteer_posts_being_assigned_and_ended(tree: Tree) -> None:
    assert counted(tree.booth) == 0
    _a, post_a = volunteer(tree.booth)
    assert counted(tree.booth) == 1
    volunteer(tree.booth)
    assert counted(tree.booth) == 2
    assert counted(tree.other_booth) == 0
    services.post_end(post=post_a, ended_on=TODAY)
    assert counted(tree.booth) == 1
    assert set(BoothCoverage.objects.values_list("booth_id", "volunteers")) == {(tree.booth.pk, 1)}


def test_coverage_ignores_posts_that_are_not_volunteers_or_not_started(tree: Tree) -> None:
    president = register()
    services.post_assign(person=president, role=Role.BOOTH_PRESIDENT, unit=tree.booth)
    services.post_assign(person=register(), role=Role.PANCHAYAT_COORDINATOR, unit=tree.panchayat)
    volunteer(tree.booth, started_on=TODAY + datetime.timedelta(days=1))
    assert counted(tree.booth) == 0
    assert not BoothCoverage.objects.exists()


def test_a_volunteer_with_two_posts_at_one_booth_counts_once(tree: Tree) -> None:
    person, _post = volunteer(tree.booth)
    services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=tree.booth)
    services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=tree.far_booth)
    assert counted(tree.booth) == 1
    assert counted(tree.far_booth) == 1


def test_coverage_follows_consent_withdrawn_on_every_channel_and_given_again(tree: Tree) -> None:
    person, _post = volunteer(tree.booth)
    services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=tree.other_booth)
    assert (counted(tree.booth), counted(tree.other_booth)) == (1, 1)
    # One channel withdrawn: still reachable on the other, still counted.
    services.consent_withdraw(contact_point=sms_point(person), at=NOW)
    assert (counted(tree.booth), counted(tree.other_booth)) == (1, 1)
    whatsapp = person.contact_points.get(channel=Channel.WHATSAPP)
    services.consent_withdraw(contact_point=whatsapp, at=NOW)
    assert (counted(tree.booth), counted(tree.other_booth)) == (0, 0)
    services.consent_give(
        contact_point=whatsapp, given_at=NOW + datetime.timedelta(hours=1), source=Source.CHAT, language="hi"
    )
    assert (counted(tree.booth), counted(tree.other_booth)) == (1, 1)


def test_withdraw_all_removes_a_volunteer_from_coverage(tree: Tree) -> None:
    person, _post = volunteer(tree.booth)
    volunteer(tree.booth)
    services.consent_withdraw_all(person=person, at=NOW)
    assert counted(tree.booth) == 1


def test_a_full_recount_rebuilds_the_rollup_from_posts_and_consent(tree: Tree) -> None:
    volunteer(tree.booth)
    volunteer(tree.booth)
    volunteer(tree.far_booth)
    expected = set(BoothCoverage.objects.values_list("booth_id", "volunteers"))
    BoothCoverage.objects.filter(booth=tree.booth).update(volunteers=99)  # stale
    BoothCoverage.objects.filter(booth=tree.far_booth).delete()  # missing
    services.recount_booths(None, day=TODAY)
    assert set(BoothCoverage.objects.values_list("booth_id", "volunteers")) == expected
    assert expected == {(tree.booth.pk, 2), (tree.far_booth.pk, 1)}


# --- the hourly date refresh ---------------------------------------------------------------------------


def run_refresh_on(day: datetime.date, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: day)
    return tasks.coverage_refresh.call_local()


def test_the_refresh_counts_posts_that_start_and_stops_counting_posts_that_end(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tomorrow = TODAY + datetime.timedelta(days=1)
    volunteer(tree.booth, started_on=tomorrow)
    _p, leaving = volunteer(tree.far_booth, started_on=TODAY - datetime.timedelta(days=10))
    services.post_end(post=leaving, ended_on=tomorrow)
    assert (counted(tree.booth), counted(tree.far_booth)) == (0, 1)

    assert run_refresh_on(TODAY, monkeypatch) == 0  # nothing starts or ends today or yesterday
    assert (counted(tree.booth), counted(tree.far_booth)) == (0, 1)

    assert run_refresh_on(tomorrow, monkeypatch) == 2
    assert (counted(tree.booth), counted(tree.far_booth)) == (1, 0)
    # Idempotent: the next hour changes nothing.
    assert run_refresh_on(tomorrow, monkeypatch) == 2
    assert set(BoothCoverage.objects.values_list("booth_id", "volunteers")) == {(tree.booth.pk, 1)}


def test_the_refresh_catches_up_the_day_after_a_missed_midnight(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tomorrow = TODAY + datetime.timedelta(days=1)
    volunteer(tree.booth, started_on=tomorrow)
    assert counted(tree.booth) == 0
    assert run_refresh_on(tomorrow + datetime.timedelta(days=1), monkeypatch) == 1
    assert counted(tree.booth) == 1


def test_the_refresh_leaves_booths_whose_posts_did_not_change_by_date(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    volunteer(tree.booth, started_on=TODAY - datetime.timedelta(days=5))
    volunteer(tree.far_booth, started_on=TODAY + datetime.timedelta(days=1))
    BoothCoverage.objects.filter(booth=tree.booth).update(volunteers=7)  # not recounted by the refresh
    assert run_refresh_on(TODAY + datetime.timedelta(days=1), monkeypatch) == 1
    assert (counted(tree.booth), counted(tree.far_booth)) == (7, 1)
