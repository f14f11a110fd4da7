"""Scopes: who may see and do what. Each persona's scope comes from its active posts, ranked per action;
``visible_to`` returns exactly the people, contact points, consents and posts inside it (and a login's
own person), each once; ``Scope.contains`` agrees with the tree for every kind of unit."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone, translation

from sampark.people import services
from sampark.people.models import Consent, ContactPoint, Person, Post, Role
from sampark.people.scope import EVERYTHING, NOTHING, ROLE_RANK, Action, Scope, scope_for
from sampark.territory.demo import build_demo
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State
from tests.factories import kept_while

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 10)
YESTERDAY = TODAY - datetime.timedelta(days=1)
TOMORROW = TODAY + datetime.timedelta(days=1)
LONG_AGO = TODAY - datetime.timedelta(days=400)
NOW = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)
ACTIONS = (Action.VIEW, Action.SEE_PHONES, Action.CHANGE, Action.EXPORT)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English (the default language is Hindi)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


@dataclass
class World:
    state: State
    x: District  # the district most personas work in
    elsewhere: District
    ac1: AssemblyConstituency  # in X
    block_in: Block  # in X
    block_out: Block  # in `elsewhere`
    panchayat: Panchayat  # in block_in
    b1: Booth  # in panchayat, AC 1
    b2: Booth  # in X, another AC
    far: Booth  # in `elsewhere`, in block_out
    people: dict[str, Person]
    users: dict[str, Any]  # persona → login (None: anonymous)


_phones = itertools.count(20_000_000)


def _person(name: str, home: Booth | None = None) -> Person:
    return services.person_register(
        name=name, phone=f"97{next(_phones):08d}", age=30, home_booth=home, consent_at=NOW, today=TODAY
    )


def _build() -> World:
    build_demo(scale="small", seed=1, hooks=False)
    state = State.objects.get(lgd_code=10)
    x = District.objects.get(lgd_code=90_000_001)
    elsewhere = District.objects.get(lgd_code=90_000_003)
    b1 = Booth.objects.get(code="1-1")
    ac1, block_in, panchayat = b1.ac, b1.block, b1.panchayat
    assert ac1.district_id == x.pk and block_in.district_id == x.pk and panchayat.block_id == block_in.pk
    b2 = Booth.objects.filter(district=x).exclude(ac=ac1).exclude(block=block_in).order_by("pk").first()
    far = Booth.objects.filter(district=elsewhere).order_by("pk").first()
    assert b2 is not None and far is not None and far.block is not None
    block_out = far.block

    p: dict[str, Person] = {}
    p["head"] = _person("State Head", far)
    p["dc"] = _person("District Coordinator", b2)
    p["bc_in"] = _person("Block Coordinator In", b1)
    p["bc_out"] = _person("Block Coordinator Out", far)
    p["acc"] = _person("AC Coordinator")
    p["pc"] = _person("Panchayat Coordinator")
    p["pres"] = _person("Booth President", b1)
    p["vol"] = _person("Booth Volunteer", b1)
    p["vol_out"] = _person("Volunteer Elsewhere")
    p["plain_in"] = _person("Resident In X", b2)
    p["plain_out"] = _person("Resident Elsewhere", far)
    p["nobody"] = _person("Nowhere")
    p["ended_dc"] = _person("Former District Coordinator")
    p["future_dc"] = _person("Next District Coordinator")
    p["gone"] = _person("Former Volunteer")
    p["many"] = _person("Volunteer At Three Booths")

    def post(
        who: str, role: str, unit: Any, start: datetime.date = LONG_AGO, end: datetime.date | None = None
    ):  # type: ignore[no-untyped-def]
        return services.post_assign(person=p[who], role=role, unit=unit, started_on=start, ended_on=end)

    post("head", Role.STATE_COORDINATOR, state)
    post("dc", Role.DISTRICT_COORDINATOR, x)
    post("dc", Role.BOOTH_VOLUNTEER, far)  # also a volunteer in another district
    post("bc_in", Role.BLOCK_COORDINATOR, block_in)
    post("bc_out", Role.BLOCK_COORDINATOR, block_out)
    post("acc", Role.AC_COORDINATOR, ac1)
    post("pc", Role.PANCHAYAT_COORDINATOR, panchayat)
    post("pres", Role.BOOTH_PRESIDENT, b1)
    post("vol", Role.BOOTH_VOLUNTEER, b1)
    post("vol_out", Role.BOOTH_VOLUNTEER, far)
    post("ended_dc", Role.DISTRICT_COORDINATOR, x, end=TODAY)
    post("future_dc", Role.DISTRICT_COORDINATOR, x, start=TOMORROW)
    post("gone", Role.BOOTH_VOLUNTEER, b1, end=YESTERDAY)
    for booth in Booth.objects.filter(panchayat=panchayat).order_by("pk")[:3]:
        post("many", Role.BOOTH_VOLUNTEER, booth)
    # A second post in the same subtree must not repeat anyone either.
    post("many", Role.BOOTH_PRESIDENT, b1)

    user_model = get_user_model()
    users: dict[str, Any] = {}
    for name in ("head", "dc", "bc_in", "bc_out", "acc", "pc", "pres", "vol", "ended_dc", "future_dc"):
        user = user_model.objects.create_user(username=name, password="x")
        Person.objects.filter(pk=p[name].pk).update(user=user)
        users[name] = user
    users["no_person"] = user_model.objects.create_user(username="no_person", password="x")
    users["root"] = user_model.objects.create_superuser(username="root", password="x")
    inactive = user_model.objects.create_user(username="inactive", password="x", is_active=False)
    Person.objects.filter(pk=p["many"].pk).update(user=inactive)
    users["inactive"] = inactive
    users["anonymous"] = None
    return World(state, x, elsewhere, ac1, block_in, block_out, panchayat, b1, b2, far, p, users)


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module, rolled back after it."""
    with kept_while(django_db_blocker, _build) as built:
        yield built


def login(world: World, persona: str) -> Any:
    """A fresh login object (scopes are cached on the instance, as for one request)."""
    user = world.users[persona]
    if user is None:
        return AnonymousUser()
    return type(user).objects.get(pk=user.pk)


def ids(queryset: Any) -> set[int]:
    values = list(queryset.values_list("pk", flat=True))
    assert len(values) == len(set(values)), "a row is repeated"
    return set(values)


# --- scope_for ---------------------------------------------------------------------------------------


def expected_scopes(w: World) -> dict[str, dict[Action, Scope]]:
    """Every persona's scope per action, written out by hand from the rank table."""
    pid = {name: person.pk for name, person in w.people.items()}

    def s(who: str, rank: int = 0, **units: set[int]) -> Scope:
        return Scope(**{k: frozenset(v) for k, v in units.items()}, person_id=pid[who], rank=rank)

    def same(scope: Scope) -> dict[Action, Scope]:
        return dict.fromkeys(ACTIONS, scope)

    return {
        "head": same(s("head", 60, states={w.state.pk})),
        "dc": {
            Action.VIEW: s("dc", 50, districts={w.x.pk}, booths={w.far.pk}),
            Action.SEE_PHONES: s("dc", 50, districts={w.x.pk}),
            Action.CHANGE: s("dc", 50, districts={w.x.pk}),
            Action.EXPORT: s("dc", 50, districts={w.x.pk}),
        },
        "bc_in": {**same(s("bc_in", 40, blocks={w.block_in.pk})), Action.EXPORT: s("bc_in")},
        "bc_out": {**same(s("bc_out", 40, blocks={w.block_out.pk})), Action.EXPORT: s("bc_out")},
        "acc": {**same(s("acc", 45, acs={w.ac1.pk})), Action.EXPORT: s("acc")},
        "pc": {**same(s("pc", 30, panchayats={w.panchayat.pk})), Action.EXPORT: s("pc")},
        "pres": {**same(s("pres", 20, booths={w.b1.pk})), Action.EXPORT: s("pres")},
        "vol": {**same(s("vol")), Action.VIEW: s("vol", 10, booths={w.b1.pk})},
        "ended_dc": same(s("ended_dc")),
        "future_dc": same(s("future_dc")),
        "no_person": same(NOTHING),
        "anonymous": same(NOTHING),
        "inactive": same(NOTHING),
        "root": same(EVERYTHING),
    }


PERSONAS = (
    "head",
    "dc",
    "bc_in",
    "bc_out",
    "acc",
    "pc",
    "pres",
    "vol",
    "ended_dc",
    "future_dc",
    "no_person",
    "anonymous",
    "inactive",
    "root",
)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_the_subtrees_of_its_active_posts_ranked_per_action(
    world: World, persona: str
) -> None:
    expected = expected_scopes(world)[persona]
    for action in ACTIONS:
        assert scope_for(login(world, persona), action) == expected[action], action


def test_no_user_at_all_gets_nothing(world: World) -> None:
    assert scope_for(None) == NOTHING
    assert NOTHING.nothing and not EVERYTHING.nothing


def test_a_post_starting_tomorrow_counts_from_tomorrow_and_an_ended_one_until_its_last_day(
    world: World,
) -> None:
    future, ended = login(world, "future_dc"), login(world, "ended_dc")
    assert scope_for(future, Action.EXPORT, day=TOMORROW).districts == {world.x.pk}
    assert scope_for(future, Action.EXPORT, day=TOMORROW).rank == 50
    assert scope_for(future, Action.EXPORT, day=TODAY).nothing
    assert scope_for(ended, Action.EXPORT, day=YESTERDAY).districts == {world.x.pk}
    assert scope_for(ended, Action.EXPORT, day=TODAY).nothing


def test_a_scope_is_cached_on_the_login_for_the_request(world: World) -> None:
    user = login(world, "pres")
    first = scope_for(user, Action.CHANGE)
    post = Post.objects.get(person=world.people["pres"], role=Role.BOOTH_PRESIDENT)
    Post.objects.filter(pk=post.pk).update(ended_on=TODAY)
    assert scope_for(user, Action.CHANGE) is first  # same request: same answer
    assert scope_for(login(world, "pres"), Action.CHANGE).nothing  # next request: the post is gone


# --- Scope.contains ----------------------------------------------------------------------------------


def in_subtree(scope: Scope, unit: Any) -> bool:
    """The tree's own answer, from each unit's ancestors (independent of Scope.contains)."""
    if scope.everything:
        return True
    if isinstance(unit, State):
        chain = {"states": unit.pk}
    elif isinstance(unit, District):
        chain = {"states": unit.state_id, "districts": unit.pk}
    elif isinstance(unit, AssemblyConstituency):
        chain = {"states": unit.state_id, "districts": unit.district_id, "acs": unit.pk}
    elif isinstance(unit, Block):
        chain = {"states": unit.district.state_id, "districts": unit.district_id, "blocks": unit.pk}
    elif isinstance(unit, Panchayat):
        chain = {
            "states": unit.district.state_id,
            "districts": unit.district_id,
            "blocks": unit.block_id,
            "panchayats": unit.pk,
        }
    else:
        chain = {
            "states": unit.state_id,
            "districts": unit.district_id,
            "acs": unit.ac_id,
            "blocks": unit.block_id,
            "panchayats": unit.panchayat_id,
            "booths": unit.pk,
        }
    return any(value in getattr(scope, key) for key, value in chain.items())


@pytest.mark.parametrize("persona", PERSONAS)
def test_contains_agrees_with_the_tree_for_every_unit(world: World, persona: str) -> None:
    units: list[Any] = [
        *State.objects.all(),
        *District.objects.select_related("state"),
        *AssemblyConstituency.objects.all(),
        *Block.objects.select_related("district"),
        *Panchayat.objects.select_related("district"),
        *Booth.objects.all(),
    ]
    for action in ACTIONS:
        scope = scope_for(login(world, persona), action)
        wrong = [(type(u).__name__, u.pk) for u in units if scope.contains(u) != in_subtree(scope, u)]
        assert wrong == [], action


def test_contains_answers_plainly_for_a_block_coordinator(world: World) -> None:
    scope = scope_for(login(world, "bc_in"))
    assert scope.contains(world.block_in) and scope.contains(world.panchayat) and scope.contains(world.b1)
    assert not scope.contains(world.x) and not scope.contains(world.state) and not scope.contains(world.ac1)
    assert not scope.contains(world.block_out) and not scope.contains(world.far)
    assert not scope.contains(world.b2)


def test_contains_refuses_something_that_is_not_a_unit(world: World) -> None:
    with pytest.raises(TypeError):
        scope_for(login(world, "dc")).contains(world.people["dc"])


# --- visible_to --------------------------------------------------------------------------------------


def placed_in(scope: Scope, columns: dict[str, int | None]) -> bool:
    return any(
        columns[column] is not None and columns[column] in getattr(scope, key)
        for key, column in (
            ("states", "state_id"),
            ("districts", "district_id"),
            ("acs", "ac_id"),
            ("blocks", "block_id"),
            ("panchayats", "panchayat_id"),
            ("booths", "booth_id"),
        )
    )


def active(post: dict[str, Any]) -> bool:
    return post["started_on"] <= TODAY and (post["ended_on"] is None or post["ended_on"] > TODAY)


def changeable(scope: Scope, action: Action, person_id: int) -> bool:
    """Changing someone needs a scope outranking every active post they hold."""
    if action != Action.CHANGE:
        return True
    return all(
        ROLE_RANK[p["role"]] < scope.rank
        for p in Post.objects.filter(person_id=person_id).values()
        if active(p)
    )


def expected_people(scope: Scope, action: Action) -> set[int]:
    """People visible by the contract: inside through their home booth or an active post (and, to
    change them, outranked), or the login's own person (to view, and see their own phone)."""
    everyone = set(Person.objects.values_list("pk", flat=True))
    if scope.everything:
        return everyone
    seen: set[int] = set()
    for person in Person.objects.select_related("home_booth"):
        b = person.home_booth
        if b is not None and placed_in(
            scope,
            {
                "state_id": b.state_id,
                "district_id": b.district_id,
                "ac_id": b.ac_id,
                "block_id": b.block_id,
                "panchayat_id": b.panchayat_id,
                "booth_id": b.pk,
            },
        ):
            seen.add(person.pk)
    for post in Post.objects.values():
        if active(post) and placed_in(scope, post):
            seen.add(post["person_id"])
    seen = {pk for pk in seen if changeable(scope, action, pk)}
    if scope.person_id is not None and action in (Action.VIEW, Action.SEE_PHONES):
        seen.add(scope.person_id)
    return seen


def expected_posts(scope: Scope, action: Action) -> set[int]:
    """Posts placed in the scope (ended ones too: history), of people one may act on, and one's own."""
    if scope.everything:
        return set(Post.objects.values_list("pk", flat=True))
    own = scope.person_id if action in (Action.VIEW, Action.SEE_PHONES) else None
    return {
        p["id"]
        for p in Post.objects.values()
        if (placed_in(scope, p) and changeable(scope, action, p["person_id"])) or p["person_id"] == own
    }


def visibility_cases() -> Iterator[Any]:
    for persona in PERSONAS:
        for action in ACTIONS:
            yield pytest.param(persona, action, id=f"{persona}-{action}")


@pytest.mark.parametrize(("persona", "action"), list(visibility_cases()))
def test_visible_to_returns_exactly_the_rows_inside_the_scope(
    world: World, persona: str, action: Action
) -> None:
    user = login(world, persona)
    scope = scope_for(user, action)
    people = expected_people(scope, action)
    assert ids(Person.objects.visible_to(user, action)) == people
    assert ids(ContactPoint.objects.visible_to(user, action)) == set(
        ContactPoint.objects.filter(person_id__in=people).values_list("pk", flat=True)
    )
    assert ids(Consent.objects.visible_to(user, action)) == set(
        Consent.objects.filter(contact_point__person_id__in=people).values_list("pk", flat=True)
    )
    assert ids(Post.objects.visible_to(user, action)) == expected_posts(scope, action)
    # The same answer from the scope itself (as views pass it).
    assert ids(Person.objects.visible_to(scope, action)) == people


def names(world: World, queryset: Any) -> set[str]:
    by_pk = {person.pk: name for name, person in world.people.items()}
    return {by_pk[pk] for pk in ids(queryset)}


def test_a_district_coordinator_who_volunteers_elsewhere_exports_only_their_district(world: World) -> None:
    user = login(world, "dc")
    # People who only ever held an ended post, or hold one from tomorrow, are not placed in X.
    in_x = {"dc", "bc_in", "acc", "pc", "pres", "vol", "plain_in", "many"}
    assert names(world, Person.objects.visible_to(user, Action.EXPORT)) == in_x
    assert names(world, Person.objects.visible_to(user, Action.SEE_PHONES)) == in_x
    # Changing: not themselves, nor anyone holding a post as high as theirs.
    assert names(world, Person.objects.visible_to(user, Action.CHANGE)) == in_x - {"dc"}
    # Viewing, the volunteer post adds the far booth's people: its volunteer and those who live there.
    assert names(world, Person.objects.visible_to(user, Action.VIEW)) == in_x | {
        "vol_out",
        "bc_out",
        "head",
        "plain_out",
    }


def test_a_booth_volunteer_views_their_booth_and_changes_nothing(world: World) -> None:
    user = login(world, "vol")
    assert names(world, Person.objects.visible_to(user, Action.VIEW)) == {"vol", "pres", "bc_in", "many"}
    assert names(world, Person.objects.visible_to(user, Action.SEE_PHONES)) == {"vol"}
    assert not Person.objects.visible_to(user, Action.CHANGE).exists()
    assert not Person.objects.visible_to(user, Action.EXPORT).exists()


def test_a_booth_president_changes_only_those_they_outrank(world: World) -> None:
    user = login(world, "pres")
    assert names(world, Person.objects.visible_to(user, Action.SEE_PHONES)) == {
        "vol",
        "pres",
        "bc_in",
        "many",
    }
    # The block coordinator living at the booth, another president and the president themselves: no.
    assert names(world, Person.objects.visible_to(user, Action.CHANGE)) == {"vol"}


def test_a_block_coordinator_elsewhere_sees_none_of_district_x(world: World) -> None:
    user = login(world, "bc_out")
    visible = names(world, Person.objects.visible_to(user, Action.SEE_PHONES))
    assert visible == {"bc_out", "head", "plain_out", "vol_out", "dc"}
    assert names(world, Person.objects.visible_to(user, Action.CHANGE)) == {"plain_out", "vol_out"}


def test_a_login_without_a_person_anonymous_and_inactive_see_nothing(world: World) -> None:
    for persona in ("no_person", "anonymous", "inactive"):
        user = login(world, persona)
        for model in (Person, ContactPoint, Consent, Post):
            for action in ACTIONS:
                assert not model.objects.visible_to(user, action).exists(), (persona, model, action)


def test_a_superuser_sees_everyone_even_people_placed_nowhere(world: World) -> None:
    user = login(world, "root")
    assert ids(Person.objects.visible_to(user, Action.EXPORT)) == set(
        Person.objects.values_list("pk", flat=True)
    )
    assert world.people["nobody"].pk in ids(Person.objects.visible_to(user))


def test_someone_placed_nowhere_is_seen_by_no_coordinator(world: World) -> None:
    nobody = world.people["nobody"].pk
    for persona in PERSONAS:
        if persona != "root":
            assert nobody not in ids(Person.objects.visible_to(login(world, persona))), persona


def test_a_person_with_several_posts_in_scope_is_listed_once(world: World) -> None:
    many = world.people["many"]
    assert Post.objects.filter(person=many).count() == 4
    for persona in ("head", "dc", "bc_in", "pc", "pres"):
        user = login(world, persona)
        rows = list(Person.objects.visible_to(user, Action.VIEW).values_list("pk", flat=True))
        assert rows.count(many.pk) == 1, persona
        assert Person.objects.visible_to(user, Action.VIEW).count() == len(set(rows))
        points = list(ContactPoint.objects.visible_to(user).filter(person=many).values_list("pk", flat=True))
        assert len(points) == len(set(points)) == 2


def test_a_login_always_sees_its_own_person_and_phone_but_cannot_export_or_change_them(world: World) -> None:
    for persona in ("vol", "ended_dc", "future_dc"):
        user = login(world, persona)
        own = world.people[persona].pk
        assert own in ids(Person.objects.visible_to(user, Action.VIEW)), persona
        assert ids(Person.objects.visible_to(user, Action.SEE_PHONES)) == {own}, persona
        assert ids(ContactPoint.objects.visible_to(user, Action.SEE_PHONES)) == set(
            ContactPoint.objects.filter(person_id=own).values_list("pk", flat=True)
        )
        assert not Person.objects.visible_to(user, Action.EXPORT).exists(), persona
        assert not Person.objects.visible_to(user, Action.CHANGE).exists(), persona


def test_someone_whose_posts_ended_drops_out_of_the_subtree(world: World) -> None:
    gone = world.people["gone"].pk
    assert gone not in ids(Person.objects.visible_to(login(world, "dc"), Action.VIEW))
    # Their ended post stays in the subtree's history.
    assert Post.objects.visible_to(login(world, "dc"), Action.VIEW).filter(person_id=gone).exists()
