"""Who an audience reaches: one queryset of contact points, scoped, consented, on chosen channels.

The audience's units become a :class:`~sampark.people.scope.Scope`, so "people under these units" is
the very placement rule that scopes every people page (home booth or an active post in the subtree).
The sender's own scope for :attr:`Action.BROADCAST` is applied on top: nobody can message people
outside their subtrees, whatever units they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.text import clean
from sampark.people.coverage import UnknownUnit, parse_unit
from sampark.people.models import ContactPoint, Person, Post, Tag
from sampark.people.scope import Action, Scope, scope_for
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from .models import Audience

_SCOPE_FIELD: dict[type, str] = {
    State: "states",
    District: "districts",
    AssemblyConstituency: "acs",
    Block: "blocks",
    Panchayat: "panchayats",
    Booth: "booths",
}


class AudienceError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_units(unit_keys: Iterable[str]) -> list[Any]:
    """The territory units named by ``unit_keys`` (``district:233``, ``booth:178-1A`` …)."""
    units = []
    for key in unit_keys:
        try:
            units.append(parse_unit(key))
        except UnknownUnit as exc:
            raise AudienceError("units", f"{key}: {exc}") from exc
    return units


def units_scope(unit_keys: Iterable[str] | None = None, *, units: list[Any] | None = None) -> Scope:
    """The scope covering the subtrees of the named units."""
    ids: dict[str, set[int]] = {name: set() for name in _SCOPE_FIELD.values()}
    for unit in units if units is not None else parse_units(unit_keys or ()):
        ids[_SCOPE_FIELD[type(unit)]].add(unit.pk)
    return Scope(**{name: frozenset(values) for name, values in ids.items()})  # type: ignore[arg-type]


def recipients(audience: Audience, *, sender: Any) -> QuerySet[ContactPoint]:
    """The contact points ``audience`` reaches for ``sender`` (a user or a Scope): live consent only,
    the audience's channels, people placed under its units (and holding one of its posts, if any)."""
    if not audience.units:
        raise AudienceError("units", _("choose at least one unit"))
    if not audience.channels:
        raise AudienceError("channels", _("choose at least one channel"))
    units = parse_units(audience.units)
    placed = units_scope(units=units)
    sender_scope = sender if isinstance(sender, Scope) else scope_for(sender, Action.BROADCAST)
    points = ContactPoint.objects.visible_to(placed).filter(
        consent_live=True, channel__in=list(audience.channels)
    )
    if not all(sender_scope.contains(unit) for unit in units):
        # Only when some named unit reaches outside the sender's subtrees: a state coordinator's
        # state-wide broadcast skips a second pair of subtree probes on every one of ten lakh rows.
        points = points.visible_to(sender_scope, Action.BROADCAST)
    if audience.roles:
        holders = (
            Post.objects.visible_to(placed)
            .active(timezone.localdate())
            .filter(role__in=list(audience.roles))
            .values("person_id")
        )
        points = points.filter(person_id__in=holders)
    if audience.tags:
        # Tag names match in any case, as they are unique in any case.
        tags = Tag.objects.annotate(key=Lower("name")).filter(
            key__in=[clean(t).lower() for t in audience.tags]
        )
        tagged = Person.tags.through.objects.filter(tag__in=tags)
        points = points.filter(person_id__in=tagged.values("person_id"))
    return points


def counts_by_channel(audience: Audience, *, sender: Any) -> dict[str, int]:
    """Live recipient count per channel (before ``one_channel`` narrows it to one per person)."""
    rows = recipients(audience, sender=sender).order_by().values("channel").annotate(n=Count("id"))
    return {row["channel"]: row["n"] for row in rows}
