"""Coverage equals a brute-force recount on random subtrees, including after imports, post changes and
consent withdrawals; plus the gaps list, unit parsing and `sampark coverage`.

The property test builds the small demo territory once, then each Hypothesis example (inside a savepoint
that is rolled back) registers random people with random posts (volunteers and every other role, some
ended, some starting in the future), withdraws and gives consent, ends posts, imports a volunteer CSV,
and compares every figure of ``coverage_of`` for units at every level, and of each child, with a plain
Python recount from the Person/Post/ContactPoint/Consent rows.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sampark.people import services
from sampark.people.coverage import Targets, UnknownUnit, coverage_of, gaps, parse_unit
from sampark.people.importers import VolunteerImport
from sampark.people.models import BoothCoverage, Channel, Consent, ContactPoint, Person, Post, Role, Source
from sampark.people.scope import EVERYTHING, Scope
from sampark.territory.demo import build_demo
from sampark.territory.importers.base import run_import
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = datetime.date(2026, 11, 10)
NOW = datetime.datetime(2026, 11, 10, 6, 30, tzinfo=datetime.UTC)  # noon in Patna
BOOTH_TARGET = 2
PANCHAYAT_TARGET = 2
_phones = itertools.count(30_000_000)


@pytest.fixture(autouse=True)
def _frozen_clock_and_small_targets(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = BOOTH_TARGET
    settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK = PANCHAYAT_TARGET


# --- the brute-force recount -------------------------------------------------------------------------
# Written from the definitions (sampark/people/coverage.py's docstring, the README), never from that
# module's code: whole tables are read row by row (no filter, join, aggregate or rollup), and every
# figure, child list and order is counted here in plain Python, so a wrong query or a shared helper
# cannot make the two agree by accident.


@dataclass(frozen=True)
class Figures:
    kind: str
    unit: int | None
    booths: int
    booths_at_target: int
    volunteers: int
    panchayats_covered: int
    blocks: int | None
    blocks_at_target: int | None


@dataclass(frozen=True)
class BoothRow:
    id: int
    state_id: int
    district_id: int
    ac_id: int
    block_id: int | None
    panchayat_id: int | None
    number: int
    suffix: str


@dataclass(frozen=True)
class Rows:
    """Every row the recount needs, read once after an example's changes."""

    booths: list[BoothRow]
    districts: list[District]
    acs: list[AssemblyConstituency]
    blocks: list[Block]
    panchayats: list[Panchayat]
    counts: dict[int, int]  # booth id -> counted volunteers (booths with none absent)

    @classmethod
    def read(cls, day: datetime.date = TODAY) -> Rows:
        return cls(
            booths=[
                BoothRow(
                    b.pk, b.state_id, b.district_id, b.ac_id, b.block_id, b.panchayat_id, b.number, b.suffix
                )
                for b in Booth.objects.all()
            ],
            districts=list(District.objects.all()),
            acs=list(AssemblyConstituency.objects.all()),
            blocks=list(Block.objects.all()),
            panchayats=list(Panchayat.objects.all()),
            counts=counted_per_booth(day),
        )

    def blocks_under(self, unit: Any) -> int | None:
        """Blocks in a state or district (a block is one); other kinds of unit hold no blocks."""
        if isinstance(unit, State):
            in_state = {d.pk for d in self.districts if d.state_id == unit.pk}
            return sum(b.district_id in in_state for b in self.blocks)
        if isinstance(unit, District):
            return sum(b.district_id == unit.pk for b in self.blocks)
        if isinstance(unit, Block):
            return 1
        return None


def counted_per_booth(day: datetime.date) -> dict[int, int]:
    """Distinct people with a booth_volunteer post at the booth active on ``day`` and a contact point
    with a consent that was never withdrawn."""
    live_points = {
        point
        for point, withdrawn in Consent.objects.values_list("contact_point_id", "withdrawn_at")
        if withdrawn is None
    }
    reachable = {
        person
        for point, person in ContactPoint.objects.values_list("id", "person_id")
        if point in live_points
    }
    at_booth: dict[int, set[int]] = defaultdict(set)
    for person, role, booth, start, end in Post.objects.values_list(
        "person_id", "role", "booth_id", "started_on", "ended_on"
    ):
        active = start <= day and (end is None or end > day)
        if role == Role.BOOTH_VOLUNTEER and booth is not None and active and person in reachable:
            at_booth[booth].add(person)
    return {booth: len(people) for booth, people in at_booth.items()}


def figures(
    kind: str, unit: int | None, booths: list[BoothRow], counts: dict[int, int], blocks: int | None
) -> Figures:
    n = [counts.get(b.id, 0) for b in booths]
    covered = {b.panchayat_id for b, c in zip(booths, n, strict=True) if c > 0 and b.panchayat_id is not None}
    per_block: dict[int, set[int]] = defaultdict(set)
    for b, c in zip(booths, n, strict=True):
        if c > 0 and b.panchayat_id is not None and b.block_id is not None:
            per_block[b.block_id].add(b.panchayat_id)
    return Figures(
        kind=kind,
        unit=unit,
        booths=len(booths),
        booths_at_target=sum(c >= BOOTH_TARGET for c in n),
        volunteers=sum(n),
        panchayats_covered=len(covered),
        blocks=blocks,
        blocks_at_target=(
            None if blocks is None else sum(len(p) >= PANCHAYAT_TARGET for p in per_block.values())
        ),
    )


def by_name(units: list[Any]) -> list[Any]:
    return sorted(units, key=lambda u: u.name.casefold())


def recount(unit: Any, *, by: str = "", rows: Rows | None = None) -> tuple[Figures, list[Figures]]:
    """The unit's figures and its children's, in display order (names; ACs and booths by number), with
    the booths placed in no child last."""
    rows = Rows.read() if rows is None else rows
    kind, column = {
        State: ("state", "state_id"),
        District: ("district", "district_id"),
        AssemblyConstituency: ("ac", "ac_id"),
        Block: ("block", "block_id"),
        Panchayat: ("panchayat", "panchayat_id"),
        Booth: ("booth", "id"),
    }[type(unit)]
    mine = [b for b in rows.booths if getattr(b, column) == unit.pk]
    own = figures(kind, unit.pk, mine, rows.counts, rows.blocks_under(unit))
    children: list[tuple[int, int | None]]  # (child id, its blocks)
    if isinstance(unit, State):
        child_kind, child_column = "district", "district_id"
        districts = by_name([d for d in rows.districts if d.state_id == unit.pk])
        children = [(d.pk, rows.blocks_under(d)) for d in districts]
    elif isinstance(unit, District) and by == "ac":
        child_kind, child_column = "ac", "ac_id"
        acs = sorted((ac for ac in rows.acs if ac.district_id == unit.pk), key=lambda ac: ac.number)
        children = [(ac.pk, None) for ac in acs]
    elif isinstance(unit, District):
        child_kind, child_column = "block", "block_id"
        children = [(b.pk, 1) for b in by_name([b for b in rows.blocks if b.district_id == unit.pk])]
    elif isinstance(unit, Block):
        child_kind, child_column = "panchayat", "panchayat_id"
        children = [(p.pk, None) for p in by_name([p for p in rows.panchayats if p.block_id == unit.pk])]
    elif isinstance(unit, AssemblyConstituency | Panchayat):
        child_kind, child_column = "booth", "id"
        children = [(b.id, None) for b in sorted(mine, key=lambda b: (b.number, b.suffix))]
    else:
        return own, []
    listed = [
        figures(child_kind, pk, [b for b in mine if getattr(b, child_column) == pk], rows.counts, blocks)
        for pk, blocks in children
    ]
    unplaced = [b for b in mine if getattr(b, child_column) is None]
    if unplaced:
        listed.append(figures(child_kind, None, unplaced, rows.counts, None))
    return own, listed


def as_figures(c: Any) -> Figures:
    return Figures(
        kind=c.kind,
        unit=None if c.unit is None else c.unit.pk,
        booths=c.booths,
        booths_at_target=c.booths_at_target,
        volunteers=c.volunteers,
        panchayats_covered=c.panchayats_covered,
        blocks=c.blocks,
        blocks_at_target=c.blocks_at_target,
    )


def assert_coverage_is_recount(unit: Any, *, by: str = "", rows: Rows | None = None) -> None:
    result = coverage_of(unit, by=by)
    own, children = recount(unit, by=by, rows=rows)
    assert as_figures(result) == own, f"{unit!r} by={by!r}"
    # The same children with the same figures; their order is the database's (PostgreSQL and SQLite
    # list equal sort keys differently), so compared as sets of figures.
    assert sorted((as_figures(c) for c in result.children), key=repr) == sorted(children, key=repr), (
        f"children of {unit!r} by={by!r}"
    )


def assert_rollup_is_recount() -> None:
    stored = dict(BoothCoverage.objects.values_list("booth_id", "volunteers"))
    assert stored == {b: n for b, n in counted_per_booth(TODAY).items() if n > 0}
    live = {
        point
        for point, withdrawn in Consent.objects.values_list("contact_point_id", "withdrawn_at")
        if withdrawn is None
    }
    assert {point for point, flag in ContactPoint.objects.values_list("pk", "consent_live") if flag} == live


# --- random organisations ----------------------------------------------------------------------------

OTHER_ROLES = (
    Role.BOOTH_PRESIDENT,
    Role.PANCHAYAT_COORDINATOR,
    Role.BLOCK_COORDINATOR,
    Role.AC_COORDINATOR,
    Role.DISTRICT_COORDINATOR,
    Role.STATE_COORDINATOR,
)
UNIT_OF_ROLE = {
    Role.BOOTH_VOLUNTEER: "self",
    Role.BOOTH_PRESIDENT: "self",
    Role.PANCHAYAT_COORDINATOR: "panchayat",
    Role.BLOCK_COORDINATOR: "block",
    Role.AC_COORDINATOR: "ac",
    Role.DISTRICT_COORDINATOR: "district",
    Role.STATE_COORDINATOR: "state",
}
IMPORT_POSTS = {
    Role.BOOTH_VOLUNTEER: "yuva saathi",
    Role.BOOTH_PRESIDENT: "booth president",
    Role.BLOCK_COORDINATOR: "block coordinator",
}


def phone() -> str:
    return f"96{next(_phones):08d}"


def unit_for(role: str, booth: Booth) -> Any:
    attr = UNIT_OF_ROLE[role]
    return booth if attr == "self" else getattr(booth, attr)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


@dataclass(frozen=True)
class Tree:
    """The ids of the demo territory, read once per test (Hypothesis draws from them)."""

    districts: list[int]
    acs: list[int]
    blocks: list[int]
    panchayats: list[int]
    booths: list[tuple[int, int | None]]  # (id, block id)

    @classmethod
    def read(cls) -> Tree:
        return cls(
            districts=list(District.objects.order_by("pk").values_list("pk", flat=True)),
            acs=list(AssemblyConstituency.objects.order_by("pk").values_list("pk", flat=True)),
            blocks=list(Block.objects.order_by("pk").values_list("pk", flat=True)),
            panchayats=list(Panchayat.objects.order_by("pk").values_list("pk", flat=True)),
            booths=list(Booth.objects.order_by("pk").values_list("pk", "block_id")),
        )


class Organisation:
    """The random changes of one example, drawn step by step."""

    def __init__(
        self, data: st.DataObject, bends: tuple[str, ...], tree: Tree, *, new_channels: bool = False
    ) -> None:
        self.data = data
        self.new_channels = new_channels
        self.tree = tree
        block = data.draw(st.sampled_from(tree.blocks), label="hot block")
        in_block = [pk for pk, block_id in tree.booths if block_id == block]
        anywhere = [pk for pk, _block_id in tree.booths]
        ids = data.draw(st.lists(st.sampled_from(in_block), min_size=1, max_size=8, unique=True))
        ids += [pk for pk in data.draw(st.lists(st.sampled_from(anywhere), max_size=3)) if pk not in ids]
        self.block = Block.objects.get(pk=block)
        picks = list(Booth.objects.filter(pk__in=ids))
        if bends:
            self._bend_the_tree(sorted(picks, key=lambda b: ids.index(b.pk)), bends)
        related = ("state", "district", "ac", "block__district", "panchayat__district")
        self.pool = list(Booth.objects.filter(pk__in=ids).select_related(*related))
        self.pool.sort(key=lambda b: ids.index(b.pk))
        self.people: list[Person] = []
        self.posts: list[Post] = []

    def _bend_the_tree(self, picks: list[Booth], bends: tuple[str, ...]) -> None:
        """Real files leave booths without a block or panchayat, and ACs cut across panchayats."""
        for booth in picks:
            how = self.data.draw(st.sampled_from(["keep", "keep", *bends]))
            if how == "no block":
                Booth.objects.filter(pk=booth.pk).update(block=None)
            elif how == "no panchayat":
                Booth.objects.filter(pk=booth.pk).update(panchayat=None)
            elif how == "other ac":
                other = (
                    AssemblyConstituency.objects.filter(district_id=booth.district_id)
                    .exclude(pk=booth.ac_id)
                    .first()
                )
                if other is not None:
                    Booth.objects.filter(pk=booth.pk).update(ac=other)

    def booth(self) -> Booth:
        return self.data.draw(st.sampled_from(self.pool))

    def register_people(self) -> None:
        for _n in range(self.data.draw(st.integers(1, 10), label="people")):
            channels = self.data.draw(
                st.sampled_from([[Channel.SMS], [Channel.WHATSAPP], [Channel.SMS, Channel.WHATSAPP]])
            )
            person = services.person_register(
                name="Volunteer",
                phone=phone(),
                age=25,
                home_booth=self.booth(),
                channels=channels,
                consent_at=NOW,
            )
            self.people.append(person)
            for _p in range(self.data.draw(st.integers(0, 3), label="posts")):
                self.assign(person)

    def assign(self, person: Person) -> None:
        role = self.data.draw(
            st.one_of(st.just(Role.BOOTH_VOLUNTEER), st.sampled_from(OTHER_ROLES)), label="role"
        )
        unit = unit_for(role, self.booth())
        if unit is None:
            role, unit = Role.BOOTH_VOLUNTEER, self.pool[0]
        start = days(self.data.draw(st.integers(-20, 2), label="start"))
        length = self.data.draw(st.none() | st.integers(0, 25), label="length")
        end = None if length is None else start + datetime.timedelta(days=length)
        self.posts.append(
            services.post_assign(person=person, role=role, unit=unit, started_on=start, ended_on=end)
        )

    def change(self) -> None:
        """Random consent withdrawals and gifts, post ends and new posts."""
        for _n in range(self.data.draw(st.integers(0, 6), label="changes")):
            person = self.data.draw(st.sampled_from(self.people))
            what = self.data.draw(
                st.sampled_from(
                    ["withdraw one", "withdraw all", "withdraw many", "give", "end post", "new post"]
                )
            )
            points = list(person.contact_points.order_by("pk"))
            if what == "withdraw one" and points:
                services.consent_withdraw(contact_point=self.data.draw(st.sampled_from(points)), via="test")
            elif what == "withdraw all":
                services.consent_withdraw_all(person=person)
            elif what == "withdraw many":
                chosen = self.data.draw(st.lists(st.sampled_from(self.people), max_size=3))
                services.consent_withdraw_people(person_ids=[p.pk for p in chosen], via="test")
            elif what == "give" and points:
                services.consent_give(
                    contact_point=self.data.draw(st.sampled_from(points)),
                    given_at=NOW,
                    source=Source.CHAT,
                    language="hi",
                )
            elif what == "end post":
                open_posts = list(Post.objects.filter(person=person, ended_on__isnull=True).order_by("pk"))
                if open_posts:
                    post = self.data.draw(st.sampled_from(open_posts))
                    services.post_end(
                        post=post, ended_on=max(post.started_on, days(self.data.draw(st.integers(-2, 1))))
                    )
            elif what == "new post":
                self.assign(person)

    def import_file(self, folder: Path) -> None:
        """A volunteer CSV: new people and some already registered (same or another booth)."""
        rows = []
        used: set[str] = set()
        # People the file names again. Unless asked, not those it would add a contact point to, nor those
        # with a booth post starting later (the two import bugs of the xfail test below).
        known = [
            p
            for p in self.people
            if self.new_channels
            or (
                p.contact_points.count() == 2
                and not p.posts.filter(level="booth", started_on__gt=TODAY).exists()
            )
        ]
        for _n in range(self.data.draw(st.integers(1, 6), label="imported")):
            again = self.data.draw(st.booleans()) and known
            number = str(self.data.draw(st.sampled_from(known)).phone) if again else phone()
            if number in used:
                continue
            used.add(number)
            role = self.data.draw(st.sampled_from(list(IMPORT_POSTS)))
            consent_day = days(-self.data.draw(st.integers(1, 40)))
            booth = self.booth()
            name = Person.objects.get(phone=number).name if again else "Imported Volunteer"
            if role == Role.BLOCK_COORDINATOR and booth.block_id is None:
                role = Role.BOOTH_VOLUNTEER
            rows.append(
                [name, number, booth.code, IMPORT_POSTS[role], "22", "form", consent_day.isoformat(), "hi"]
            )
        path = folder / "volunteers.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"]
            )
            writer.writerows(rows)
        report = run_import(VolunteerImport, [path])
        assert report.committed, [str(i) for i in report.errors]
        self.people = list(Person.objects.order_by("pk"))

    def units(self) -> list[tuple[Any, str]]:
        """Units at every level around the pool, and a few anywhere."""
        draw = self.data.draw
        tree = self.tree
        units: list[tuple[Any, str]] = [(State.objects.get(lgd_code=10), "")]
        units += [
            (District.objects.get(pk=draw(st.sampled_from(tree.districts))), ""),
            (District.objects.get(pk=draw(st.sampled_from(tree.districts))), "ac"),
        ]
        booth = Booth.objects.get(pk=draw(st.sampled_from(self.pool)).pk)  # as it is now
        units.append((District.objects.get(pk=booth.district_id), draw(st.sampled_from(["", "ac"]))))
        units.append((Block.objects.get(pk=self.block.pk), ""))
        if booth.block_id:
            units.append((Block.objects.get(pk=booth.block_id), ""))
        if booth.panchayat_id:
            units.append((Panchayat.objects.get(pk=booth.panchayat_id), ""))
        units.append((AssemblyConstituency.objects.get(pk=booth.ac_id), ""))
        units.append((booth, ""))
        units.append((Block.objects.get(pk=draw(st.sampled_from(tree.blocks))), ""))
        units.append((Panchayat.objects.get(pk=draw(st.sampled_from(tree.panchayats))), ""))
        units.append((AssemblyConstituency.objects.get(pk=draw(st.sampled_from(tree.acs))), ""))
        return units


def check_example(
    data: st.DataObject, *, tree: Tree, bends: tuple[str, ...] = (), new_channels: bool = False
) -> None:
    with transaction.atomic():
        org = Organisation(data, bends, tree, new_channels=new_channels)
        if new_channels:
            data.draw(st.just(True), label="import")
        org.register_people()
        org.change()
        if new_channels or data.draw(st.booleans(), label="import"):
            with tempfile.TemporaryDirectory() as folder:
                org.import_file(Path(folder))
            org.change()
        assert_rollup_is_recount()
        rows = Rows.read()
        for unit, by in org.units():
            assert_coverage_is_recount(unit, by=by, rows=rows)
        # The rollup is exact already: a full rebuild changes nothing.
        before = dict(BoothCoverage.objects.values_list("booth_id", "volunteers"))
        services.recount_booths(None, day=TODAY)
        assert dict(BoothCoverage.objects.values_list("booth_id", "volunteers")) == before
        transaction.set_rollback(True)


EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a failure prints its draws at once instead of minutes later.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the demo: thousands of volunteers through the real import -------------------------------------------


def test_coverage_of_the_demo_people_equals_a_brute_force_recount() -> None:
    """The demo's volunteers come through the volunteer import and a bulk withdrawal: every district (by
    block and by AC), block and AC, and the state, agree with the recount. (No ``demo_territory`` fixture:
    the demo needs an empty database, so this runs before the module's territory is built.)"""
    build_demo(scale="small", seed=3)
    assert Person.objects.count() > 1000
    assert Consent.objects.filter(withdrawn_at__isnull=False).exists()
    assert_rollup_is_recount()
    rows = Rows.read()
    assert sum(n >= BOOTH_TARGET for n in rows.counts.values()) > 10
    units: list[tuple[Any, str]] = [(State.objects.get(), "")]
    units += [(d, by) for d in District.objects.all() for by in ("", "ac")]
    units += [(b, "") for b in Block.objects.all()]
    units += [(ac, "") for ac in AssemblyConstituency.objects.all()]
    units += [(p, "") for p in Panchayat.objects.order_by("pk")[:10]]
    for unit, by in units:
        assert_coverage_is_recount(unit, by=by, rows=rows)


def test_coverage_equals_a_brute_force_recount_on_random_subtrees(demo_territory: None) -> None:
    tree = Tree.read()

    @EXAMPLES
    @given(st.data())
    def check(data: st.DataObject) -> None:
        check_example(data, tree=tree)

    check()


def test_coverage_equals_a_brute_force_recount_after_imports_that_add_channels(demo_territory: None) -> None:
    tree = Tree.read()

    @EXAMPLES
    @given(st.data())
    def check(data: st.DataObject) -> None:
        check_example(data, tree=tree, new_channels=True)

    check()


@pytest.mark.parametrize(
    "bends",
    [
        pytest.param(("no panchayat", "other ac"), id="booths-without-panchayat-and-acs-across-panchayats"),
        pytest.param(
            ("no block",),
            id="booths-without-block",
        ),
    ],
)
def test_coverage_equals_a_brute_force_recount_on_an_irregular_tree(
    demo_territory: None, bends: tuple[str, ...]
) -> None:
    tree = Tree.read()

    @EXAMPLES
    @given(st.data())
    def check(data: st.DataObject) -> None:
        check_example(data, tree=tree, bends=bends)

    check()


def test_a_panchayat_split_across_blocks_is_covered_once(demo_territory: None) -> None:
    panchayat = Panchayat.objects.order_by("pk").first()
    first, second = Booth.objects.filter(panchayat=panchayat).order_by("pk")[:2]
    Booth.objects.filter(pk=second.pk).update(block=None)  # e.g. the booth file named no block for it
    volunteers_at(first, 1)
    volunteers_at(second, 1)
    result = coverage_of(District.objects.get(pk=panchayat.district_id))
    assert result.volunteers == 2
    assert_coverage_is_recount(panchayat)
    assert result.panchayats_covered == 1


# --- fixed cases -------------------------------------------------------------------------------------


def volunteers_at(booth: Booth, n: int) -> None:
    for _n in range(n):
        person = services.person_register(name="V", phone=phone(), age=20, home_booth=booth, consent_at=NOW)
        services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booth, started_on=TODAY)


def test_a_block_reaches_its_target_with_enough_covered_panchayats(demo_territory: None) -> None:
    block = Block.objects.order_by("pk").first()
    panchayats = list(
        Panchayat.objects.filter(block=block, booths__isnull=False).distinct().order_by("pk")[:3]
    )
    first = Booth.objects.filter(panchayat=panchayats[0]).order_by("pk")
    volunteers_at(first[0], BOOTH_TARGET)
    volunteers_at(first[1], 1)  # the same panchayat again: still one covered panchayat
    result = coverage_of(block)
    assert (result.panchayats_covered, result.blocks, result.blocks_at_target) == (1, 1, 0)
    assert (result.booths_at_target, result.volunteers) == (1, BOOTH_TARGET + 1)
    volunteers_at(Booth.objects.filter(panchayat=panchayats[1]).first(), 1)
    result = coverage_of(block)
    assert (result.panchayats_covered, result.blocks_at_target) == (2, 1)
    district = coverage_of(block.district)
    assert district.blocks_at_target == 1 and district.panchayats_covered == 2
    [row] = [c for c in district.children if c.unit == block]
    assert (row.blocks, row.blocks_at_target, row.panchayats_covered) == (1, 1, 2)
    assert coverage_of(State.objects.get()).blocks_at_target == 1
    assert_coverage_is_recount(block)
    assert_coverage_is_recount(block.district)


def test_a_unit_without_booths_has_zero_figures(demo_territory: None) -> None:
    district = District.objects.order_by("pk").first()
    empty = Block.objects.create(district=district, name_en="Empty", name_hi="खाली", lgd_code=91_999_999)
    result = coverage_of(empty)
    assert (result.booths, result.booths_at_target, result.volunteers, result.panchayats_covered) == (
        0,
        0,
        0,
        0,
    )
    assert result.children == []
    assert (result.blocks, result.blocks_at_target) == (1, 0)
    [row] = [c for c in coverage_of(district).children if c.unit == empty]
    assert (row.booths, row.blocks, row.blocks_at_target) == (0, 1, 0)


def test_explicit_targets_override_the_settings(demo_territory: None) -> None:
    booth = Booth.objects.get(code="1-1")
    volunteers_at(booth, 1)
    assert coverage_of(booth).booths_at_target == 0
    assert (
        coverage_of(booth, targets=Targets(volunteers_per_booth=1, panchayats_per_block=1)).booths_at_target
        == 1
    )
    assert (
        coverage_of(
            booth.block, targets=Targets(volunteers_per_booth=1, panchayats_per_block=1)
        ).blocks_at_target
        == 1
    )


def test_a_districts_acs_are_listed_by_number(demo_territory: None) -> None:
    district = District.objects.get(lgd_code=90_000_001)
    AssemblyConstituency.objects.create(
        state=district.state, district=district, number=10, name_en="Tenth", name_hi="दसवाँ"
    )
    listed = [c.unit.number for c in coverage_of(district, by="ac").children]
    assert listed == sorted(listed)


def test_a_unit_without_children_leaves_them_out_when_asked(demo_territory: None) -> None:
    district = District.objects.order_by("pk").first()
    result = coverage_of(district, children=False)
    assert result.children == [] and result.booths == Booth.objects.filter(district=district).count()


# --- gaps --------------------------------------------------------------------------------------------


def test_gaps_lists_booths_below_target_fewest_volunteers_first(demo_territory: None) -> None:
    panchayat = Panchayat.objects.order_by("pk").first()
    booths = list(Booth.objects.filter(panchayat=panchayat).order_by("ac_id", "number", "suffix"))
    assert len(booths) >= 3
    volunteers_at(booths[0], 1)
    volunteers_at(booths[1], BOOTH_TARGET)  # at target: not a gap
    volunteers_at(booths[-1], 1)
    listed = list(gaps(panchayat, EVERYTHING))
    counts = [b.volunteers for b in listed]
    assert counts == sorted(counts)
    assert booths[1] not in listed
    assert [b.pk for b in listed] == [b.pk for b in booths if b not in (booths[0], booths[1], booths[-1])] + [
        booths[0].pk,
        booths[-1].pk,
    ]
    assert {b.pk: b.volunteers for b in listed}[booths[0].pk] == 1


def test_gaps_refuses_a_unit_outside_the_scope(demo_territory: None) -> None:
    booth = Booth.objects.get(code="1-1")
    other_district = District.objects.exclude(pk=booth.district_id).order_by("pk").first()
    with pytest.raises(PermissionError):
        gaps(other_district, Scope(districts=frozenset({booth.district_id})))
    assert booth in set(gaps(booth.block, Scope(districts=frozenset({booth.district_id}))))


# --- parse_unit and the command -----------------------------------------------------------------------


def test_parse_unit_finds_each_kind_of_unit(demo_territory: None) -> None:
    booth = Booth.objects.select_related("block", "panchayat", "ac", "district", "state").get(code="1-1A")
    assert parse_unit("state") == booth.state
    assert parse_unit("state:10") == booth.state
    assert parse_unit(f"district:{booth.district.lgd_code}") == booth.district
    assert parse_unit(f"ac:{booth.ac.number}") == booth.ac
    assert parse_unit(f"block:{booth.block.lgd_code}") == booth.block
    assert parse_unit(f"block:#{booth.block.pk}") == booth.block
    assert parse_unit(f"panchayat:{booth.panchayat.lgd_code}") == booth.panchayat
    assert parse_unit("booth:1-1a") == booth
    assert parse_unit(" BOOTH:1-1A ") == booth


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("village:3", "unit must be"),
        ("district", "give an identifier"),
        ("district:1", "no such unit"),
        ("district:abc", "no such unit"),
        ("ac:999", "no such unit"),
        ("booth:1-999", "no such unit"),
        ("block:#0", "no such unit"),
        ("state:99", "no such unit"),
        ("", "unit must be"),
    ],
)
def test_parse_unit_explains_what_is_wrong(demo_territory: None, text: str, words: str) -> None:
    with pytest.raises(UnknownUnit) as caught:
        parse_unit(text)
    assert words in str(caught.value)


def test_parse_unit_needs_a_state_when_no_booths_are_loaded(demo_territory: None) -> None:
    Booth.objects.all().delete()
    with pytest.raises(UnknownUnit) as caught:
        parse_unit("state")
    assert "several states" in str(caught.value)


def run_command(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    call_command("coverage", *args)
    return capsys.readouterr().out


FIELDS = ("unit", "booths", "booths_at_target", "volunteers", "panchayats_covered")


def test_the_command_prints_json_with_the_figures_of_the_unit_and_its_children(
    demo_territory: None, capsys: pytest.CaptureFixture[str]
) -> None:
    district = District.objects.get(lgd_code=90_000_001)
    booth = Booth.objects.filter(district=district).order_by("pk").first()
    volunteers_at(booth, BOOTH_TARGET)
    data = json.loads(run_command("--unit", "district:90000001", "--format", "json", capsys=capsys))
    own, children = recount(district)
    assert data["unit"] == "district:90000001"
    for name in FIELDS[1:]:
        assert data[name] == getattr(own, name), name
    assert data["blocks"] == own.blocks and data["blocks_at_target"] == own.blocks_at_target
    assert [c["unit"] for c in data["children"]] == [
        f"block:{Block.objects.get(pk=c.unit).lgd_code}" for c in children
    ]
    for got, want in zip(data["children"], children, strict=True):
        assert {k: got[k] for k in FIELDS[1:]} == {k: getattr(want, k) for k in FIELDS[1:]}
    assert data["volunteers"] == BOOTH_TARGET and data["booths_at_target"] == 1


def test_the_command_lists_a_districts_acs_with_by_ac(
    demo_territory: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(
        run_command("--unit", "district:90000001", "--by", "ac", "--format", "json", capsys=capsys)
    )
    numbers = AssemblyConstituency.objects.filter(district__lgd_code=90_000_001).values_list(
        "number", flat=True
    )
    assert sorted(c["unit"] for c in data["children"]) == sorted(f"ac:{n}" for n in numbers)


def test_the_command_prints_csv_with_a_row_per_child_and_the_unit_last(
    demo_territory: None, capsys: pytest.CaptureFixture[str]
) -> None:
    booth = Booth.objects.get(code="1-1")
    volunteers_at(booth, 1)
    out = run_command("--unit", f"block:{booth.block.lgd_code}", "--format", "csv", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    own, children = recount(booth.block)
    assert len(rows) == 1 + len(children)
    assert rows[0]["unit"] == f"block:{booth.block.lgd_code}"
    assert int(rows[0]["volunteers"]) == own.volunteers == 1
    assert [int(r["booths"]) for r in rows[1:]] == [c.booths for c in children]


def test_the_command_prints_a_table(demo_territory: None, capsys: pytest.CaptureFixture[str]) -> None:
    booth = Booth.objects.get(code="1-1")
    volunteers_at(booth, BOOTH_TARGET)
    out = run_command("--unit", "booth:1-1", "--format", "table", capsys=capsys)
    assert booth.display_name[:10] in out
    assert "100.0" in out  # the one booth is at target


def test_the_command_recounts_on_request(demo_territory: None, capsys: pytest.CaptureFixture[str]) -> None:
    booth = Booth.objects.get(code="1-1")
    volunteers_at(booth, 1)
    BoothCoverage.objects.all().delete()
    data = json.loads(run_command("--unit", "booth:1-1", "--format", "json", capsys=capsys))
    assert data["volunteers"] == 0
    data = json.loads(run_command("--unit", "booth:1-1", "--format", "json", "--recount", capsys=capsys))
    assert data["volunteers"] == 1


def test_the_command_writes_to_the_stdout_it_is_given(demo_territory: None) -> None:
    out = io.StringIO()
    call_command("coverage", "--unit", "booth:1-1", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["unit"] == "booth:1-1"


@pytest.mark.parametrize("args", [("--unit", "district:1"), ("--unit", "nonsense"), ("--state", "99")])
def test_the_command_fails_on_an_unknown_unit(demo_territory: None, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        call_command("coverage", *args)
