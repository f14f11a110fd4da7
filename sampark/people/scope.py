"""Who may see and do what: the subtrees of a login's posts, and one queryset method that applies them.

A login belongs to a :class:`~sampark.people.models.Person`; each of their *active* posts grants its
unit's subtree (a district coordinator: every block, AC, panchayat and booth of the district). Actions
need a minimum rank: anyone with a post may view their subtree, booth presidents and above see phone
numbers and change people, district coordinators and above export. The scope of an action is the union
of the subtrees of the posts whose role ranks high enough *for that action* — a district coordinator of
X who is also a booth volunteer in Y exports X only.

Every list, detail, search, count, export and admin query of people, posts, contact points, consents
and coverage goes through ``<Model>.objects.visible_to(user, action)``; nothing else decides.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

if TYPE_CHECKING:
    from sampark.territory.models import Booth

M = TypeVar("M", bound=models.Model)


class Action(StrEnum):
    VIEW = "view"
    SEE_PHONES = "see_phones"
    CHANGE = "change"
    EXPORT = "export"
    BROADCAST = "broadcast"


# Higher outranks lower; keyed by Role value (kept here as strings so models can import this module).
ROLE_RANK: dict[str, int] = {
    "state_coordinator": 60,
    "district_coordinator": 50,
    "ac_coordinator": 45,
    "block_coordinator": 40,
    "panchayat_coordinator": 30,
    "booth_president": 20,
    "booth_volunteer": 10,
}

ACTION_MIN_RANK: dict[Action, int] = {
    Action.VIEW: 10,
    Action.SEE_PHONES: 20,
    Action.CHANGE: 20,
    Action.EXPORT: 50,
    # Messaging people in one's subtree: panchayat coordinators and above.
    Action.BROADCAST: 30,
}


@dataclass(frozen=True)
class Scope:
    """Unit ids whose subtrees are in scope (``everything`` for superusers)."""

    everything: bool = False
    states: frozenset[int] = field(default_factory=frozenset)
    districts: frozenset[int] = field(default_factory=frozenset)
    acs: frozenset[int] = field(default_factory=frozenset)
    blocks: frozenset[int] = field(default_factory=frozenset)
    panchayats: frozenset[int] = field(default_factory=frozenset)
    booths: frozenset[int] = field(default_factory=frozenset)
    person_id: int | None = None  # the login's own person: always visible to themselves
    # The highest rank among the posts granting this scope: changing a person needs to outrank every
    # active post they hold, so a booth president cannot edit the state coordinator who lives there.
    rank: int = 0

    @property
    def nothing(self) -> bool:
        return not (
            self.everything
            or self.states
            or self.districts
            or self.acs
            or self.blocks
            or self.panchayats
            or self.booths
        )

    def q(self, prefix: str = "", booth: str = "id") -> Q:
        """The condition "inside one of my subtrees" over ancestor columns named ``<prefix>state_id`` …
        and the booth's own id at ``<prefix><booth>``. Never call with ``everything`` or ``nothing``."""
        condition = Q(pk__in=[])
        for ids, column in (
            (self.states, "state_id"),
            (self.districts, "district_id"),
            (self.acs, "ac_id"),
            (self.blocks, "block_id"),
            (self.panchayats, "panchayat_id"),
            (self.booths, booth),
        ):
            if ids:
                condition |= Q(**{f"{prefix}{column}__in": sorted(ids)})
        return condition

    def booths_q(self) -> Q:
        """The condition on :class:`~sampark.territory.models.Booth` itself."""
        if self.everything:
            return Q()
        return self.q("", "id")

    def contains(self, unit: models.Model) -> bool:
        """Whether a territory unit (state, district, AC, block, panchayat or booth) is in scope."""
        if self.everything:
            return True
        from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

        if isinstance(unit, State):
            return unit.pk in self.states
        if isinstance(unit, District):
            return unit.state_id in self.states or unit.pk in self.districts
        if isinstance(unit, AssemblyConstituency):
            return unit.state_id in self.states or unit.district_id in self.districts or unit.pk in self.acs
        if isinstance(unit, Block):
            return unit.pk in self.blocks or unit.district_id in self.districts or self._state_of(unit)
        if isinstance(unit, Panchayat):
            return (
                unit.pk in self.panchayats
                or (unit.block_id is not None and unit.block_id in self.blocks)
                or unit.district_id in self.districts
                or self._state_of(unit)
            )
        if isinstance(unit, Booth):
            return self.contains_booth(unit)
        raise TypeError(f"not a territory unit: {unit!r}")

    def contains_booth(self, booth: Booth) -> bool:
        if self.everything:
            return True
        return (
            booth.state_id in self.states
            or booth.district_id in self.districts
            or booth.ac_id in self.acs
            or booth.block_id in self.blocks
            or booth.panchayat_id in self.panchayats
            or booth.pk in self.booths
        )

    def _state_of(self, unit: Any) -> bool:
        return bool(self.states) and unit.district.state_id in self.states


NOTHING = Scope()
EVERYTHING = Scope(everything=True)


def scope_for(user: Any, action: Action = Action.VIEW, *, day: datetime.date | None = None) -> Scope:
    """The scope of ``user`` for ``action`` today (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    day = day or timezone.localdate()
    cache: dict[tuple[Action, datetime.date], Scope] = user.__dict__.setdefault("_sampark_scopes", {})
    key = (action, day)
    if key not in cache:
        cache[key] = _compute(user, action, day)
    return cache[key]


def _compute(user: Any, action: Action, day: datetime.date) -> Scope:
    from sampark.people.models import Person, Post

    person_id = Person.objects.filter(user=user).values_list("pk", flat=True).first()
    if person_id is None:
        return NOTHING
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ACTION_MIN_RANK[action]]
    units: dict[str, set[int]] = {
        level: set() for level in ("state", "district", "ac", "block", "panchayat", "booth")
    }
    posts = Post.objects.active(day).filter(person_id=person_id, role__in=roles)
    ranks: list[int] = []
    for role, level, *ids in posts.values_list(
        "role", "level", "state_id", "district_id", "ac_id", "block_id", "panchayat_id", "booth_id"
    ):
        ranks.append(ROLE_RANK[role])
        unit_id = dict(zip(("state", "district", "ac", "block", "panchayat", "booth"), ids, strict=True))[
            level
        ]
        units[level].add(unit_id)
    return Scope(
        states=frozenset(units["state"]),
        districts=frozenset(units["district"]),
        acs=frozenset(units["ac"]),
        blocks=frozenset(units["block"]),
        panchayats=frozenset(units["panchayat"]),
        booths=frozenset(units["booth"]),
        person_id=person_id,
        rank=max(ranks, default=0),
    )


class ScopedQuerySet(models.QuerySet[M], Generic[M]):
    """``visible_to(user_or_scope, action)``: the rows whose place in the tree lies in the scope.

    A row is placed by a booth (``scope_booth_prefix``: the path to a Booth relation, e.g. a person's
    home booth), by its person's posts (``scope_person_path``: the path to the person's id), or — for a
    post — by its own unit columns (``scope_is_post``). People are visible through their booth or any of
    their posts; a login always sees its own person.
    """

    scope_booth_prefix: ClassVar[str | None] = None
    scope_person_path: ClassVar[str] = "person_id"
    scope_is_post: ClassVar[bool] = False

    def visible_to(self, who: Any, action: Action = Action.VIEW) -> Self:
        scope = who if isinstance(who, Scope) else scope_for(who, action)
        if scope.everything:
            return self.all()
        own = scope.person_id is not None and action in (Action.VIEW, Action.SEE_PHONES)
        if scope.nothing:
            # No post (or none left): a login still sees its own person, and nothing else.
            return self.filter(**{self.scope_person_path: scope.person_id}) if own else self.none()
        from sampark.people.models import Post

        today = timezone.localdate()
        from sampark.territory.models import Booth

        # Booth-level posts (nearly all of them) are found through their booth — the booths of a subtree
        # by the booth table's ancestor indexes, their posts by the (booth, role) index; the few posts
        # above booth level by their own copied ancestor columns.
        booths = Booth.objects.filter(scope.booths_q()).values("id")
        # One ``IN (a UNION of index-answered legs)``, never an OR of ``IN (subquery)``s: PostgreSQL
        # cannot use an index for an ``IN`` inside an OR, so it read every row of the table and probed
        # hashed subqueries (a block coordinator's people page scanned all of them: 70-150 ms at 60,000
        # people under load, growing with the registry); a single IN becomes a semi-join that reads
        # only the legs' rows. SQLite answered the OR by a union of index look-ups already.
        # The two kinds of post in the subtree: booth-level ones by their booth, the rest by their own
        # copied ancestor columns. ``order_by()``: a model's default ordering is not allowed in a UNION.
        post_kinds = [
            Post.objects.filter(booth_id__in=booths).order_by(),
            Post.objects.filter(Q(booth_id__isnull=True) & scope.q("", "booth_id")).order_by(),
        ]
        me = scope.person_id if own else None
        legs: list[QuerySet[Any, Any]]
        if self.scope_is_post:
            legs = [posts.values("id") for posts in post_kinds]
            if me is not None:  # a login sees its own posts
                legs.append(Post.objects.filter(person_id=me).order_by().values("id"))
            path = "pk"
        else:
            from sampark.people.models import Person

            # Only active posts place a person: one who left a block's team is no longer that block's
            # to see. The person's own row joins the union when it is visible to them.
            legs = [posts.active(today).values("person_id") for posts in post_kinds]
            if self.scope_booth_prefix is not None:
                legs.insert(0, Person.objects.filter(home_booth_id__in=booths).order_by().values("id"))
            if me is not None:
                legs.append(Person.objects.filter(pk=me).order_by().values("id"))
            path = self.scope_person_path
        condition = Q(**{f"{path}__in": legs[0].union(*legs[1:])})
        if action == Action.CHANGE:
            # Never change someone holding an active post of equal or higher rank.
            peers = [role for role, rank in ROLE_RANK.items() if rank >= scope.rank]
            senior = Post.objects.active(today).filter(
                person_id=OuterRef(self.scope_person_path), role__in=peers
            )
            condition = condition & ~Exists(senior)  # type: ignore[assignment]
        return self.filter(condition)
