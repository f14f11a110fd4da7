"""Admin forms that validate against the editor's scope before a service writes anything."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import coverage
from .models import ROLE_LEVEL, Person, Post
from .scope import Action, scope_for


class PostAddForm(forms.ModelForm):
    """A new post: the unit is typed as ``district:233``, ``block:1001``, ``booth:12-34A`` … and must be of
    the post's level and inside the editor's change scope; ``save_model`` calls ``services.post_assign``."""

    unit = forms.CharField(
        label=_("unit"),
        help_text=_(
            "state, district:<LGD code>, ac:<number>, block:<LGD code>, panchayat:<LGD code> or booth:<code>"
        ),
    )

    user: Any = None  # set by the admin: the editor

    class Meta:
        model = Post
        fields = ("person", "role", "unit", "started_on", "ended_on", "referred_by")

    def clean_person(self) -> Person:
        person = self.cleaned_data["person"]
        if not Person.objects.visible_to(self.user, Action.CHANGE).filter(pk=person.pk).exists():
            raise forms.ValidationError(_("you cannot give a post to this person"))
        return person

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text, role = data.get("unit"), data.get("role")
        if not text or not role:
            return data
        try:
            unit = coverage.parse_unit(text)
        except coverage.UnknownUnit:
            unit = None
        if unit is None or not scope_for(self.user, Action.CHANGE).contains(unit):
            self.add_error("unit", _("no such unit in your area"))
            return data
        if coverage.unit_key(unit).split(":")[0] != ROLE_LEVEL[role]:
            self.add_error("unit", _("this post is held at a different level of the territory"))
            return data
        data["unit_object"] = unit
        return data


class PostChangeForm(forms.ModelForm):
    """An existing post can only be ended (``services.post_end``); history is not rewritten."""

    class Meta:
        model = Post
        fields = ("ended_on",)

    def clean_ended_on(self) -> Any:
        ended_on = self.cleaned_data.get("ended_on")
        if ended_on is None and self.instance.ended_on is not None:
            raise forms.ValidationError(_("an ended post is not reopened: give the post again"))
        return ended_on


class PersonAdminForm(forms.ModelForm):
    """A person's editable details; a new home booth must lie inside the editor's change scope."""

    user: Any = None  # set by the admin: the editor

    class Meta:
        model = Person
        fields = ("name", "birth_date", "age", "gender", "language", "home_booth", "referred_by")

    def clean_home_booth(self) -> Any:
        booth = self.cleaned_data.get("home_booth")
        if booth is None or booth.pk == self.instance.home_booth_id:
            return booth
        if not scope_for(self.user, Action.CHANGE).contains_booth(booth):
            raise forms.ValidationError(_("this booth is outside your area"))
        return booth
