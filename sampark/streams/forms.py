"""The new-stream form: name, where (one of the user's own units, or a unit key), which approved items,
and the cadence. It parses and types the input; the rules (the unit inside the user's area, sane
cadence, approved items only, somewhere to publish) are :func:`sampark.streams.services.stream_create`'s.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sampark.content.forms import bootstrap
from sampark.content.models import Item
from sampark.core.text import clean
from sampark.people import coverage

from . import selectors
from .models import Stream

_SEPARATORS = re.compile(r"[\s,;]+")
# A Telegram chat: its numeric id (channels and supergroups are -100…) or a public @username.
_CHAT = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")


class StreamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    unit = forms.ChoiceField(label=_("My area"), required=False)
    unit_key = forms.CharField(
        label=_("Or a unit inside it"),
        required=False,
        max_length=40,
        help_text=_("A unit key, e.g. block:1001, panchayat:5001, booth:1-2"),
    )
    items = forms.ModelMultipleChoiceField(
        label=_("Approved items"),
        queryset=Item.objects.filter(state=Item.State.APPROVED),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("choose at least one item")},
    )
    order = forms.ChoiceField(label=_("Order"), choices=Stream.Order.choices, initial=Stream.Order.ORDERED)
    no_repeat_within = forms.IntegerField(
        label=_("No repeat within (ticks)"),
        min_value=0,
        max_value=1000,
        initial=10,
        help_text=_("Rotating streams: an item comes back only after this many other ticks."),
    )
    min_seconds = forms.IntegerField(label=_("Shortest gap (s)"), min_value=1, max_value=86_400, initial=20)
    max_seconds = forms.IntegerField(label=_("Longest gap (s)"), min_value=1, max_value=86_400, initial=30)
    active_from = forms.TimeField(
        label=_("Active from"),
        initial=datetime.time(6, 0),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        help_text=_("India time. The same start and end: all day."),
    )
    active_until = forms.TimeField(
        label=_("Active until"),
        initial=datetime.time(22, 0),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    to_feed = forms.BooleanField(label=_("Publish to the volunteer feed"), required=False, initial=True)
    telegram_chats = forms.CharField(
        label=_("Telegram channels or groups"),
        required=False,
        max_length=1000,
        help_text=_("Chat ids or @usernames separated by commas, e.g. -1001234567890, @BiharSaathi"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        units = selectors.unit_choices(user)
        self.fields["unit"].choices = [("", _("— choose —")), *units]  # type: ignore[attr-defined]
        if not self.is_bound and len(units) == 1:
            self.initial.setdefault("unit", units[0][0])
        bootstrap(self)

    def clean_items(self) -> list[Item]:
        """The chosen items in the order they were listed on the form (an ordered stream's order)."""
        chosen = {item.pk: item for item in self.cleaned_data["items"]}
        listed = self.data.getlist("items") if hasattr(self.data, "getlist") else self.data.get("items", [])
        order = [int(pk) for pk in listed if str(pk).isdigit()]
        return [chosen[pk] for pk in dict.fromkeys(order) if pk in chosen]

    def clean_telegram_chats(self) -> list[str]:
        chats = [c for c in _SEPARATORS.split(clean(self.cleaned_data.get("telegram_chats") or "")) if c]
        bad = [c for c in chats if not _CHAT.fullmatch(c)]
        if bad:
            raise forms.ValidationError(
                _("not a Telegram chat id or @username: %(chats)s"), params={"chats": ", ".join(bad)}
            )
        return list(dict.fromkeys(chats))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        typed = clean(data.get("unit_key") or "")
        key = typed or data.get("unit") or ""
        field = "unit_key" if typed else "unit"
        if not key:
            self.add_error("unit", _("choose an area or type a unit"))
            return data
        try:
            data["unit_obj"] = coverage.parse_unit(key)
        except coverage.UnknownUnit as exc:
            self.add_error(field, str(exc))
        data["unit_field"] = field
        return data
