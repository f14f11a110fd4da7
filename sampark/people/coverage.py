"""Coverage against the targets, at every level of the tree, from the per-booth rollup.

Counted volunteers per booth live in :class:`~sampark.people.models.BoothCoverage` (kept exact by the
services). A unit's figures are a handful of set-based ``GROUP BY`` queries over its booths — every booth
carries its ancestors, so "the booths of unit X grouped by child" is one indexed condition and one
grouping column. ``bench/coverage.py`` measures this against a raw ``GROUP BY`` over posts (the
un-rolled-up alternative).

Definitions (the README repeats them):

- a booth is *at target* with at least ``SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH`` (10) counted volunteers;
- a panchayat is *covered* when at least one of its booths has a counted volunteer;
- a block is *at target* with at least ``SAMPARK_TARGET_PANCHAYATS_PER_BLOCK`` (5) covered panchayats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from .models import BoothCoverage
from .scope import Scope

UnitModel = State | District | AssemblyConstituency | Block | Panchayat | Booth


class UnknownUnit(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Targets:
    volunteers_per_booth: int
    panchayats_per_block: int

    @classmethod
    def from_settings(cls) -> Targets:
        return cls(
            volunteers_per_booth=settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH,
            panchayats_per_block=settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK,
        )


@dataclass(slots=True)
class Coverage:
    """The figures of one unit (``unit`` is ``None`` for "booths not placed in a child")."""

    kind: str
    unit: Any
    booths: int = 0
    booths_at_target: int = 0
    volunteers: int = 0
    panchayats_covered: int = 0
    blocks: int | None = None
    blocks_at_target: int | None = None
    children: list[Coverage] = field(default_factory=list)
    child_kind: str = ""

    @property
    def percent(self) -> float:
        return round(100 * self.booths_at_target / self.booths, 1) if self.booths else 0.0

    @property
    def key(self) -> str:
        """The ``kind:identifier`` the CLI accepts (LGD codes, AC numbers, booth codes)."""
        if self.unit is None:
            return f"{self.kind}:-"
        return unit_key(self.unit)

    def as_dict(self, *, with_children: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "unit": self.key,
            "kind": self.kind,
            "name": _("(not placed)") if self.unit is None else _unit_name(self.unit),
            "booths": self.booths,
            "booths_at_target": self.booths_at_target,
            "coverage_percent": self.percent,
            "volunteers": self.volunteers,
            "panchayats_covered": self.panchayats_covered,
            "blocks": self.blocks,
            "blocks_at_target": self.blocks_at_target,
        }
        if with_children:
            data["children"] = [child.as_dict(with_children=False) for child in self.children]
        return data


def _unit_name(unit: Any) -> str:
    if isinstance(unit, Booth):
        return unit.display_name
    if isinstance(unit, AssemblyConstituency):
        return str(unit)
    return str(unit.name)


def unit_key(unit: Any) -> str:
    if isinstance(unit, State):
        return f"state:{unit.lgd_code}"
    if isinstance(unit, District):
        return f"district:{unit.lgd_code}"
    if isinstance(unit, AssemblyConstituency):
        return f"ac:{unit.number}"
    if isinstance(unit, Block):
        return f"block:{unit.lgd_code}" if unit.lgd_code else f"block:#{unit.pk}"
    if isinstance(unit, Panchayat):
        return f"panchayat:{unit.lgd_code}" if unit.lgd_code else f"panchayat:#{unit.pk}"
    if isinstance(unit, Booth):
        return f"booth:{unit.code}"
    raise TypeError(unit)


_UNIT = re.compile(r"(?P<kind>state|district|ac|block|panchayat|booth)(?::(?P<id>#?[\w-]+))?", re.IGNORECASE)


def parse_unit(text: str, *, state: State | None = None) -> UnitModel:
    """``state``, ``district:<LGD>``, ``ac:<number>``, ``block:<LGD>``, ``panchayat:<LGD>``, ``booth:<code>``
    (``#<id>`` for a block or panchayat without an LGD code). ACs and booths are looked up in ``state``
    (default: the only state with booths)."""
    match = _UNIT.fullmatch(text.strip())
    if not match:
        raise UnknownUnit(
            _("unit must be state, district:<LGD code>, ac:<number>, block:<LGD code> or booth:<code>")
        )
    kind, ident = match["kind"].lower(), match["id"]
    if state is None and kind in ("state", "ac", "booth"):
        state_ids = list(Booth.objects.order_by().values_list("state_id", flat=True).distinct()[:2])
        if len(state_ids) == 1:
            state = State.objects.get(pk=state_ids[0])
    try:
        if kind == "state":
            if ident:
                return State.objects.get(lgd_code=int(ident))
            if state is None:
                raise UnknownUnit(_("several states (or none) have booths: give state:<LGD code>"))
            return state
        if ident is None:
            raise UnknownUnit(_("give an identifier after the colon, e.g. district:233"))
        if kind == "booth":
            return Booth.objects.get(state=state, code=ident.upper())
        if kind == "ac":
            return AssemblyConstituency.objects.get(state=state, number=int(ident))
        model: type[models.Model] = {"district": District, "block": Block, "panchayat": Panchayat}[kind]
        if ident.startswith("#"):
            return model._default_manager.get(pk=int(ident[1:]))  # type: ignore[return-value]
        return model._default_manager.get(lgd_code=int(ident))  # type: ignore[return-value]
    except (ValueError, models.ObjectDoesNotExist) as exc:
        raise UnknownUnit(_("no such unit: %(unit)s") % {"unit": text}) from exc


# --- aggregation ------------------------------------------------------------------------------------

# kind of unit → (its booth column, the kind of its children, their booth column)
_TREE: dict[type[models.Model], tuple[str, str, str, str]] = {
    State: ("state", "state_id", "district", "district_id"),
    District: ("district", "district_id", "block", "block_id"),
    AssemblyConstituency: ("ac", "ac_id", "booth", "id"),
    Block: ("block", "block_id", "panchayat", "panchayat_id"),
    Panchayat: ("panchayat", "panchayat_id", "booth", "id"),
    Booth: ("booth", "id", "", ""),
}

_CHILD_MODEL: dict[str, type[models.Model]] = {
    "district": District,
    "block": Block,
    "panchayat": Panchayat,
    "booth": Booth,
    "ac": AssemblyConstituency,
}


def _tables() -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(Booth._meta.db_table), quote(BoothCoverage._meta.db_table)


@dataclass(slots=True)
class _Tally:
    booths: int = 0
    at_target: int = 0
    volunteers: int = 0
    panchayats: set[int] = field(default_factory=set)
    block_panchayats: dict[int, set[int]] = field(default_factory=dict)

    def add(self, other: _Tally) -> None:
        self.booths += other.booths
        self.at_target += other.at_target
        self.volunteers += other.volunteers
        self.panchayats |= other.panchayats
        for block_id, panchayats in other.block_panchayats.items():
            self.block_panchayats.setdefault(block_id, set()).update(panchayats)

    def blocks_at_target(self, targets: Targets) -> int:
        return sum(len(p) >= targets.panchayats_per_block for p in self.block_panchayats.values())

    def coverage(self, kind: str, unit: Any, blocks: int | None, targets: Targets) -> Coverage:
        """These figures as a child row (``blocks=None``: a kind of unit that holds no blocks)."""
        return Coverage(
            kind=kind,
            unit=unit,
            booths=self.booths,
            booths_at_target=self.at_target,
            volunteers=self.volunteers,
            panchayats_covered=len(self.panchayats),
            blocks=blocks,
            blocks_at_target=None if blocks is None else self.blocks_at_target(targets),
        )


def _tallies(column: str, child: str, unit_id: int, targets: Targets) -> tuple[dict[Any, _Tally], _Tally]:
    """Per child (``child=""``: none) of the unit whose booths have ``column = unit_id``, and for the unit:
    booths, booths at target, volunteers, and the covered panchayats by block.

    Two queries whatever the unit: booths counted on the booth table's ancestor indexes, and one pass
    over the narrow rollup (it carries the same ancestor columns, covered by its composite indexes)
    grouped by child, block and panchayat — a few thousand groups for a state, merged here. A panchayat
    whose booths lie in two children or two blocks is still one panchayat of the unit.
    """
    booths, coverage = _tables()
    rollup_column = "booth_id" if column == "id" else column
    rollup_child = "booth_id" if child == "id" else child
    # A literal would be read as a column position in GROUP BY: the unit-only query groups by nothing.
    key, by_child = (child, f"GROUP BY {child}") if child else ("NULL", "")
    if column == "state_id":
        # No booth index leads with the state: count through the districts' index instead.
        where, params = f"district_id IN (SELECT id FROM {_district_table()} WHERE state_id = %s)", [unit_id]
    else:
        where, params = f"{column} = %s", [unit_id]
    per_child: dict[Any, _Tally] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, COUNT(*) FROM {booths} WHERE {where} {by_child}", params)
        for child_key, n in cursor.fetchall():
            if n:  # an aggregate without GROUP BY over no rows still returns a row, with 0
                per_child[child_key] = _Tally(booths=n)
        # Every rollup row has at least one volunteer (booths with none have no row).
        cursor.execute(
            f"""
            SELECT {rollup_child or "NULL"}, block_id, panchayat_id,
                   SUM(CASE WHEN volunteers >= %s THEN 1 ELSE 0 END), SUM(volunteers)
            FROM {coverage} WHERE {rollup_column} = %s
            GROUP BY {rollup_child + ", " if child else ""}block_id, panchayat_id
            """,
            [targets.volunteers_per_booth, unit_id],
        )
        for child_key, block_id, panchayat_id, at_target, volunteers in cursor.fetchall():
            tally = per_child.setdefault(child_key, _Tally())
            tally.at_target += int(at_target)
            tally.volunteers += int(volunteers)
            if panchayat_id is not None:
                tally.panchayats.add(panchayat_id)
                if block_id is not None:
                    tally.block_panchayats.setdefault(block_id, set()).add(panchayat_id)
    own = _Tally()
    for tally in per_child.values():
        own.add(tally)
    return per_child, own


def _district_table() -> str:
    return connection.ops.quote_name(District._meta.db_table)


def coverage_of(
    unit: UnitModel, *, targets: Targets | None = None, children: bool = True, by: str = ""
) -> Coverage:
    """The coverage of ``unit`` and (``children``) of each child unit; ``by="ac"`` lists a district's
    ACs instead of its blocks. Callers check the scope first (:func:`coverage_for`)."""
    targets = targets or Targets.from_settings()
    kind, column, child_kind, child_column = _TREE[type(unit)]
    if by == "ac" and isinstance(unit, District):
        child_kind, child_column = "ac", "ac_id"
    result = Coverage(kind=kind, unit=unit, child_kind=child_kind if children else "")
    result.blocks = _blocks_under(unit)
    listed = children and bool(child_kind)
    # Grouped by the child column even when children are not listed: the rollup's covering indexes
    # are ordered that way, so the grouped pass is the cheaper one.
    per_child, own = _tallies(column, child_column, unit.pk, targets)
    result.booths, result.booths_at_target, result.volunteers = own.booths, own.at_target, own.volunteers
    result.panchayats_covered = len(own.panchayats)
    result.blocks_at_target = own.blocks_at_target(targets) if result.blocks is not None else None
    if not listed:
        return result
    child_model = _CHILD_MODEL[child_kind]
    if child_kind == "booth":
        units: list[Any] = list(Booth.objects.filter(**{column: unit.pk}).order_by("number", "suffix"))
    elif child_kind == "ac":
        units = list(AssemblyConstituency.objects.filter(district_id=unit.pk).order_by("number"))
    else:
        units = list(child_model._default_manager.filter(**{column: unit.pk}))
    block_counts = _block_counts(child_kind, [u.pk for u in units])
    for child in units:
        blocks = block_counts.get(child.pk, 0) if block_counts is not None else None
        result.children.append(per_child.get(child.pk, _Tally()).coverage(child_kind, child, blocks, targets))
    if child_kind not in ("booth", "ac"):  # booths and ACs keep their number order
        result.children.sort(key=lambda c: _unit_name(c.unit).casefold())
    if None in per_child:  # booths not placed in a child (e.g. in no block)
        result.children.append(per_child[None].coverage(child_kind, None, None, targets))
    return result


def _blocks_under(unit: Any) -> int | None:
    if isinstance(unit, State):
        return Block.objects.filter(district__state=unit).count()
    if isinstance(unit, District):
        return Block.objects.filter(district=unit).count()
    if isinstance(unit, Block):
        return 1
    return None


def _block_counts(child_kind: str, ids: list[int]) -> dict[int, int] | None:
    if child_kind == "district":
        rows = (
            Block.objects.filter(district_id__in=ids)
            .order_by()
            .values("district_id")
            .annotate(n=models.Count("pk"))
            .values_list("district_id", "n")
        )
        return dict(rows)
    if child_kind == "block":
        return dict.fromkeys(ids, 1)
    return None


def coverage_for(unit: UnitModel, scope: Scope, **kwargs: Any) -> Coverage:
    """:func:`coverage_of` for a unit inside ``scope``; :class:`PermissionError` outside it."""
    if not scope.contains(unit):
        raise PermissionError(unit_key(unit))
    return coverage_of(unit, **kwargs)


def gaps(unit: UnitModel, scope: Scope, *, targets: Targets | None = None) -> QuerySet[Booth]:
    """The booths of ``unit`` below the volunteer target, worst first (fewest volunteers, then by code)."""
    if not scope.contains(unit):
        raise PermissionError(unit_key(unit))
    targets = targets or Targets.from_settings()
    _kind, column, _c, _cc = _TREE[type(unit)]
    return (
        Booth.objects.filter(**{column: unit.pk})
        .annotate(volunteers=Coalesce(F("coverage__volunteers"), Value(0)))
        .filter(volunteers__lt=targets.volunteers_per_booth)
        .select_related("ac", "panchayat")
        .order_by("volunteers", "ac_id", "number", "suffix")
    )


def home_units(scope: Scope) -> list[UnitModel]:
    """The units a login's coverage pages start from: the roots of its subtrees."""
    if scope.everything:
        state_ids = Booth.objects.order_by().values_list("state_id", flat=True).distinct()
        return list(State.objects.filter(pk__in=list(state_ids)))
    units: list[UnitModel] = []
    units += list(State.objects.filter(pk__in=scope.states))
    units += list(District.objects.filter(pk__in=scope.districts))
    units += list(AssemblyConstituency.objects.filter(pk__in=scope.acs))
    units += list(Block.objects.filter(pk__in=scope.blocks))
    units += list(Panchayat.objects.filter(pk__in=scope.panchayats))
    units += list(Booth.objects.filter(pk__in=scope.booths))
    return units
