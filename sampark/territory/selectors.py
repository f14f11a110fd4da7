"""Read-only queries behind the territory browser.

Counts are set-based: one ``GROUP BY`` per kind of child unit over the ancestor foreign keys every row
carries (a booth has ``district_id``, ``ac_id``, ``block_id`` and ``panchayat_id``), merged in Python.
A page therefore costs a fixed handful of queries however many rows it lists — never one per row.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet

from sampark.core.text import clean
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

# ``34``, ``34A``, ``12-34`` or ``12-34A``: a booth number, optionally with its AC number and suffix.
_BOOTH_CODE = re.compile(r"(?:(?P<ac>\d{1,4})\s*-\s*)?(?P<number>\d{1,5})\s*(?P<suffix>[A-Za-z]{0,4})")


@dataclass(frozen=True, slots=True)
class BoothCounts:
    """Booths under one unit, split into main and auxiliary polling stations."""

    main: int = 0
    auxiliary: int = 0

    @property
    def total(self) -> int:
        return self.main + self.auxiliary

    def __add__(self, other: BoothCounts) -> BoothCounts:
        return BoothCounts(main=self.main + other.main, auxiliary=self.auxiliary + other.auxiliary)


@dataclass(slots=True)
class UnitRow:
    """One unit in a list with the counts of what lies under it (``None``: not counted on this page)."""

    unit: Any
    booths: BoothCounts = field(default_factory=BoothCounts)
    districts: int | None = None
    acs: int | None = None
    blocks: int | None = None
    panchayats: int | None = None


@dataclass(slots=True)
class Totals:
    """Column sums of a list of :class:`UnitRow`."""

    booths: BoothCounts = field(default_factory=BoothCounts)
    districts: int = 0
    acs: int = 0
    blocks: int = 0
    panchayats: int = 0


def totals(rows: list[UnitRow]) -> Totals:
    result = Totals()
    for row in rows:
        result.booths += row.booths
        result.districts += row.districts or 0
        result.acs += row.acs or 0
        result.blocks += row.blocks or 0
        result.panchayats += row.panchayats or 0
    return result


def _count_by(queryset: QuerySet[Any], group_by: str) -> dict[int | None, int]:
    """``{parent id: number of rows}`` in one ``GROUP BY`` (model ordering cleared so it cannot join)."""
    rows = queryset.order_by().values(group_by).annotate(n=Count("pk")).values_list(group_by, "n")
    return dict(rows)


# Booth counts change only when booths are imported or edited, and the GROUP BY behind them reads a
# state's whole booth table (1 lakh rows: 27 ms on a quiet PostgreSQL, 87 ms on a busy one, for every
# load of the state page). They are cached under a version that every import, demo build and booth
# save or delete replaces (:func:`forget_counts`); the expiry only bounds what a missed path could keep.
VERSION_KEY = "territory:counts-version"
COUNTS_TTL_S = 15 * 60


def forget_counts() -> None:
    """Make every cached booth count stale: now, and again once the current transaction commits (a
    page counted meanwhile saw the booths as they were before the commit)."""

    def renew() -> None:
        cache.set(VERSION_KEY, str(time.time_ns()), None)

    renew()
    transaction.on_commit(renew)


def _counts_key(group_by: str, filters: dict[str, Any]) -> str:
    version = cache.get_or_set(VERSION_KEY, lambda: str(time.time_ns()), None)

    def plain(value: Any) -> Any:  # a unit by its id, a list of ids in order
        if isinstance(value, models.Model):
            return value.pk
        return sorted(value) if isinstance(value, list | tuple | set) else value

    parts = [group_by, *(f"{name}={plain(value)}" for name, value in sorted(filters.items()))]
    return f"territory:booths:{version}:{hashlib.sha256(repr(parts).encode()).hexdigest()[:32]}"


def booth_counts_by(group_by: str, **filters: Any) -> dict[int | None, BoothCounts]:
    """``{parent id: BoothCounts}`` for the booths matching ``filters``, grouped by one ancestor FK
    (cached until the booths change)."""
    key = _counts_key(group_by, filters)
    found = cache.get(key)
    if found is None:
        found = {k: (c.main, c.auxiliary) for k, c in _booth_counts_by(group_by, **filters).items()}
        cache.set(key, found, COUNTS_TTL_S)
    return {k: BoothCounts(main=main, auxiliary=aux) for k, (main, aux) in found.items()}


def _booth_counts_by(group_by: str, **filters: Any) -> dict[int | None, BoothCounts]:
    split: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        Booth.objects.filter(**filters)
        .order_by()
        .values(group_by, "kind")
        .annotate(n=Count("pk"))
        .values_list(group_by, "kind", "n")
    )
    for parent_id, kind, n in rows:
        split[parent_id][0 if kind == Booth.Kind.MAIN else 1] += n
    return {key: BoothCounts(main=main, auxiliary=aux) for key, (main, aux) in split.items()}


def _by_name(rows: list[UnitRow]) -> list[UnitRow]:
    """Rows in the order of the names the reader sees (Hindi or English, whichever is active)."""
    return sorted(rows, key=lambda row: row.unit.name.casefold())


# --- pages ---------------------------------------------------------------------------------------------


def states_overview() -> list[UnitRow]:
    """Every state with its districts, ACs and booths counted (four queries)."""
    states = list(State.objects.all())
    districts = _count_by(District.objects.all(), "state_id")
    acs = _count_by(AssemblyConstituency.objects.all(), "state_id")
    booths = booth_counts_by("state_id")
    rows = [
        UnitRow(
            unit=state,
            districts=districts.get(state.pk, 0),
            acs=acs.get(state.pk, 0),
            booths=booths.get(state.pk, BoothCounts()),
        )
        for state in states
    ]
    return _by_name(rows)


def sole_state_with_booths() -> State | None:
    """The state to open straight away when it is the only one with booths loaded (one indexed query)."""
    state_ids = list(Booth.objects.order_by().values_list("state_id", flat=True).distinct()[:2])
    if len(state_ids) != 1:
        return None
    return State.objects.filter(pk=state_ids[0]).first()


@dataclass(slots=True)
class StateOverview:
    districts: list[UnitRow]
    # ACs not yet linked to a district, so not reachable from a district page (read only when there are any).
    unlinked_acs: list[AssemblyConstituency]


def state_overview(state: State) -> StateOverview:
    """The districts of a state, each with its ACs, blocks, panchayats and booths counted.

    Five queries (six when some ACs lack a district), whatever the size of the state.
    """
    districts = list(state.districts.all())
    ids = [district.pk for district in districts]
    acs = _count_by(AssemblyConstituency.objects.filter(state=state), "district_id")
    blocks = _count_by(Block.objects.filter(district_id__in=ids), "district_id")
    panchayats = _count_by(Panchayat.objects.filter(district_id__in=ids), "district_id")
    booths = booth_counts_by("district_id", state=state)
    rows = [
        UnitRow(
            unit=district,
            acs=acs.get(district.pk, 0),
            blocks=blocks.get(district.pk, 0),
            panchayats=panchayats.get(district.pk, 0),
            booths=booths.get(district.pk, BoothCounts()),
        )
        for district in districts
    ]
    unlinked = []
    if acs.get(None):
        unlinked = list(
            AssemblyConstituency.objects.filter(state=state, district__isnull=True).order_by("number")
        )
    return StateOverview(districts=_by_name(rows), unlinked_acs=unlinked)


def district_acs(district: District) -> list[UnitRow]:
    """The ACs listed under a district's election office, by number, with their booths counted."""
    acs = list(district.acs.order_by("number"))
    booths = booth_counts_by("ac_id", ac_id__in=[ac.pk for ac in acs])
    return [UnitRow(unit=ac, booths=booths.get(ac.pk, BoothCounts())) for ac in acs]


def district_blocks(district: District) -> tuple[list[UnitRow], BoothCounts]:
    """The blocks of a district with panchayats and booths counted, and the booths not placed in a block."""
    blocks = list(district.blocks.all())
    panchayats = _count_by(Panchayat.objects.filter(district=district), "block_id")
    booths = booth_counts_by("block_id", district=district)
    rows = [
        UnitRow(
            unit=block,
            panchayats=panchayats.get(block.pk, 0),
            booths=booths.get(block.pk, BoothCounts()),
        )
        for block in blocks
    ]
    return _by_name(rows), booths.get(None, BoothCounts())


def block_panchayats(block: Block) -> tuple[list[UnitRow], BoothCounts]:
    """The panchayats of a block with their booths counted, and the block's booths not placed in one."""
    panchayats = list(block.panchayats.all())
    booths = booth_counts_by("panchayat_id", block=block)
    rows = [
        UnitRow(unit=panchayat, booths=booths.get(panchayat.pk, BoothCounts())) for panchayat in panchayats
    ]
    return _by_name(rows), booths.get(None, BoothCounts())


def booth_counts(**filters: Any) -> BoothCounts:
    """Main and auxiliary booths matching ``filters``, in one query."""
    by_kind = dict(
        Booth.objects.filter(**filters)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return BoothCounts(main=by_kind.get(Booth.Kind.MAIN, 0), auxiliary=by_kind.get(Booth.Kind.AUXILIARY, 0))


def search_booths(queryset: QuerySet[Booth], query: str) -> QuerySet[Booth]:
    """Booths with a code (``34``, ``34A``, ``12-34``, ``12-34A``), or else with every word of a name.

    Names match in either script (``name`` is English, ``name_hi`` Hindi), so a word typed in Devanagari
    or in Latin letters finds the booth.
    """
    query = clean(query)
    if not query:
        return queryset
    code = _BOOTH_CODE.fullmatch(query)
    if code:
        # Someone typing "2" or "178-2A" means that booth, not every name with a 2 in it ("Ward No 2").
        condition = Q(number=int(code["number"]))
        if code["ac"]:
            condition &= Q(ac__number=int(code["ac"]))
        if code["suffix"]:
            condition &= Q(suffix__iexact=code["suffix"])
        return queryset.filter(condition)
    condition = Q()
    for word in query.split(" "):
        condition &= Q(name__icontains=word) | Q(name_hi__icontains=word)
    return queryset.filter(condition)


def ac_booths(ac: AssemblyConstituency, query: str = "") -> QuerySet[Booth]:
    """An AC's booths in number order, with block and panchayat joined for display."""
    booths = Booth.objects.filter(ac=ac).select_related("block", "panchayat").order_by("number", "suffix")
    return search_booths(booths, query)


def panchayat_booths(panchayat: Panchayat) -> QuerySet[Booth]:
    """A panchayat's booths by AC and number, with the AC joined for display."""
    return (
        Booth.objects.filter(panchayat=panchayat)
        .select_related("ac")
        .order_by("ac__number", "number", "suffix")
    )


# --- single units, with what their page shows joined in ------------------------------------------------


def districts_with_state() -> QuerySet[District]:
    return District.objects.select_related("state")


def acs_with_parents() -> QuerySet[AssemblyConstituency]:
    return AssemblyConstituency.objects.select_related("state", "district__state", "pc")


def blocks_with_parents() -> QuerySet[Block]:
    return Block.objects.select_related("district__state")


def panchayats_with_parents() -> QuerySet[Panchayat]:
    return Panchayat.objects.select_related("district__state", "block__district__state")


def booths_with_parents() -> QuerySet[Booth]:
    return Booth.objects.select_related(
        "state", "district", "ac__state", "ac__district__state", "ac__pc", "block", "panchayat"
    )
