"""Reading the content library: who may use it, the filtered list, an item's history as changes.

Who may write, edit, submit, approve, send back and retire: a superuser, or anyone holding an active
post whose role may broadcast (``Action.BROADCAST``: panchayat coordinators and above) anywhere. The
library is not territorial (a slogan is written once for every area that streams it), so the right is
"may broadcast somewhere", not "inside a unit"; the two-person rule (``services.item_approve``) is what
guards approval. Everyone else — booth presidents and volunteers — reads approved items in their feed,
never the drafts here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from sampark.core.text import clean
from sampark.people.scope import Action, scope_for

from .models import Item, ItemRevision
from .services import ACTIONS, EDITABLE

PER_PAGE = 20
MAX_QUERY = 100


def may_write(user: Any) -> bool:
    """Use the library at all (every page of it): see the module docstring."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser) or not scope_for(user, Action.BROADCAST).nothing


@dataclass(frozen=True, slots=True)
class ItemFilter:
    state: str = ""
    topic: str = ""
    query: str = ""

    def as_params(self) -> dict[str, str]:
        params = {"state": self.state, "topic": self.topic, "q": self.query}
        return {name: value for name, value in params.items() if value}


def item_filter(params: Any) -> ItemFilter:
    """The list's filter from a query string; an unknown state is ignored rather than an error."""
    state = str(params.get("state") or "")
    return ItemFilter(
        state=state if state in Item.State.values else "",
        topic=clean(str(params.get("topic") or ""))[:80],
        query=clean(str(params.get("q") or ""))[:MAX_QUERY],
    )


def items_list(flt: ItemFilter) -> QuerySet[Item]:
    """Items matching ``flt``, last changed first. The search looks in both texts and the hashtags."""
    items = Item.objects.select_related("created_by", "approved_by").order_by("-updated_at", "-id")
    if flt.state:
        items = items.filter(state=flt.state)
    if flt.topic:
        items = items.filter(topic=flt.topic)
    if flt.query:
        items = items.filter(
            Q(text_hi__icontains=flt.query)
            | Q(text_en__icontains=flt.query)
            | Q(hashtags__icontains=flt.query)
        )
    return items


def topics() -> list[str]:
    """Every topic in use, for the filter."""
    return list(
        Item.objects.exclude(topic="").order_by("topic").values_list("topic", flat=True).distinct()[:200]
    )


def item_for(pk: int) -> Item | None:
    return Item.objects.select_related("created_by", "edited_by", "approved_by").filter(pk=pk).first()


def approved_items(query: str = "", *, limit: int = 50, include: list[int] | None = None) -> list[Item]:
    """Approved items matching ``query`` (newest approval first), plus those in ``include`` (already
    chosen on a form) whatever the query — for the stream form's picker."""
    approved = Item.objects.filter(state=Item.State.APPROVED).order_by("-approved_at", "-id")
    chosen = list(approved.filter(pk__in=include or []))
    matching = approved.exclude(pk__in=include or [])
    if query:
        matching = matching.filter(
            Q(text_hi__icontains=query) | Q(text_en__icontains=query) | Q(hashtags__icontains=query)
        )
    return chosen + list(matching[:limit])


# --- history -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass(slots=True)
class RevisionRow:
    revision: ItemRevision
    action_label: str
    changes: list[Change] = field(default_factory=list)


def _labels() -> dict[str, str]:
    fields = {f.name: f for f in Item._meta.fields}
    return {name: str(fields[name].verbose_name) for name in (*EDITABLE, "state")}


def _action_label(action: str) -> str:
    if action == "created":
        return _("created")
    if action == "edited":
        return _("edited")
    return str(ACTIONS.get(action, action))


def _shown(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if name == "state":
        return str(dict(Item.State.choices).get(value, value))
    return str(value)


def history(item: Item) -> list[RevisionRow]:
    """The item's revisions, oldest first, each with the fields it changed from the one before
    (the first lists every field it set), values as the reader reads them."""
    labels = _labels()
    rows = []
    before: dict[str, Any] = {}
    for revision in item.revisions.select_related("by").order_by("number"):
        snapshot = revision.snapshot or {}
        changes = []
        for name in (*EDITABLE, "state"):
            old, new = before.get(name), snapshot.get(name)
            if old == new or (not before and new in ("", False, None)):
                continue
            changes.append(Change(name, labels[name], _shown(name, old), _shown(name, new)))
        rows.append(RevisionRow(revision, _action_label(revision.action), changes))
        before = snapshot
    return rows
