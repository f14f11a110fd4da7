"""Read-only queries behind the people pages, the export, the API and the admin.

Every query starts from ``<Model>.objects.visible_to(user, action)`` (:mod:`sampark.people.scope`); nothing
here decides who sees what. Lists cost a fixed number of queries per page: related rows come with
``select_related`` / ``prefetch_related``, and the prefetched posts, contact points and consents are scoped
too (a district coordinator of X does not learn, through a person's page, of that person's post in Y).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.text import clean, search_key
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from . import coverage
from .models import Consent, ContactPoint, Person, Post, Role
from .phones import mask
from .scope import Action, Scope, scope_for

PER_PAGE = 50
CONSENT_STATES = ("live", "withdrawn", "none")
# Digits typed in the search box match the end of a mobile number. The last four are printed in every
# masked number anyway; a longer tail would let someone without the right to see numbers rebuild one
# digit by digit, so it only matches people whose numbers the user may see.
OPEN_PHONE_TAIL = 4

_DIGITS = re.compile(r"[+\d][\d\s-]*")

# The ancestor column a booth (and a post) carries for each kind of unit; a booth's own id for a booth.
_UNIT_COLUMN: dict[type, tuple[str, str]] = {
    State: ("home_booth__state_id", "state_id"),
    District: ("home_booth__district_id", "district_id"),
    AssemblyConstituency: ("home_booth__ac_id", "ac_id"),
    Block: ("home_booth__block_id", "block_id"),
    Panchayat: ("home_booth__panchayat_id", "panchayat_id"),
    Booth: ("home_booth_id", "booth_id"),
}


class FilterError(ValueError):
    """A filter that cannot be applied: the reason is a translated sentence for the reader."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PeopleFilter:
    """What the people list, the export and ``GET /api/people`` narrow the visible people by."""

    query: str = ""
    unit: coverage.UnitModel | None = None
    role: str = ""
    consent: str = ""

    @property
    def unit_key(self) -> str:
        return coverage.unit_key(self.unit) if self.unit is not None else ""

    def as_params(self) -> dict[str, str]:
        """The query string that gives this filter back (for pagination links and the export)."""
        params = {"q": self.query, "unit": self.unit_key, "role": self.role, "consent": self.consent}
        return {key: value for key, value in params.items() if value}


def people_filter(params: Mapping[str, Any], *, user: Any, action: Action = Action.VIEW) -> PeopleFilter:
    """Parse ``q``, ``unit``, ``role`` and ``consent``; :class:`FilterError` for a value that cannot apply.

    A unit outside the user's scope for ``action`` is refused with the same words as a unit that does not
    exist, so the filter never tells anyone what lies outside their scope.
    """
    query = clean(str(params.get("q") or ""))[:100]
    role = str(params.get("role") or "")
    if role and role not in Role.values:
        raise FilterError(_("no such post"), field="role")
    consent = str(params.get("consent") or "")
    if consent and consent not in CONSENT_STATES:
        raise FilterError(_("consent must be live, withdrawn or none"), field="consent")
    unit = None
    text = clean(str(params.get("unit") or ""))
    if text:
        unit = unit_in_scope(text, scope_for(user, action))
        if unit is None:
            raise FilterError(_("no such unit: %(unit)s") % {"unit": text}, field="unit")
    return PeopleFilter(query=query, unit=unit, role=role, consent=consent)


def unit_in_scope(text: str, scope: Scope) -> coverage.UnitModel | None:
    """The unit ``text`` names (``district:233`` …) if it exists and lies in ``scope``; else ``None``."""
    try:
        unit = coverage.parse_unit(text)
    except coverage.UnknownUnit:
        return None
    return unit if scope.contains(unit) else None


def search_condition(query: str, *, user: Any) -> Q:
    """A name in either script, or the last digits of a mobile number (see ``OPEN_PHONE_TAIL``)."""
    digits = re.sub(r"\D", "", query) if _DIGITS.fullmatch(query) else ""
    if digits:
        tail = Q(phone__endswith=digits)
        if len(digits) > OPEN_PHONE_TAIL:
            tail &= Q(pk__in=Person.objects.visible_to(user, Action.SEE_PHONES).values("pk"))
        return tail
    key = search_key(clean(query))  # as services write name_key: रमेश and Ramesh share "ramesh"
    condition = Q(name__icontains=query)
    if key:
        condition |= Q(name_key__icontains=key)
    return condition


def placed_under(unit: coverage.UnitModel) -> Q:
    """People whose home booth or any post lies under ``unit`` (the same placing the scope uses)."""
    booth_column, post_column = _UNIT_COLUMN[type(unit)]
    posts = Post.objects.filter(**{post_column: unit.pk}, person_id=OuterRef("pk"))
    return Q(**{booth_column: unit.pk}) | Q(Exists(posts))


def _filtered(
    people: QuerySet[Person], flt: PeopleFilter, *, user: Any, day: datetime.date
) -> QuerySet[Person]:
    if flt.query:
        people = people.filter(search_condition(flt.query, user=user))
    if flt.unit is not None:
        people = people.filter(placed_under(flt.unit))
    if flt.role:
        people = people.filter(
            Exists(Post.objects.active(day).filter(person_id=OuterRef("pk"), role=flt.role))
        )
    if flt.consent:
        live = Exists(ContactPoint.objects.filter(person_id=OuterRef("pk"), consent_live=True))
        any_consent = Exists(Consent.objects.filter(contact_point__person_id=OuterRef("pk")))
        people = people.filter(
            {"live": Q(live), "withdrawn": ~Q(live) & Q(any_consent), "none": ~Q(any_consent)}[flt.consent]
        )
    return people


def people_list(
    user: Any,
    flt: PeopleFilter = PeopleFilter(),
    *,
    action: Action = Action.VIEW,
    day: datetime.date | None = None,
) -> QuerySet[Person]:
    """The people ``user`` may see for ``action``, narrowed by ``flt``, with what a row shows: the home
    booth, the active posts (with their units) and the contact points, all scoped."""
    day = day or timezone.localdate()
    people = _filtered(Person.objects.visible_to(user, action), flt, user=user, day=day)
    return people.select_related("home_booth").prefetch_related(  # type: ignore[type-var]
        Prefetch(
            "posts",
            queryset=Post.objects.active(day)
            .visible_to(user, action)
            .select_related("state", "district", "ac", "block", "panchayat", "booth"),
            to_attr="active_posts",
        ),
        Prefetch("contact_points", queryset=ContactPoint.objects.visible_to(user, action), to_attr="points"),
    )


def people_to_export(user: Any, flt: PeopleFilter, *, day: datetime.date) -> QuerySet[Person]:
    """The people ``user`` may export, narrowed by ``flt`` (``export.csv_lines`` reads their posts and
    contact points itself, a chunk at a time)."""
    return _filtered(Person.objects.visible_to(user, Action.EXPORT), flt, user=user, day=day)


def person_detail(user: Any, person_id: int) -> Person | None:
    """One person with every post (ended too) and every contact point with its consent history."""
    return (
        Person.objects.visible_to(user, Action.VIEW)
        .select_related("home_booth__ac", "home_booth__panchayat", "referred_by")
        .prefetch_related(  # type: ignore[type-var]
            Prefetch(
                "posts",
                queryset=Post.objects.visible_to(user, Action.VIEW)
                .select_related("state", "district", "ac", "block", "panchayat", "booth")
                .order_by("-started_on", "-id"),
                to_attr="all_posts",
            ),
            Prefetch(
                "contact_points",
                queryset=ContactPoint.objects.visible_to(user, Action.VIEW).prefetch_related(
                    Prefetch(
                        "consents",
                        queryset=Consent.objects.visible_to(user, Action.VIEW).order_by("-given_at", "-id"),
                        to_attr="history",
                    )
                ),
                to_attr="points",
            ),
        )
        .filter(pk=person_id)
        .first()
    )


def phones_visible(user: Any, person_ids: list[int]) -> set[int]:
    """Which of ``person_ids`` ``user`` may see the mobile numbers of (one query)."""
    if not person_ids:
        return set()
    return set(
        Person.objects.visible_to(user, Action.SEE_PHONES)
        .filter(pk__in=person_ids)
        .values_list("pk", flat=True)
    )


def can_change(user: Any, person: Person) -> bool:
    return Person.objects.visible_to(user, Action.CHANGE).filter(pk=person.pk).exists()


def may_export(user: Any) -> bool:
    return not scope_for(user, Action.EXPORT).nothing


def withdrawable_point(user: Any, person: Person, point_id: int) -> ContactPoint | None:
    """A contact point of ``person`` whose consent ``user`` may withdraw: their own, or within the
    user's change scope."""
    own = Q(person__user_id=user.pk) if user.is_authenticated else Q(pk__in=[])
    allowed = ContactPoint.objects.visible_to(user, Action.CHANGE) | ContactPoint.objects.filter(own)
    return allowed.filter(person_id=person.pk, pk=point_id).first()


def may_withdraw(user: Any, person: Person) -> bool:
    return (user.is_authenticated and person.user_id == user.pk) or can_change(user, person)


def changeable_post(user: Any, post_id: int, person: Person) -> Post | None:
    return Post.objects.visible_to(user, Action.CHANGE).filter(pk=post_id, person_id=person.pk).first()


def shown_phone(phone: Any, *, visible: bool) -> str:
    text = str(phone or "")
    return text if visible else mask(text)


def shown_address(point: ContactPoint, *, visible: bool) -> str:
    """A contact point's address as the reader may see it (numbers and emails masked without the right)."""
    if visible:
        return point.address
    if "@" in point.address:
        local, _at, domain = point.address.partition("@")
        return f"{local[:1]}•••@{domain}"
    return mask(point.address)


# --- coverage -----------------------------------------------------------------------------------------


def coverage_home(user: Any) -> list[coverage.UnitModel]:
    return coverage.home_units(scope_for(user, Action.VIEW))


def coverage_unit(user: Any, kind: str, ident: str) -> coverage.UnitModel | None:
    """The unit at ``/coverage/<kind>/<ident>/`` if it exists and is in the user's view scope."""
    return unit_in_scope(f"{kind}:{ident}", scope_for(user, Action.VIEW))


def coverage_report(user: Any, unit: coverage.UnitModel, *, by: str = "") -> coverage.Coverage:
    """:func:`coverage.coverage_for` under the user's view scope (:class:`PermissionError` outside)."""
    return coverage.coverage_for(unit, scope_for(user, Action.VIEW), by=by)


def coverage_gaps(user: Any, unit: coverage.UnitModel) -> QuerySet[Booth]:
    return coverage.gaps(unit, scope_for(user, Action.VIEW))


def unit_choices(user: Any) -> list[tuple[str, str]]:
    """``(unit key, label)`` for the unit filter: the user's home units and the units just below them."""
    scope = scope_for(user, Action.VIEW)
    choices: list[tuple[str, str]] = []
    homes = coverage.home_units(scope)
    states = [u.pk for u in homes if isinstance(u, State)]
    districts = [u.pk for u in homes if isinstance(u, District)]
    blocks = [u.pk for u in homes if isinstance(u, Block)]
    below: dict[Any, list[Any]] = {}
    if states:
        for district in District.objects.filter(state_id__in=states).order_by("name_en"):
            below.setdefault(("state", district.state_id), []).append(district)
    if districts:
        for block in Block.objects.filter(district_id__in=districts).order_by("name_en"):
            below.setdefault(("district", block.district_id), []).append(block)
        for ac in AssemblyConstituency.objects.filter(district_id__in=districts).order_by("number"):
            below.setdefault(("district", ac.district_id), []).append(ac)
    if blocks:
        for panchayat in Panchayat.objects.filter(block_id__in=blocks).order_by("name_en"):
            below.setdefault(("block", panchayat.block_id), []).append(panchayat)
    for home in homes:
        choices.append((coverage.unit_key(home), unit_label(home)))
        kind = coverage.unit_key(home).split(":")[0]
        for child in below.get((kind, home.pk), []):
            choices.append((coverage.unit_key(child), f"— {unit_label(child)}"))
    return choices


def unit_label(unit: Any) -> str:
    """A unit's name for the reader, with what kind of unit it is."""
    if isinstance(unit, Booth):
        return _("Booth %(code)s %(name)s") % {"code": unit.code, "name": unit.display_name}
    kinds = {
        State: _("State"),
        District: _("District"),
        AssemblyConstituency: _("Assembly constituency"),
        Block: _("Block"),
        Panchayat: _("Panchayat"),
    }
    return _("%(kind)s %(name)s") % {"kind": kinds[type(unit)], "name": str(unit)}
