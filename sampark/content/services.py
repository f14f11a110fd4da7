"""Every change to the content library, with its rules (the forms only repeat them for comfort).

- Two people: whoever wrote the item's current text (its writer, or its last editor) cannot approve it.
- A factual claim (e.g. "the government closed 500 schools") needs its source: a link and a note.
- A paid political advertisement needs its MCMC pre-certification number.
- Editing an approved item sends it back to draft: what streams carry is always what was approved.
Each change leaves a revision with a snapshot of the item.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sampark.core.text import clean

from .models import Item, ItemRevision

EDITABLE = (
    "text_hi",
    "text_en",
    "image_url",
    "video_url",
    "link",
    "hashtags",
    "topic",
    "factual_claim",
    "source_url",
    "source_note",
    "ai_generated",
    "election_matter",
    "paid_advertisement",
    "mcmc_certificate",
)
ACTIONS = {
    "submit": gettext_lazy("submit"),
    "approve": gettext_lazy("approve"),
    "send back": gettext_lazy("send back"),
    "retire": gettext_lazy("retire"),
}
MAX_TEXT = 1000  # a slogan or a short post; longer writing belongs on a page the item links to
State = Item.State


class ContentError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _snapshot(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in (*EDITABLE, "state")}


def _revise(item: Item, by: Any, action: str) -> None:
    number = (item.revisions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    ItemRevision.objects.create(item=item, number=number, by=by, action=action, snapshot=_snapshot(item))


def check_rules(item: Item) -> None:
    """Raise :class:`ContentError` (field, reason) for the first rule the item breaks."""
    if not (item.text_hi or item.text_en):
        raise ContentError("text_hi", _("write the slogan in Hindi or English"))
    for name in ("text_hi", "text_en"):
        if len(getattr(item, name)) > MAX_TEXT:
            raise ContentError(name, _("at most %(n)s characters") % {"n": MAX_TEXT})
    for name in ("link", "image_url", "video_url", "source_url"):
        value = getattr(item, name)
        if value and not value.lower().startswith(("https://", "http://")):
            raise ContentError(name, _("links must start with https:// or http://"))
    if item.factual_claim and not (item.source_url and item.source_note):
        raise ContentError("source_url", _("a factual claim needs its source: a link and a note"))
    if item.paid_advertisement and not item.mcmc_certificate:
        raise ContentError(
            "mcmc_certificate", _("a paid political advertisement needs its MCMC certificate number")
        )


def clean_text(value: str) -> str:
    """A slogan's text: each line cleaned (NFC, stray spaces and invisible characters), breaks kept."""
    return "\n".join(clean(line) for line in value.splitlines()).strip()


def _apply(item: Item, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ContentError(sorted(unknown)[0], _("not an editable field"))
    for name, value in fields.items():
        if isinstance(value, str):
            value = clean_text(value) if name.startswith("text") else clean(value)
        setattr(item, name, value)


@transaction.atomic
def item_create(*, by: Any, **fields: Any) -> Item:
    item = Item(created_by=by, edited_by=by)
    _apply(item, fields)
    check_rules(item)
    item.save()
    _revise(item, by, "created")
    return item


@transaction.atomic
def item_update(*, item: Item, by: Any, **fields: Any) -> Item:
    """Change an item; an approved (or retired) one goes back to draft and needs approving again."""
    item = Item.objects.select_for_update().get(pk=item.pk)
    _apply(item, fields)
    check_rules(item)
    item.edited_by = by
    if item.state != State.DRAFT:
        item.state = State.DRAFT
        item.approved_by = None
        item.approved_at = None
    item.save()
    _revise(item, by, "edited")
    return item


def _move(item: Item, by: Any, allowed: tuple[str, ...], to: str, action: str, **extra: Any) -> Item:
    item = Item.objects.select_for_update().get(pk=item.pk)
    if item.state not in allowed:
        raise ContentError(
            "state",
            _("cannot %(action)s an item that is %(state)s")
            % {"action": ACTIONS[action], "state": item.get_state_display()},
        )
    item.state = to
    for name, value in extra.items():
        setattr(item, name, value)
    item.save()
    _revise(item, by, action)
    return item


@transaction.atomic
def item_submit(*, item: Item, by: Any) -> Item:
    """Draft → in review, once it passes the rules."""
    check_rules(Item.objects.get(pk=item.pk))
    return _move(item, by, (State.DRAFT,), State.REVIEW, "submit", review_note="")


@transaction.atomic
def item_approve(*, item: Item, by: Any) -> Item:
    """In review → approved, by someone other than whoever wrote its current text (the writer, or the
    last editor: a reviewer who rewrites an item hands it back to be approved by someone else)."""
    current = Item.objects.select_for_update().get(pk=item.pk)
    if by.pk == current.edited_by_id:
        raise ContentError("approved_by", _("someone else must approve what you wrote or edited"))
    check_rules(current)
    return _move(
        current, by, (State.REVIEW,), State.APPROVED, "approve", approved_by=by, approved_at=timezone.now()
    )


@transaction.atomic
def item_send_back(*, item: Item, by: Any, note: str) -> Item:
    """In review → draft, with the reviewer's note."""
    note = clean(note)
    if not note:
        raise ContentError("review_note", _("say what needs changing"))
    return _move(item, by, (State.REVIEW,), State.DRAFT, "send back", review_note=note[:300])


@transaction.atomic
def item_retire(*, item: Item, by: Any) -> Item:
    """Approved → retired: streams stop carrying it at their next tick."""
    return _move(item, by, (State.APPROVED,), State.RETIRED, "retire")
